import t from 'tap';
import { connect } from 'node:net';
import { CONTROL_HEADER, WEBSOCKET_KEY, TRAILERS_KEY, PUSH_KEY, liveRegistrations, type App, type WebSocketExtension } from '../../src/index.ts';
import { start } from '../fixtures/server.ts';

/** Sends raw bytes and reads everything until the server closes. */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString('latin1')));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    socket.write(request);
  });
}

const UPGRADE = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

t.test('a token echoed from one request into another is not honoured and never sent', async (t) => {
  let stolen = '';
  let opened = 0;
  const app: App = (environ, startResponse) => {
    if (environ.pathInfo === '/issue') {
      stolen = (environ[WEBSOCKET_KEY] as WebSocketExtension)({ onSocket: () => void opened++ });
      startResponse(200, [['content-type', 'text/plain']]);
      return ['issued\n'];
    }
    startResponse(200, [[CONTROL_HEADER, `websocket ${stolen}`]]);
    return [stolen];
  };
  const { port } = await start(t, app);
  const first = await raw(port, 'GET /issue HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.notMatch(first, /hw1\./);
  t.ok(stolen);
  const second = await raw(port, `GET /replay HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`);
  t.match(second, /^HTTP\/1\.1 500/);
  t.notOk(second.includes(stolen), 'the token is not in the bytes received');
  t.notMatch(second, /hatchway-escape/i);
  t.equal(opened, 0);
});

t.test('a token used twice is honoured once', async (t) => {
  const app: App = (environ, startResponse) => {
    const token = (environ[PUSH_KEY] as (r: unknown) => string)({ resources: [{ path: '/a.css', as: 'style' }], earlyHints: false });
    startResponse(200, [
      [CONTROL_HEADER, `push ${token}`],
      [CONTROL_HEADER, `push ${token}`],
    ]);
    return ['page'];
  };
  const { port } = await start(t, app);
  const res = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.equal(res.match(/^link: <\/a\.css>; rel=preload; as=style$/gim)?.length, 1, 'one preload link, not two');
  t.notMatch(res, /hw1\./);
});

t.test('a token of the wrong kind is not honoured and never sent', async (t) => {
  let opened = 0;
  const app: App = (environ, startResponse) => {
    // registered as trailers, presented as a websocket
    const token = (environ[TRAILERS_KEY] as (r: unknown) => string)({ body: ['x'], trailers: () => [] });
    (environ[WEBSOCKET_KEY] as WebSocketExtension)({ onSocket: () => void opened++ });
    startResponse(200, [[CONTROL_HEADER, `websocket ${token}`]]);
    return [token];
  };
  const { port } = await start(t, app);
  const res = await raw(port, `GET / HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`);
  t.notMatch(res, /^HTTP\/1\.1 101/);
  t.notMatch(res, /hw1\./);
  t.equal(opened, 0);
});

t.test("a client's token-shaped header is never honoured nor echoed", async (t) => {
  const forged = 'hw1.' + 'Q'.repeat(24);
  // An app that naively reflects every request header and the header's token as its body.
  const reflect: App = (environ, startResponse) => {
    startResponse(
      200,
      environ.headers.filter(([name]) => !['host', 'connection', 'upgrade', 'sec-websocket-version', 'sec-websocket-key'].includes(name)),
    );
    const value = environ.headers.find(([name]) => name === CONTROL_HEADER)?.[1] ?? '';
    return [value.split(' ')[1] ?? ''];
  };
  const { port } = await start(t, reflect);
  const res = await raw(port, `GET / HTTP/1.1\r\nHost: x\r\n${UPGRADE}${CONTROL_HEADER}: websocket ${forged}\r\n\r\n`);
  t.notMatch(res, /^HTTP\/1\.1 101/);
  t.notOk(res.includes(forged), 'the forged token is not reflected');
  t.notMatch(res, /hatchway-escape/i);
});

t.test('a token copied into another header is dropped', async (t) => {
  const app: App = (environ, startResponse) => {
    const token = (environ[PUSH_KEY] as (r: unknown) => string)({ resources: [], earlyHints: false });
    startResponse(200, [['x-debug', `token=${token}`], ['content-type', 'text/plain']]);
    return ['ok'];
  };
  const { port } = await start(t, app);
  const res = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.match(res, /^HTTP\/1\.1 200/);
  t.notMatch(res, /x-debug/i);
  t.notMatch(res, /hw1\./);
});

t.test('a token embedded in a longer body is torn down, not sent', async (t) => {
  const app: App = (environ, startResponse) => {
    const token = (environ[WEBSOCKET_KEY] as WebSocketExtension)({ onSocket() {} });
    startResponse(200, [['content-type', 'text/html']]);
    return (function* () {
      yield '<p>'.padEnd(100, ' ');
      yield `token: ${token.slice(0, 10)}`;
      yield `${token.slice(10)}</p>`;
    })();
  };
  const { port } = await start(t, app);
  const res = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.notMatch(res, /hw1\.[A-Za-z0-9_-]{24}/);
  t.notMatch(res, /\r\n0\r\n\r\n$/, 'the response is not complete');
  t.equal(liveRegistrations(), 0);
});
