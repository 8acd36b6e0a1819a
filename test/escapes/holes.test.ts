/**
 * Issue 9 over HTTP/1.1, with real clients (ws, Python websockets, curl, a raw socket): a
 * middleware's "no" always wins, a token never leaves, fallbacks keep the chain's headers.
 * The h2c half is test/e2e/holes-h2.test.ts.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { acceptWebSocket, associate, compose, sendWithTrailers, type App, type Middleware } from '../../src/index.ts';
import { start } from '../fixtures/server.ts';
import { curl, RawClient } from '../fixtures/clients.ts';
import { session } from '../fixtures/chain.ts';
import { allowList, cors, footer, forbidByStatus, lazyNotModified, pyWebSocket, reasonVia, released, splitHead, validators, wsHandshake } from '../fixtures/holes-chain.ts';

const UPGRADE = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
const TOKEN = /hw1\./;
const COOKIE = 'sid=s3ss10n; HttpOnly; Path=/';
const ORIGIN = 'https://app.example';

/** A websocket route that echoes, counting the sockets it was handed; `order` records callbacks. */
function chat(opened: { count: number }, order: string[] = []): App {
  return (environ, startResponse) =>
    acceptWebSocket(environ, startResponse, {
      onSocket(ws) {
        opened.count++;
        order.push('onSocket');
        ws.on('message', (data) => ws.send(`echo ${String(data)}`));
      },
      onRelease: () => order.push('onRelease'),
    });
}

/** A trailers route: three parts, then an x-checksum trailer; its own headers content-type and x-app. */
const SUM = createHash('sha256').update('alpha\nbeta\ngamma\n').digest('hex');
const checksummed: App = (environ, startResponse) => {
  const hash = createHash('sha256');
  return sendWithTrailers(environ, startResponse, {
    headers: [
      ['content-type', 'text/plain'],
      ['x-app', 'checksummed'],
    ],
    names: ['x-checksum'],
    body: (async function* () {
      for (const part of ['alpha\n', 'beta\n', 'gamma\n']) {
        hash.update(part);
        yield part;
      }
    })(),
    trailers: () => [['x-checksum', hash.digest('hex')]],
  });
};

/** A page that associates a stylesheet (a push token in a header; HTTP/1.1 makes it a preload link). */
const page: App = (environ, startResponse) => {
  startResponse(200, [['content-type', 'text/html'], ...associate(environ, [{ path: '/app.css', as: 'style' }], { earlyHints: false })]);
  return ['<link rel=stylesheet href=/app.css>\n'];
};

/** True once `raw` holds one whole response (Content-Length, chunked, or a bodyless status). */
function whole(raw: string): boolean {
  const end = raw.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const head = raw.slice(0, end);
  const body = raw.slice(end + 4);
  if (/^HTTP\/1\.1 (1\d\d|204|304)/.test(head)) return true;
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (length) return body.length >= Number(length[1]);
  return /\r\n0\r\n(.*\r\n)*\r\n$/.test(body) || body.endsWith('0\r\n\r\n');
}

t.test('a middleware that answers a websocket route with 403 by status wins: a real 403, no 101, onSocket never runs', async (t) => {
  const opened = { count: 0 };
  const { url, port } = await start(t, forbidByStatus(chat(opened)));
  const ws = await wsHandshake(url.replace('http', 'ws') + '/chat');
  ws.ws?.close();
  t.equal(ws.status, 403, 'ws: the handshake is refused with the middleware status');
  t.equal(ws.body, 'Forbidden\n', 'ws: the body is the http-errors body for 403, not the token');
  t.match(ws.headers['content-type'] ?? '', /^text\/plain/);
  t.equal(ws.headers['hatchway-escape'], undefined);
  const py = await pyWebSocket(url.replace('http', 'ws') + '/chat');
  t.equal(py.status, 403, 'Python websockets: InvalidStatusCode 403');
  const raw = await RawClient.connect(t, port);
  raw.write(`GET /chat HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`);
  await raw.until(whole, 3_000);
  t.match(raw.received, /^HTTP\/1\.1 403 /, 'raw bytes: the status line is the 403');
  t.notMatch(raw.received, /^HTTP\/1\.1 101/m);
  t.notMatch(raw.received, TOKEN, 'raw bytes: no token anywhere');
  t.equal(opened.count, 0, 'onSocket never ran');
  t.equal(await released(), 0, 'every registration released');
});

t.test('a lazy 304 on a websocket route is sent as a 304, not replaced by the 426', async (t) => {
  const opened = { count: 0 };
  const { url } = await start(t, lazyNotModified()(chat(opened)));
  const res = await curl(t, ['-s', '-i', '-H', 'If-None-Match: "v1"', url + '/chat']);
  const { status, body } = splitHead(res.stdout);
  t.match(status, /^HTTP\/1\.1 304 /);
  t.equal(body, '', 'no body on a 304');
  t.notMatch(res.stdout, TOKEN);
  t.equal(opened.count, 0);
  t.equal(await released(), 0);
});

t.test('a lazy 304 on a trailers route asked with TE: trailers is a 304 with no body and no trailers', async (t) => {
  const { url } = await start(t, lazyNotModified()(checksummed));
  const res = await curl(t, ['-s', '--raw', '-i', '-H', 'TE: trailers', '-H', 'If-None-Match: "v1"', url + '/file']);
  const { status, head, body } = splitHead(res.stdout);
  t.match(status, /^HTTP\/1\.1 304 /, 'the middleware status, not a full 200');
  t.equal(body, '', 'no body, no chunked framing, no trailer field');
  t.notMatch(head, /transfer-encoding/i);
  t.notMatch(res.stdout, TOKEN);
  t.equal(await released(), 0);
});

t.test('a token a middleware puts in the reason phrase never reaches the status line', async (t) => {
  const app: App = (environ, startResponse) => (environ.pathInfo === '/file' ? checksummed : page)(environ, startResponse);
  const { url, port } = await start(t, reasonVia(app));
  const raw = await RawClient.connect(t, port);
  raw.write('GET /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await raw.untilClosed(3_000);
  t.match(raw.received, /^HTTP\/1\.1 200 /, 'push route: the response still goes out');
  t.equal(raw.received.split('\r\n')[0], 'HTTP/1.1 200 OK', 'push route: the standard phrase, not the annotated one');
  t.notMatch(raw.received, TOKEN, 'push route: no token in any byte');
  const res = await curl(t, ['-s', '--raw', '-i', '-H', 'TE: trailers', url + '/file']);
  t.equal(splitHead(res.stdout).status.trimEnd(), 'HTTP/1.1 200 OK', 'trailers route: the standard phrase');
  t.notMatch(res.stdout, TOKEN, 'trailers route: no token in any byte');
  t.equal(await released(), 0);
});

t.test('an allow-list that drops the control header gets the 426 fallback over HTTP/1.1 (contrast for h2c)', async (t) => {
  const opened = { count: 0 };
  const { url } = await start(t, allowList(['cache-control', 'content-type'])(chat(opened)));
  const ws = await wsHandshake(url.replace('http', 'ws') + '/chat');
  t.equal(ws.status, 426);
  t.equal(ws.headers.upgrade, 'websocket');
  t.notMatch(ws.body, TOKEN);
  t.equal(opened.count, 0);
  t.equal(await released(), 0);
});

t.test("a plain GET to a websocket route gets a 426 that carries the chain's Set-Cookie and CORS headers", async (t) => {
  const opened = { count: 0 };
  const { url } = await start(t, compose(session, cors(ORIGIN))(chat(opened)));
  const res = await curl(t, ['-s', '-i', url + '/chat']);
  const { status, head, body } = splitHead(res.stdout);
  t.match(status, /^HTTP\/1\.1 426 /);
  t.match(head, /\r\nupgrade: websocket/i, "the fallback's own headers");
  t.match(head, new RegExp(`\\r\\nset-cookie: ${COOKIE}`, 'i'), 'the session cookie rides the 426');
  t.match(head, new RegExp(`\\r\\naccess-control-allow-origin: ${ORIGIN}`, 'i'), 'the CORS header rides the 426');
  t.equal(head.match(/\r\ncontent-type:/gi)?.length, 1, "a field the fallback sets itself is not carried twice");
  t.notMatch(res.stdout, /hatchway-escape|hw1\./i);
  t.notMatch(body, TOKEN);
  t.equal(await released(), 0);
});

t.test("a trailers response whose token body a middleware altered falls back with the chain's headers", async (t) => {
  const { url } = await start(t, compose(session, cors(ORIGIN), footer())(checksummed));
  const res = await curl(t, ['-s', '--raw', '-i', '-H', 'TE: trailers', url + '/file']);
  const { status, head, body } = splitHead(res.stdout);
  t.match(status, /^HTTP\/1\.1 200 /);
  t.match(body, /alpha\n[\s\S]*beta\n[\s\S]*gamma\n/, "the registration's body (the fallback)");
  t.notMatch(body, /x-checksum/, 'no trailers on the fallback');
  t.match(head, /\r\nx-app: checksummed/i, "the app's own header");
  t.match(head, new RegExp(`\\r\\nset-cookie: ${COOKIE}`, 'i'), 'the session cookie rides the fallback');
  t.match(head, new RegExp(`\\r\\naccess-control-allow-origin: ${ORIGIN}`, 'i'), 'the CORS header rides the fallback');
  t.equal(head.match(/\r\ncontent-type:/gi)?.length, 1, "a field the fallback sets itself is not carried twice");
  t.notMatch(res.stdout, TOKEN);
  // Contrast: with the body left alone and no TE: trailers, the degrade (body without trailers)
  // is decided inside the chain and the headers are there (today too).
  const unaltered = await start(t, compose(session, cors(ORIGIN))(checksummed));
  const plain = splitHead((await curl(t, ['-s', '-i', unaltered.url + '/file'])).stdout);
  t.match(plain.head, /\r\nset-cookie: /i, 'ineligible path: the cookie is there');
  t.match(plain.head, /\r\naccess-control-allow-origin: /i, 'ineligible path: the CORS header is there');
  t.equal(await released(), 0);
});

t.test('onSocket runs before onRelease over HTTP/1.1 (ws client)', async (t) => {
  const opened = { count: 0 };
  const order: string[] = [];
  const { url } = await start(t, chat(opened, order));
  const ws = await wsHandshake(url.replace('http', 'ws') + '/chat');
  t.equal(ws.status, 101);
  const reply = await new Promise<string>((resolve) => {
    ws.ws!.once('message', (d) => resolve(String(d)));
    ws.ws!.send('hi');
  });
  t.equal(reply, 'echo hi');
  await new Promise<void>((resolve) => {
    ws.ws!.once('close', () => resolve());
    ws.ws!.close(1000);
  });
  t.equal(await released(), 0);
  t.same(order, ['onSocket', 'onRelease'], 'the takeover callback first, then the release');
});

t.test('an honoured trailers response carries no ETag, Content-MD5 or Digest computed over the token body', async (t) => {
  const { url } = await start(t, validators(checksummed));
  const res = await curl(t, ['-s', '--raw', '-i', '-H', 'TE: trailers', url + '/file']);
  const { status, head, body } = splitHead(res.stdout);
  t.match(status, /^HTTP\/1\.1 200 /);
  t.match(body, new RegExp(`\\r\\n0\\r\\nx-checksum: ${SUM}\\r\\n\\r\\n$`), 'honoured: the trailer after the last chunk');
  t.match(head, /\r\ntransfer-encoding: chunked/i);
  t.notMatch(head, /\r\netag:/i, 'no ETag of the token body');
  t.notMatch(head, /\r\ncontent-md5:/i, 'no Content-MD5 of the token body');
  t.notMatch(head, /\r\ndigest:/i, 'no Digest of the token body');
  t.notMatch(head, /\r\ncontent-length:/i);
  t.match(head, /\r\ncontent-type: text\/plain/i, "the app's content-type is kept");
  t.match(head, /\r\nx-app: checksummed/i, "the app's own header is kept");
  t.notMatch(res.stdout, TOKEN);
  t.equal(await released(), 0);
});

t.test('a token followed by more bytes is not honoured, even with the control header intact', async (t) => {
  const opened = { count: 0 };
  const routes = footer('+more')((environ, startResponse) => (environ.pathInfo === '/file' ? checksummed : chat(opened))(environ, startResponse));
  const { url } = await start(t, routes);
  const ws = await wsHandshake(url.replace('http', 'ws') + '/chat');
  t.equal(ws.status, 426, 'websocket: body-altered, the fallback');
  t.notMatch(ws.body, TOKEN);
  t.equal(opened.count, 0);
  const res = await curl(t, ['-s', '--raw', '-i', '-H', 'TE: trailers', url + '/file']);
  const { status, body } = splitHead(res.stdout);
  t.match(status, /^HTTP\/1\.1 200 /);
  t.notMatch(body, /x-checksum/, 'trailers: body-altered, the fallback sends no trailers');
  t.match(body, /alpha\n[\s\S]*gamma\n/);
  t.notMatch(res.stdout, TOKEN);
  t.equal(await released(), 0);
});


t.test("an answer keeps the middleware's reason phrase, as its status", async (t) => {
  const refuseNicely: Middleware = (app) => (environ, startResponse) => app(environ, (_status, headers, excInfo) => startResponse('403 Go Away', headers, excInfo));
  const { url } = await start(t, refuseNicely(chat({ count: 0 })));
  const res = await curl(t, ['-s', '-i', `${url}/ws`, '-H', 'Connection: Upgrade', '-H', 'Upgrade: websocket', '-H', 'Sec-WebSocket-Version: 13', '-H', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==']);
  t.match(res.stdout, /^HTTP\/1\.1 403 Go Away\r\n/, 'the status line the client read');
  t.notMatch(res.stdout, TOKEN);
});
