/**
 * `environ.signal` and an HTTP/2 handler's `stream.signal` after the request is over (SPEC §2.7,
 * §7.8): a call that completed leaves both unaborted, a client that resets mid-call aborts both
 * — on the native HTTP/2 stream (@grpc/grpc-js over h2c), on the emulated one (curl over
 * HTTP/1.1), for the trailers escape, and after a websocket takeover over HTTP/2 and HTTP/1.1
 * (the request moved: never aborted). The signals are read once the server has nothing in
 * flight, so every close handler has run.
 */
import t, { type Test } from 'tap';
import { request as h1Request } from 'node:http';
import { connect, constants } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import WebSocket from 'ws';
import { PROTO, echo } from '../../examples/grpc/server.ts';
import { acceptWebSocket, interceptHttp2, sendWithTrailers, upgradeTo, type App, type Environ, type Middleware } from '../../src/index.ts';
import type { Server } from '../../src/server/index.ts';
import { start } from '../fixtures/server.ts';
import { curl } from '../fixtures/clients.ts';
import { h2WebSocket } from '../fixtures/h2-ws.ts';
import { h2peer } from '../fixtures/h2.ts';

const definition = loader.loadSync(PROTO, { keepCase: true, defaults: true });
const proto = grpc.loadPackageDefinition(definition) as unknown as {
  hatchway: { example: { Echo: new (address: string, credentials: grpc.ChannelCredentials) => EchoClient } };
};
interface EchoClient extends grpc.Client {
  Say(request: object, callback: (err: grpc.ServiceError | null, reply: { text: string }) => void): void;
  Repeat(request: object): grpc.ClientReadableStream<{ text: string }>;
}

/** The signals one request's code saw: the environ's, and the handler stream's where one ran. */
interface Seen {
  path: string;
  environ: AbortSignal;
  stream?: AbortSignal;
}

function app(seen: Seen[]): App {
  const record: Middleware = (inner) => (environ, startResponse) => {
    seen.push({ path: environ.pathInfo, environ: environ.signal });
    return inner(environ, startResponse);
  };
  const streams = interceptHttp2((handler, environ: Environ) => (stream, env) => {
    seen.find((s) => s.environ === environ.signal)!.stream = stream.signal;
    return handler(stream, env);
  });
  const grpcApp = streams(upgradeTo(echo));
  const slow = async function* () {
    for (let i = 0; i < 50; i++) {
      yield `part ${i}\n`;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return record((environ, startResponse) => {
    if (environ.pathInfo.startsWith('/hatchway.example.Echo/')) return grpcApp(environ, startResponse);
    if (environ.pathInfo === '/ws') return acceptWebSocket(environ, startResponse, { onSocket: (ws) => ws.on('message', (m) => ws.send(String(m))) });
    const body = environ.pathInfo === '/slow-trailers' ? slow() : ['hello\n'];
    return sendWithTrailers(environ, startResponse, { headers: [['content-type', 'text/plain']], names: ['x-done'], body, trailers: () => [['x-done', '1']] });
  });
}

/** Waits (bounded) until nothing is in flight, then one more turn for the close handlers. */
async function settled(server: Server): Promise<void> {
  for (let i = 0; i < 150 && server.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 20));
}

function aborted(seen: Seen[]): { environ: boolean; stream: boolean | undefined }[] {
  return seen.map((s) => ({ environ: s.environ.aborted, stream: s.stream?.aborted }));
}

/** One framed protobuf message for the Echo service (fields as varint/length pairs). */
function framed(fields: [number, string | number][]): Buffer {
  const parts = fields.map(([n, v]) =>
    typeof v === 'string' ? Buffer.concat([Buffer.from([(n << 3) | 2, Buffer.byteLength(v)]), Buffer.from(v)]) : Buffer.from([(n << 3) | 0, v]),
  );
  const message = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

async function started(t: Test): Promise<{ seen: Seen[]; server: Server; port: number; url: string }> {
  const seen: Seen[] = [];
  const { server, port, url } = await start(t, app(seen));
  return { seen, server, port, url };
}

t.test('gRPC unary calls that completed over h2c leave both signals unaborted', async (t) => {
  const { seen, server, port } = await started(t);
  const client = new proto.hatchway.example.Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  for (let i = 0; i < 20; i++) {
    const reply = await new Promise<{ text: string }>((resolve, reject) => client.Say({ text: `n${i}` }, (err, r) => (err ? reject(err) : resolve(r))));
    t.equal(reply.text, `you said: n${i}`);
  }
  await settled(server);
  t.equal(seen.length, 20);
  t.ok(seen.every((s) => s.stream !== undefined), 'every call ran on the native stream');
  t.same(aborted(seen), Array(20).fill({ environ: false, stream: false }), 'no completed call was aborted');
});

t.test('a gRPC call the client cancels mid-stream (RST_STREAM CANCEL) aborts both signals', async (t) => {
  const { seen, server, port } = await started(t);
  const client = new proto.hatchway.example.Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const err = await new Promise<grpc.ServiceError>((resolve) => {
    const call = client.Repeat({ text: 'tick', count: 50, delay_ms: 50 });
    call.once('data', () => call.cancel());
    call.on('error', resolve);
  });
  t.equal(err.code, grpc.status.CANCELLED);
  await settled(server);
  t.same(aborted(seen), [{ environ: true, stream: true }]);
  t.match(seen[0]!.environ.reason, { name: 'AbortError' }, 'the reason is the AbortError abort() gives');
  t.ok(seen[0]!.environ.reason instanceof DOMException);
});

t.test('over HTTP/1.1 (the emulated stream): a completed call is not aborted, a client that leaves is', async (t) => {
  const { seen, server, port, url } = await started(t);
  const say = framed([[1, 'hi']]);
  const res = await new Promise<{ status: number; trailers: NodeJS.Dict<string> }>((resolve, reject) => {
    const req = h1Request(`${url}/hatchway.example.Echo/Say`, { method: 'POST', headers: { 'content-type': 'application/grpc', te: 'trailers' } }, (r) => {
      r.resume();
      r.on('end', () => resolve({ status: r.statusCode!, trailers: r.trailers }));
    });
    req.on('error', reject);
    req.end(say);
  });
  t.same(res, { status: 200, trailers: { 'grpc-status': '0' } });
  // curl hangs up after its first bytes of a long server stream (--max-filesize would not; -m is time).
  const repeat = framed([[1, 'tick'], [2, 50], [3, 50]]);
  await new Promise<void>((resolve) => {
    const req = h1Request(`http://127.0.0.1:${port}/hatchway.example.Echo/Repeat`, { method: 'POST', headers: { 'content-type': 'application/grpc', te: 'trailers' } }, (r) => {
      r.once('data', () => req.destroy());
    });
    req.on('error', () => {});
    req.on('close', resolve);
    req.end(repeat);
  });
  await settled(server);
  t.same(aborted(seen), [
    { environ: false, stream: false },
    { environ: true, stream: true },
  ]);
  t.ok(seen.every((s) => s.stream !== undefined), 'the handler ran emulated, intercepted');
});

t.test('a reset with NO_ERROR mid-response aborts as CANCEL does: an upgradeTo handler and a plain body (Python h2)', async (t) => {
  const seen: Seen[] = [];
  const streaming = upgradeTo(async (stream) => {
    stream.respond(200, [['content-type', 'text/plain']]);
    for (let i = 0; i < 40 && !stream.signal.aborted; i++) {
      stream.write(`part ${i}\n`);
      await new Promise((r) => setTimeout(r, 25));
    }
    stream.end();
  });
  const slow: App = (_environ, startResponse) => {
    startResponse(200, [['content-type', 'text/plain']]);
    return (async function* () {
      for (let i = 0; i < 40; i++) {
        yield `part ${i}\n`;
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
  };
  const record: Middleware = (inner) => (environ, startResponse) => {
    seen.push({ path: environ.pathInfo, environ: environ.signal });
    return inner(environ, startResponse);
  };
  const { server, port } = await start(t, record((environ, startResponse) => (environ.pathInfo === '/h2' ? streaming : slow)(environ, startResponse)));
  for (const [path, code] of [['/h2', 0], ['/h2', 8], ['/plain', 0], ['/plain', 8]] as const) {
    const report = await h2peer(t, port, 'cancel-after-data', [path, code]);
    t.equal(report.data, true, `${path}: data came before the reset (${code})`);
  }
  await settled(server);
  t.same(
    seen.map((s) => `${s.path} ${s.environ.aborted}`),
    ['/h2 true', '/h2 true', '/plain true', '/plain true'],
  );
});

t.test('the trailers escape over h2c: completed is not aborted, a reset mid-body is', async (t) => {
  const { seen, server, url } = await started(t);
  const done = await curl(t, ['-s', '--http2-prior-knowledge', '-H', 'TE: trailers', '-o', '/dev/null', '-w', '%{http_code}', `${url}/hello`]);
  t.equal(done.stdout, '200');
  const session = connect(url);
  session.on('error', () => {});
  t.teardown(() => session.close());
  await new Promise<void>((resolve) => {
    const req = session.request({ ':path': '/slow-trailers', te: 'trailers' });
    req.on('error', () => {});
    req.once('data', () => req.close(constants.NGHTTP2_CANCEL));
    req.on('close', resolve);
  });
  await settled(server);
  t.same(aborted(seen), [
    { environ: false, stream: undefined },
    { environ: true, stream: undefined },
  ]);
});

t.test('a websocket takeover is never an abort: over HTTP/2 (RFC 8441) and over HTTP/1.1', async (t) => {
  const { seen, server, port, url } = await started(t);
  const h2 = await h2WebSocket(t, port, '/ws');
  t.equal(h2.status, 200);
  t.same(h2.messages, ['hello'], 'echoed over the HTTP/2 stream');
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
  ws.on('error', () => {});
  const echoed = await new Promise<string>((resolve) => {
    ws.on('open', () => ws.send('over h1'));
    ws.on('message', (m) => resolve(String(m)));
  });
  t.equal(echoed, 'over h1');
  ws.close(1000);
  await new Promise((resolve) => ws.once('close', resolve));
  await settled(server);
  t.same(aborted(seen), [
    { environ: false, stream: undefined },
    { environ: false, stream: undefined },
  ]);
});
