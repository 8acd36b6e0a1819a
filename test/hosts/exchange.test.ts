/**
 * The layer under the Bun and Deno hosts, in memory on Node: `hostFetch` (the fetch adapter's
 * host hook: respond, onFinished, a host that throws) and `serveExchange` (features from the
 * wire, the escape sink with a runtime's upgrade as `acceptWebSocket`, the fields that ride
 * the switch, the subprotocol, a refused or failed switch, every registration released), and
 * the hosts' entry points outside their runtime.
 */
import t from 'tap';
import { acceptWebSocket, compose, liveRegistrations, sendWithTrailers, type App, type Middleware } from '../../src/index.ts';
import { hostFetch, type FetchExchange } from '../../adapters/fetch.ts';
import { serveExchange, offeredProtocols, requestSignal, type Connection } from '../../src/hosts/exchange.ts';
import type { HostSocket } from '../../src/hosts/socket.ts';
import { bun, serve as serveBun } from '../../src/hosts/bun.ts';
import { deno, serve as serveDeno } from '../../src/hosts/deno.ts';

const quiet = { errors: { write: () => {} } };

const HANDSHAKE = {
  connection: 'Upgrade',
  upgrade: 'websocket',
  'sec-websocket-version': '13',
  'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
};

function connection(upgrade?: Connection['upgrade']): Connection {
  return { protocol: 'HTTP/1.1', remoteAddress: '127.0.0.9', remotePort: 5000, localAddress: '127.0.0.1', localPort: 80, canPing: false, upgrade };
}

const cookie: Middleware = (app) => (environ, startResponse) => app(environ, (status, headers, excInfo) => startResponse(status, [...headers, ['set-cookie', 'sid=1']], excInfo));

t.test('hostFetch hands the host the exchange and runs the app into the sink it returns', async (t) => {
  let seen: FetchExchange | undefined;
  const app: App = (environ, startResponse) => {
    startResponse(200, [['content-type', 'text/plain']]);
    return [`${environ.remoteAddress} ${environ.protocol} ${String(environ['fetch.request'] instanceof Request)}`];
  };
  const handler = hostFetch(app, {
    serve(exchange, peer: string) {
      seen = exchange;
      exchange.environ.remoteAddress = peer;
      return exchange.sink;
    },
  });
  const response = await handler(new Request('http://localhost/x'), '10.0.0.1');
  t.equal(await response!.text(), '10.0.0.1 HTTP/1.1 true');
  t.equal(seen?.request.url, 'http://localhost/x');
  t.throws(() => hostFetch(app, {} as never), { code: 'ERR_HATCHWAY_ADAPTER_INVALID_ARGUMENT' });
  t.throws(() => hostFetch(null as never, { serve: (x) => x.sink }), { code: 'ERR_HATCHWAY_ADAPTER_INVALID_ARGUMENT' });
});

t.test('onFinished fires once when the body ended, was cancelled or aborted, or the host responded', async (t) => {
  const finished: string[] = [];
  const streaming =
    (fail: boolean): App =>
    (_environ, startResponse) => ({
      async *[Symbol.asyncIterator]() {
        startResponse(200, []);
        yield 'a';
        if (fail) throw new Error('mid-stream');
        yield 'b';
      },
    });
  const host = (name: string) => ({
    serve(exchange: FetchExchange) {
      exchange.onFinished(() => finished.push(name));
      return exchange.sink;
    },
  });
  t.equal(await (await hostFetch(streaming(false), host('ended'), quiet)(new Request('http://h/'), undefined))!.text(), 'ab');
  const cancelled = await hostFetch(streaming(false), host('cancelled'), quiet)(new Request('http://h/'), undefined);
  await cancelled!.body!.cancel();
  const aborted = await hostFetch(streaming(true), host('aborted'), quiet)(new Request('http://h/'), undefined);
  await t.rejects(aborted!.text());
  const responded = await hostFetch(streaming(false), {
    serve(exchange: FetchExchange) {
      exchange.onFinished(() => finished.push('responded'));
      exchange.respond(undefined);
      t.equal(exchange.sink.closed, true, 'the sink is closed once the host responded');
      return exchange.sink;
    },
  })(new Request('http://h/'), undefined);
  t.equal(responded, undefined, 'the handler settles with what the host responded');
  t.same(finished.sort(), ['aborted', 'cancelled', 'ended', 'responded']);
});

t.test('a host that throws answers that request 500', async (t) => {
  const lines: string[] = [];
  const handler = hostFetch(
    () => [],
    {
      serve() {
        throw new Error('host bug');
      },
    },
    { errors: { write: (line) => lines.push(line) } },
  );
  const response = await handler(new Request('http://h/'), undefined);
  t.equal(response!.status, 500);
  t.match(lines.join('\n'), /host bug/);
});

t.test('serveExchange: features from the wire, the escape through the runtime upgrade', async (t) => {
  const upgrades: { fields: [string, string][]; protocol: string | undefined; socket: HostSocket }[] = [];
  const answer = new Response(null, { status: 200, headers: { 'x-switched': '1' } });
  let envSeen: Record<string, unknown> = {};
  const app = compose(cookie)((environ, startResponse) => {
    envSeen = { features: environ.features, protocol: environ.protocol, remote: environ.remoteAddress, local: environ.localPort };
    return acceptWebSocket(environ, startResponse, {
      onSocket: (ws) => ws.send('hi'),
      protocol: (offered) => (offered.has('b') ? 'b' : false),
    });
  });
  const handler = hostFetch(app, {
    serve: (exchange) =>
      serveExchange(
        exchange,
        connection((fields, protocol, socket) => {
          upgrades.push({ fields, protocol, socket });
          return answer;
        }),
      ),
  });
  const response = await handler(new Request('http://h/ws', { headers: { ...HANDSHAKE, 'sec-websocket-protocol': 'a, b' } }), undefined);
  t.equal(response, answer, "the runtime's own answer settles the handler");
  t.same(envSeen, { features: { push: false, trailers: false, websocket: true, earlyHints: false }, protocol: 'HTTP/1.1', remote: '127.0.0.9', local: 80 });
  t.equal(upgrades.length, 1);
  t.same(upgrades[0]!.fields, [['set-cookie', 'sid=1']], "the chain's fields ride the switch; the control field and body fields do not");
  t.equal(upgrades[0]!.protocol, 'b');
  t.equal(upgrades[0]!.socket.protocol, 'b');
  t.equal(upgrades[0]!.socket.bufferedAmount, 2, "onSocket's send is queued until the runtime opens the socket");
  t.equal(liveRegistrations(), 0, 'released after onSocket');

  const plain = await handler(new Request('http://h/ws'), undefined);
  t.equal(plain!.status, 426, 'a plain GET gets the fallback');
  t.equal(plain!.headers.get('set-cookie'), 'sid=1', 'which carries the chain’s fields');
  t.equal(upgrades.length, 1, 'and no switch');
});

t.test('a switch the runtime refuses or fails answers 400 or 500, and onSocket never runs', async (t) => {
  let opened = 0;
  const lines: string[] = [];
  const app: App = (environ, startResponse) => acceptWebSocket(environ, startResponse, { onSocket: () => void opened++ });
  const serveWith = (upgrade: Connection['upgrade']) =>
    hostFetch(app, { serve: (exchange) => serveExchange(exchange, connection(upgrade)) }, { errors: { write: (line) => lines.push(line) } });
  const refused = await serveWith(() => false)(new Request('http://h/', { headers: HANDSHAKE }), undefined);
  t.equal(refused!.status, 400);
  const failed = await serveWith(() => {
    throw new Error('runtime said no');
  })(new Request('http://h/', { headers: HANDSHAKE }), undefined);
  t.equal(failed!.status, 500);
  t.match(lines.join('\n'), /runtime said no/);
  t.equal(opened, 0);
  t.equal(liveRegistrations(), 0);
});

t.test('without an upgrade, or over HTTP/2, a handshake is not a websocket here', async (t) => {
  const app: App = (environ, startResponse) => {
    startResponse(200, [['content-type', 'application/json']]);
    return [JSON.stringify(environ.features)];
  };
  const none = hostFetch(app, { serve: (exchange) => serveExchange(exchange, connection(undefined)) });
  t.same(await (await none(new Request('http://h/', { headers: HANDSHAKE }), undefined))!.json(), { push: false, trailers: false, websocket: false, earlyHints: false });
  const h2 = hostFetch(app, { serve: (exchange) => serveExchange(exchange, { ...connection(() => undefined), protocol: 'HTTP/2' }) });
  t.equal(((await (await h2(new Request('http://h/', { headers: HANDSHAKE }), undefined))!.json()) as { websocket: boolean }).websocket, false);
});

t.test('trailers degrade to the body without them: no runtime here sends trailers', async (t) => {
  let dropped = 0;
  const app: App = (environ, startResponse) =>
    sendWithTrailers(environ, startResponse, { body: ['body'], trailers: () => [['x-sum', '1']], onDropped: () => void dropped++ });
  const handler = hostFetch(app, { serve: (exchange) => serveExchange(exchange, connection(undefined)) });
  const response = await handler(new Request('http://h/', { headers: { te: 'trailers' } }), undefined);
  t.equal(await response!.text(), 'body');
  t.equal(dropped, 1);
});

t.test('offeredProtocols reads every Sec-WebSocket-Protocol field', async (t) => {
  t.same([...offeredProtocols([['sec-websocket-protocol', 'a, b'], ['x', 'y'], ['sec-websocket-protocol', ' c ,,']])], ['a', 'b', 'c']);
});

t.test('the hosts outside their runtime', async (t) => {
  t.throws(() => serveBun(() => []), { code: 'ERR_HATCHWAY_HOST_RUNTIME' });
  t.throws(() => serveDeno(() => []), { code: 'ERR_HATCHWAY_HOST_RUNTIME' });
  // The handlers themselves are plain functions: a fake server or info is enough.
  const hello: App = (environ, startResponse) => {
    startResponse(200, []);
    return [`${environ.remoteAddress}:${environ.remotePort} ${environ.localPort}`];
  };
  const handlers = bun(hello);
  const server = { upgrade: () => false, requestIP: () => ({ address: '::1', port: 7 }), port: 8000, hostname: '0.0.0.0', stop: () => {} };
  t.equal(await (await handlers.fetch(new Request('http://h/'), server))!.text(), '::1:7 8000');
  t.equal(handlers.websocket.maxPayloadLength, 4 * 1024 * 1024);
  handlers.websocket.message({ data: undefined } as never, 'ignored'); // a socket this host did not upgrade
  const denoHandler = deno(hello);
  t.equal(await (await denoHandler(new Request('http://h/'), { remoteAddr: { transport: 'tcp', hostname: '10.1.1.1', port: 9 } })).text(), '10.1.1.1:9 0');
});

t.test("requestSignal follows the request's signal from its first use, until detached", async (t) => {
  const lazy = new AbortController();
  let reads = 0;
  const request = {
    get signal() {
      reads++;
      return lazy.signal;
    },
  } as Request;
  const idle = requestSignal(request);
  lazy.abort();
  t.equal(reads, 0, "the request's signal is not even read before anything uses ours (Deno's per-request op)");
  t.equal(idle.aborted, true, 'reading aborted makes it follow, already aborted or not');
  t.equal(reads, 1);
  t.equal(AbortSignal.any([idle]).aborted, true, 'AbortSignal.any over it sees the abort');

  const client = new AbortController();
  const used = requestSignal(new Request('http://h/', { signal: client.signal }));
  let heard = 0;
  used.addEventListener('abort', () => heard++);
  client.abort(new Error('gone'));
  t.equal(heard, 1, 'a listener makes it follow');
  t.match(used.reason, { message: 'gone' });
});

t.test('a host stops following once the response is over, and a client gone before the commit still settles', async (t) => {
  const client = new AbortController();
  let finished = 0;
  const late: App = (environ, startResponse) => ({
    async *[Symbol.asyncIterator]() {
      await new Promise((resolve) => environ.signal.addEventListener('abort', resolve, { once: true }));
      startResponse(200, []);
      yield 'never';
    },
  });
  const handler = hostFetch(late, {
    signal: requestSignal,
    serve(exchange) {
      exchange.onFinished(() => finished++);
      return serveExchange(exchange, connection(undefined));
    },
  }, quiet);
  const pending = handler(new Request('http://h/', { signal: client.signal }), undefined);
  await new Promise((resolve) => setImmediate(resolve));
  client.abort();
  const response = await pending;
  t.equal(response!.status, 503, 'a placeholder no client reads: the handler does not hang');
  t.equal(finished, 1, 'and the host heard the response is over');

  // Deno aborts a request's signal after a response sent in full: not a client that left.
  const after = new AbortController();
  let aborted = false;
  const whole = hostFetch((environ, startResponse) => {
    environ.signal.addEventListener('abort', () => (aborted = true));
    startResponse(200, []);
    return ['done'];
  }, { signal: requestSignal, serve: (exchange) => serveExchange(exchange, connection(undefined)) });
  t.equal(await (await whole(new Request('http://h/', { signal: after.signal }), undefined))!.text(), 'done');
  after.abort();
  t.equal(aborted, false, 'the environ signal stopped following when the response was over');
});
