/**
 * `hatchway/host/workerd` end to end (issue 18): the app of fixtures/app.ts (auth, access log,
 * router, the neutral bundled middleware) bundled as a Worker without `nodejs_compat` and run in
 * workerd by miniflare on a loopback port, driven by curl and by two websocket clients (the
 * `ws` package and Python's websockets). Every escape degrades by the table: the websocket
 * route behind auth answers 401 without the token and 426 with it, trailers are dropped, push
 * becomes a preload link, the http2 handler runs emulated; no control field and no token ever
 * reaches a client. The in-memory tests check the host itself (env, ctx, waitUntil) on Node.
 */
import t, { type Test } from 'tap';
import { fileURLToPath } from 'node:url';
import type { App } from '../../src/index.ts';
import { WORKERD_CTX, WORKERD_ENV, waitUntil, worker, type ExecutionContext } from '../../src/hosts/workerd.ts';
import { curl } from '../fixtures/clients.ts';
import { curlRaw, wsPing } from '../fixtures/escape-routes.ts';
import { pythonPeer } from '../fixtures/h2.ts';
import { SECRET } from './fixtures/app.ts';
import { bundleWorker, startWorker, type RunningWorker } from './fixtures/bundle.ts';

t.setTimeout(120_000);

const PY_CLIENT = fileURLToPath(new URL('../fixtures/py/ws_client.py', import.meta.url));
const AUTH = ['-H', `authorization: Bearer ${SECRET}`];

/** Everything a client received, to check no token left. */
const seen: string[] = [];

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** curl -i, with the fields by lowercase name. */
async function get(t: Test, url: string, args: string[] = []): Promise<Reply> {
  const { stdout, code, stderr } = await curl(t, ['-sS', '-i', ...args, url]);
  if (code !== 0) throw new Error(`curl exited ${code}: ${stderr}`);
  seen.push(stdout);
  const end = stdout.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = stdout.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  // curl's output is read as latin1 (clients.ts): the body's bytes, decoded here as UTF-8.
  return { status: Number(statusLine!.split(' ')[1]), headers, body: Buffer.from(stdout.slice(end + 4), 'latin1').toString('utf8') };
}

/** The data of an HTTP/1.1 chunked body (curl --raw), and what follows the last chunk. */
function dechunk(raw: string): { data: string; after: string } {
  const chunks: string[] = [];
  let rest = raw;
  for (let size = parseInt(rest, 16); size > 0; size = parseInt(rest, 16)) {
    const start = rest.indexOf('\r\n') + 2;
    chunks.push(rest.slice(start, start + size));
    rest = rest.slice(start + size + 2);
  }
  return { data: chunks.join(''), after: rest.slice(rest.indexOf('\r\n') + 2) };
}

let running: RunningWorker;
t.before(async () => {
  running = await startWorker(await bundleWorker(), { GREETING: 'hello from env' });
});
t.teardown(() => running?.dispose());
const at = (path: string): string => new URL(path, running.url).href;

t.test('the routes answer curl through the auth, the router and the middleware', async (t) => {
  const root = await get(t, at('/'));
  t.equal(root.status, 200);
  t.equal(root.body, 'hatchway on workerd\n');
  t.equal(root.headers.vary, 'Origin', 'the CORS middleware ran');
  t.equal((await get(t, at('/hello/ada'))).body, 'Hello, ada!\n');
  const echo = await get(t, at('/echo'), ['--data-binary', 'a body ✓', '-H', 'content-type: text/plain; charset=utf-8']);
  t.equal(echo.status, 200);
  t.equal(echo.body, 'a body ✓');
  t.equal(echo.headers['content-type'], 'text/plain; charset=utf-8');
  t.equal((await get(t, at('/missing'))).status, 404);
  const wrong = await get(t, at('/echo'), ['-X', 'DELETE']);
  t.equal(wrong.status, 405);
  t.equal(wrong.headers.allow, 'OPTIONS, POST');
});

t.test('a streamed body arrives chunked, in order', async (t) => {
  const { head, body } = await curlRaw(t, at('/stream'));
  seen.push(head, body);
  t.match(head, /^HTTP\/1\.1 200/);
  t.match(head, /\r\ntransfer-encoding: chunked/i);
  t.notMatch(head, /content-length/i);
  t.equal(dechunk(body).data, 'one\ntwo\nthree\n', 'the chunks spell the body');
});

t.test('the websocket route behind auth: 401 when refused, 426 with the token (no WebSocketPair here)', async (t) => {
  const handshake = ['-H', 'connection: Upgrade', '-H', 'upgrade: websocket', '-H', 'sec-websocket-version: 13', '-H', 'sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ=='];
  const refused = await get(t, at('/ws'), handshake);
  t.equal(refused.status, 401);
  t.equal(refused.headers['www-authenticate'], 'Bearer');
  t.equal(refused.body, 'unauthorized\n');
  const fallback = await get(t, at('/ws'), [...AUTH, ...handshake]);
  t.equal(fallback.status, 426);
  t.equal(fallback.headers['sec-websocket-version'], '13');
  t.equal(fallback.body, 'This resource speaks WebSocket: open it with a WebSocket client.\n');

  const ws = await wsPing(at('/ws'));
  t.equal(ws.status, 401, 'ws: 401 without the token');
  const wsAuthed = await wsPing(at('/ws'), { authorization: `Bearer ${SECRET}` });
  t.equal(wsAuthed.status, 426, 'ws: 426 with it');
  t.equal(wsAuthed.headers['sec-websocket-version'], '13');
  seen.push(JSON.stringify(ws.headers), JSON.stringify(wsAuthed.headers));

  const wsUrl = at('/ws').replace(/^http/, 'ws');
  t.same(await pythonPeer(t, PY_CLIENT, [wsUrl, '']), { status: 401 }, 'Python websockets: 401 without the token');
  t.same(await pythonPeer(t, PY_CLIENT, [wsUrl, `Bearer ${SECRET}`]), { status: 426 }, 'Python websockets: 426 with it');
});

t.test("workerd drops Upgrade from any non-101 response, a bare Worker's too (so the 426 has none)", async (t) => {
  const bare = await startWorker("export default { fetch: () => new Response('no', { status: 426, headers: { upgrade: 'websocket', 'x-kept': '1' } }) };");
  t.teardown(() => bare.dispose());
  const reply = await get(t, new URL('/', bare.url).href);
  t.equal(reply.status, 426);
  t.equal(reply.headers['x-kept'], '1');
  t.equal(reply.headers.upgrade, undefined, 'Upgrade is gone on the way out');
});

t.test('trailers are dropped, push becomes a preload link, the http2 handler runs emulated', async (t) => {
  const { head, body } = await curlRaw(t, at('/trailers'));
  seen.push(head, body);
  t.match(head, /^HTTP\/1\.1 200/);
  const { data, after } = dechunk(body);
  t.equal(data, 'ab', 'the body');
  t.equal(after, '\r\n', 'no trailer after the last chunk, even with TE: trailers');
  t.equal((await get(t, at('/push'))).headers.link, '</style.css>; rel=preload; as=style');
  t.equal((await get(t, at('/h2'))).body, 'http2 handler, stream emulated\n');
});

t.test('a signed cookie and a session survive a round trip', async (t) => {
  const first = await get(t, at('/visit'));
  const cookie = first.headers['set-cookie']!.split(';')[0]!;
  t.equal((await get(t, at('/visit'), ['-H', `cookie: ${cookie}`])).body, 'visit 2\n', 'the JavaScript HMAC verifies its own signature');
  const session = (await get(t, at('/session'))).headers['set-cookie']!.split(';')[0]!;
  t.equal((await get(t, at('/session'), ['-H', `cookie: ${session}`])).body, 'session 2\n');
});

t.test("an app error is the errors middleware's 500, its stack only in the error stream", async (t) => {
  const reply = await get(t, at('/error'), ['-H', 'accept: application/json']);
  t.equal(reply.status, 500);
  t.same(JSON.parse(reply.body), { error: { status: 500, message: 'Internal Server Error' } });
});

t.test('the environ has the bindings and the ExecutionContext; waitUntil reaches ctx.waitUntil', async (t) => {
  const reply = await get(t, at('/__env'));
  t.same(JSON.parse(reply.body), {
    greeting: 'hello from env',
    waitUntil: 'function',
    waited: true,
    features: { push: false, trailers: false, websocket: false, earlyHints: false },
    protocol: 'HTTP/1.1',
  });
});

t.test('the access log saw every request; lint saw no broken rule; no token reached a client', async (t) => {
  const log = JSON.parse((await get(t, at('/__log'))).body) as string[];
  t.ok(log.some((l) => l.includes('"GET /ws HTTP/1.1" 401')), 'the refused websocket is logged');
  t.ok(log.some((l) => l.includes('"GET /ws HTTP/1.1" 426')), 'and the fallback');
  t.ok(log.some((l) => l.includes('"POST /echo HTTP/1.1" 200')));
  t.same(log.filter((l) => l.startsWith('lint: ')), []);
  t.match(log.filter((l) => l.startsWith('error: ')), [/Error: boom/]);
  for (const text of seen) {
    t.notMatch(text, /hatchway-escape/i, 'no control field');
    t.notMatch(text, /hw1\./, 'no token');
  }
});

t.test('worker(): env and ctx reach the environ, under their keys (in memory)', async (t) => {
  const waited: Promise<unknown>[] = [];
  const ctx: ExecutionContext = { waitUntil: (p) => void waited.push(p) };
  const errors: string[] = [];
  const app: App = (environ, startResponse) => {
    waitUntil(environ, Promise.reject(new Error('late failure')));
    startResponse(200, [['content-type', 'text/plain']]);
    return [`${(environ[WORKERD_ENV] as { NAME: string }).NAME} ${environ[WORKERD_CTX] === ctx}`];
  };
  const response = await worker<{ NAME: string }>(app, { errors: { write: (line) => errors.push(line) } }).fetch(new Request('http://w/'), { NAME: 'env' }, ctx);
  t.equal(await response.text(), 'env true');
  t.equal(waited.length, 1, 'handed to ctx.waitUntil');
  await Promise.all(waited);
  t.match(errors, [/waitUntil: Error: late failure/], 'its rejection goes to the error stream');
});

t.test('waitUntil without an ExecutionContext lets the promise run on', async (t) => {
  let ran = false;
  const app: App = (environ, startResponse) => {
    waitUntil(environ, Promise.resolve().then(() => (ran = true)));
    startResponse(204, []);
    return [];
  };
  const { toFetch } = await import('../../adapters/fetch.ts');
  t.equal((await toFetch(app)(new Request('http://w/'))).status, 204);
  await new Promise((resolve) => setTimeout(resolve, 0));
  t.ok(ran);
});
