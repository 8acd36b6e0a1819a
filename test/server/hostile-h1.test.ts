/**
 * Hostile HTTP/1.x input that used to get through (issue 14), on raw sockets: each case
 * asserts the exact answer, that the next client is answered and that nothing is left open.
 */
import t, { type Test } from 'tap';
import type { App } from '../../src/gateway/types.ts';
import { liveRegistrations, sendWithTrailers, websocket } from '../../src/index.ts';
import type { Server } from '../../src/server/index.ts';
import { start } from '../fixtures/server.ts';
import { RawClient, request, sleep } from '../fixtures/clients.ts';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** Sends `bytes`, waits for the server to close, returns what it answered. */
async function exchange(t: Test, port: number, bytes: string): Promise<string> {
  const client = await RawClient.connect(t, port);
  client.write(bytes);
  t.ok(await client.untilClosed(), 'the server closes the connection');
  return client.received;
}

/** Nothing is left: no connection, no exchange, no registration. */
async function clean(t: Test, server: Server): Promise<void> {
  for (let i = 0; i < 100 && (server.connections > 0 || server.inFlight > 0); i++) await sleep(20);
  t.equal(server.connections, 0, 'no socket is left');
  t.equal(server.inFlight, 0, 'no exchange is left');
  t.equal(liveRegistrations(), 0, 'no registration is left');
}

const hello: App = (environ, startResponse) => {
  startResponse(200, []);
  return [`hello ${environ.pathInfo}`];
};

t.test('an HTTP/1.0 request with Upgrade: websocket is not upgraded (RFC 9110 §7.8)', async (t) => {
  let opened = 0;
  const { port, server } = await start(t, websocket({ onSocket: () => void opened++ }));
  const reply = await exchange(t, port, `GET /chat HTTP/1.0\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  t.match(reply, /^HTTP\/1\.1 426 /, 'the fallback answers: features.websocket is false on HTTP/1.0');
  t.notMatch(reply, /101 Switching/);
  t.equal(opened, 0);
  await clean(t, server);
});

t.test('Transfer-Encoding other than chunked gets a 501, as nginx answers, and the app never runs', async (t) => {
  let calls = 0;
  const { port, server, url } = await start(t, (environ, startResponse) => {
    calls++;
    return hello(environ, startResponse);
  });
  for (const coding of ['identity', 'xchunked', 'gzip']) {
    const reply = await exchange(t, port, `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ${coding}\r\n\r\nabc`);
    t.match(reply, /^HTTP\/1\.1 501 Not Implemented\r\n[^]*connection: close/i, coding);
  }
  t.equal(calls, 0, 'none reached the app');
  t.equal((await request(`${url}/after`)).body.toString(), 'hello /after', 'the next client is answered');
  await clean(t, server);
});

t.test('a duplicate or invalid Host gets a 400 (RFC 9112 §3.2)', async (t) => {
  let calls = 0;
  const { port, server, url } = await start(t, (environ, startResponse) => {
    calls++;
    return hello(environ, startResponse);
  });
  const shapes = [
    'GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a.example\r\nhost: a.example\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a b\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a@b\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: x:80:80\r\n\r\n',
  ];
  for (const shape of shapes) t.match(await exchange(t, port, shape), /^HTTP\/1\.1 400 /, JSON.stringify(shape.split('\r\n').slice(1, 3)));
  t.equal(calls, 0, 'none reached the app');
  const ok = await exchange(t, port, 'GET /ok HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n');
  t.match(ok, /^HTTP\/1\.1 200 /, 'an IP-literal with a port is a valid Host');
  t.equal((await request(`${url}/after`)).status, 200);
  await clean(t, server);
});

t.test('an onDropped callback that throws does not reset the connection: the next request on it is answered', async (t) => {
  const { port, server, logs } = await start(t, (environ, startResponse) =>
    sendWithTrailers(environ, startResponse, {
      names: ['x-sum'],
      body: ['part'],
      trailers: () => [['x-sum', '1']],
      onDropped: () => {
        throw new Error('onDropped failed');
      },
    }),
  );
  const client = await RawClient.connect(t, port);
  // No TE: trailers, so the trailers are dropped and reported.
  client.write('GET /one HTTP/1.1\r\nHost: x\r\n\r\n');
  t.ok(await client.until((r) => r.endsWith('0\r\n\r\n')), 'the first response is complete');
  client.write('GET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.ok(await client.untilClosed());
  t.match(client.received, /^HTTP\/1\.1 200 [^]*0\r\n\r\nHTTP\/1\.1 200 [^]*0\r\n\r\n$/, 'both answered on one connection');
  await clean(t, server);
  void logs;
});

t.test('twenty websocket handshakes whose protocol() throws are answered 500 and leave no socket open', async (t) => {
  const { port, server } = await start(
    t,
    websocket({
      onSocket: () => {},
      protocol: () => {
        throw new Error('protocol() failed');
      },
    }),
  );
  const replies = await Promise.all(
    Array.from({ length: 20 }, () =>
      exchange(t, port, `GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n`),
    ),
  );
  for (const reply of replies) t.match(reply, /^HTTP\/1\.1 500 /);
  await clean(t, server);
});
