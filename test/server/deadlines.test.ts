/**
 * The deadlines after the request is read (SPEC §5.7): the response deadline on the app and
 * the send deadline on the transport, on HTTP/1.1 and HTTP/2, with what a real client sees.
 */
import t, { type Test } from 'tap';
import { constants } from 'node:http2';
import type { App } from '../../src/gateway/types.ts';
import { liveRegistrations, upgradeTo, websocket } from '../../src/index.ts';
import type { Server } from '../../src/server/index.ts';
import { start } from '../fixtures/server.ts';
import { RawClient, request, sleep, within } from '../fixtures/clients.ts';
import { exchange, h2peer, session } from '../fixtures/h2.ts';
import WebSocket from 'ws';

/** Resolves once `server` has nothing in flight (false after `ms`). */
async function drained(server: Server, ms = 5_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (server.inFlight > 0) {
    if (Date.now() > end) return false;
    await sleep(20);
  }
  return true;
}

/** An app whose body never yields: before its head (`/hang`) or after one chunk (`/stall`); `closed` counts bodies closed. */
function hanging(): { app: App; closed: () => number } {
  let closed = 0;
  const app: App = (environ, startResponse) => {
    if (environ.pathInfo === '/empty') {
      startResponse(204, []);
      return [];
    }
    if (environ.pathInfo === '/ok') {
      startResponse(200, []);
      return ['ok'];
    }
    let first = environ.pathInfo === '/stall';
    // An iterator whose next() never settles: the runner cannot return() it mid-await (nor
    // could it an async generator's), so close() (SPEC §4.4) is what it calls.
    const iterator = {
      next: () => {
        if (!first) return new Promise<IteratorResult<string>>(() => {});
        first = false;
        startResponse(200, [['content-type', 'text/plain']]);
        return Promise.resolve({ done: false, value: 'first chunk' });
      },
    };
    return {
      [Symbol.asyncIterator]: () => iterator,
      close() {
        closed++;
      },
    } as never;
  };
  return { app, closed: () => closed };
}

async function settled(t: Test, server: Server, closed: () => number, expected: number): Promise<void> {
  t.ok(await drained(server), 'nothing is left in flight');
  for (let i = 0; i < 50 && closed() < expected; i++) await sleep(20);
  t.equal(closed(), expected, 'the body was closed');
  t.equal(liveRegistrations(), 0, 'no registration is left');
}

t.test('HTTP/1.1: an app that never produces its head gets a 504 and the connection closes', async (t) => {
  const { app, closed } = hanging();
  const { port, server, url } = await start(t, app, { responseTimeout: 200 });
  const client = await RawClient.connect(t, port);
  const began = Date.now();
  client.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n');
  t.ok(await client.untilClosed(3_000), 'the server closes the connection');
  t.match(client.received, /^HTTP\/1\.1 504 Gateway Timeout\r\n/);
  t.match(client.received, /\r\nconnection: close\r\n/i);
  t.ok(Date.now() - began >= 190, 'not before the deadline');
  await settled(t, server, closed, 1);
  t.equal((await request(`${url}/ok`)).status, 200, 'the next client is answered');
});

t.test('HTTP/1.1: a body that stalls after the head is aborted: no terminating chunk', async (t) => {
  const { app, closed } = hanging();
  const { port, server } = await start(t, app, { responseTimeout: 200 });
  const client = await RawClient.connect(t, port);
  client.write('GET /stall HTTP/1.1\r\nHost: x\r\n\r\n');
  t.ok(await client.untilClosed(3_000), 'the server closes the connection');
  t.match(client.received, /^HTTP\/1\.1 200 [^]*transfer-encoding: chunked[^]*first chunk\r\n$/i, 'the bytes sent, then nothing');
  t.notMatch(client.received, /0\r\n\r\n$/, 'never the last chunk: the response does not look complete');
  await settled(t, server, closed, 1);
});

t.test('HTTP/1.1: the deadline is between writes, not on the whole response', async (t) => {
  const { url } = await start(
    t,
    (_environ, startResponse) => {
      startResponse(200, []);
      return (async function* () {
        for (let i = 0; i < 8; i++) {
          await sleep(100);
          yield `${i}`;
        }
      })();
    },
    { responseTimeout: 300 },
  );
  const reply = await request(url);
  t.equal(reply.body.toString(), '01234567', 'an 800 ms stream with 100 ms gaps under a 300 ms deadline');
  t.ok(reply.complete);
});

t.test('HTTP/1.1: a client that stops reading is cut off by the send deadline', async (t) => {
  let closed = 0;
  let sent = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const { port, server } = await start(
    t,
    (_environ, startResponse) => {
      startResponse(200, [['content-type', 'application/octet-stream']]);
      return (async function* () {
        try {
          // Endless: only the client's reading (or the deadline) bounds it.
          for (;;) {
            sent += chunk.length;
            yield chunk;
          }
        } finally {
          closed++;
        }
      })();
    },
    { sendTimeout: 300, responseTimeout: 0 },
  );
  const client = await RawClient.connect(t, port);
  client.socket.pause();
  client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  while (sent === 0) await sleep(10);
  t.ok(await drained(server, 5_000), 'the stalled response is given up');
  t.equal(closed, 1, 'the body was closed');
  t.ok(sent < 64 * 1024 * 1024, `the server stopped producing (${sent} bytes)`);
  client.socket.resume();
  t.ok(await client.untilClosed(3_000), 'the connection is closed');
  t.ok(client.received.length < sent + 1024, 'the client got part of the body');
  t.notMatch(client.received.slice(-7), /0\r\n\r\n$/, 'not the last chunk');
});

t.test('HTTP/2: a stream whose app never answers gets a 504; its sibling and the idle sweep are unaffected', async (t) => {
  const { app, closed } = hanging();
  const { server, url } = await start(t, app, { responseTimeout: 200, sessionIdleTimeout: 300 });
  const s = await session(t, url);
  const goaway = within(new Promise((resolve) => s.once('goaway', resolve)), 5_000);
  const [hung, stalled, ok] = await Promise.all([
    exchange(s, { ':path': '/hang' }),
    exchange(s, { ':path': '/stall' }),
    exchange(s, { ':path': '/ok' }),
  ]);
  t.equal(hung.status, 504, '504 before the commit');
  t.equal(hung.rstCode, constants.NGHTTP2_NO_ERROR);
  t.equal(stalled.status, 200);
  t.equal(stalled.body.toString(), 'first chunk');
  t.equal(stalled.rstCode, constants.NGHTTP2_INTERNAL_ERROR, 'RST_STREAM after the commit');
  t.equal(ok.body.toString(), 'ok', 'the sibling stream is answered');
  await settled(t, server, closed, 2);
  t.equal(await goaway, constants.NGHTTP2_NO_ERROR, 'the session still reaches its idle GOAWAY');
});

t.test('HTTP/2: a reader at zero window gets RST_STREAM after the send deadline; the connection goes on', async (t) => {
  let closed = 0;
  const { app } = hanging();
  const { port, server } = await start(
    t,
    (environ, startResponse) => {
      if (environ.pathInfo !== '/big') return app(environ, startResponse);
      startResponse(200, []);
      return (async function* () {
        try {
          for (;;) yield Buffer.alloc(16 * 1024, 0x62);
        } finally {
          closed++;
        }
      })();
    },
    { sendTimeout: 300 },
  );
  const report = await h2peer(t, port, 'zero-window', ['/big', '/empty']);
  t.match(report.first, [{ event: 'ResponseReceived', stream_id: 1 }, { event: 'StreamReset', stream_id: 1, error_code: constants.NGHTTP2_INTERNAL_ERROR }]);
  t.equal(report.status, 204, 'the next stream on that connection is answered');
  t.ok(await drained(server));
  t.equal(closed, 1, 'the body was closed');
});

t.test('a websocket and an upgradeTo handler are not cut off by the response deadline', async (t) => {
  const ws = await start(t, websocket({ onSocket: (socket) => socket.on('message', (m) => socket.send(m)) }), { responseTimeout: 100 });
  const client = new WebSocket(ws.url.replace('http:', 'ws:'));
  t.teardown(() => client.terminate());
  await new Promise((resolve) => client.once('open', resolve));
  await sleep(400);
  client.send('still here');
  const echoed = await within(new Promise((resolve) => client.once('message', (m) => resolve(String(m)))), 2_000);
  t.equal(echoed, 'still here', 'the websocket lives past the deadline');

  const native = await start(
    t,
    upgradeTo(async (stream) => {
      stream.respond(200, []);
      for (let i = 0; i < 3; i++) {
        await sleep(200);
        stream.write(`${i}`);
      }
      stream.end();
    }),
    { responseTimeout: 100 },
  );
  const s = await session(t, native.url);
  const reply = await exchange(s, { ':path': '/' });
  t.equal(reply.body.toString(), '012', 'the handler streams with gaps longer than the deadline');
  t.equal(reply.rstCode, constants.NGHTTP2_NO_ERROR);
});
