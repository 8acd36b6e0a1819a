import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { acceptWebSocket, type App } from '../../src/index.ts';
import { serveStatic, type StaticOptions } from '../../middleware/static.ts';
import { start } from '../fixtures/server.ts';
import { curl, request, within } from '../fixtures/clients.ts';
import { exchange, session } from '../fixtures/h2.ts';

const MARKER = 'TOP-SECRET-OUTSIDE-THE-ROOT';
const dir = mkdtempSync(join(tmpdir(), 'hatchway-static-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const root = join(dir, 'root');
const outside = join(dir, 'outside');
mkdirSync(join(root, 'sub'), { recursive: true });
mkdirSync(join(root, 'empty'));
mkdirSync(outside);
const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
writeFileSync(join(root, 'hello.txt'), 'Hello, static!\n');
writeFileSync(join(root, 'data.bin'), data);
writeFileSync(join(root, 'page.html'), '<p>page</p>');
writeFileSync(join(root, 'sub', 'index.html'), '<h1>index</h1>');
writeFileSync(join(root, '.env'), 'SECRET=1');
writeFileSync(join(root, '%2e%2e'), 'a file literally named %2e%2e');
writeFileSync(join(outside, 'secret.txt'), MARKER);
symlinkSync(join(outside, 'secret.txt'), join(root, 'link-out'));
symlinkSync(outside, join(root, 'dir-out'));
symlinkSync(join(root, 'hello.txt'), join(root, 'link-in'));
// A FIFO outside the root: opening it would block until a writer comes, so a prompt answer
// proves it was never opened.
execFileSync('mkfifo', [join(outside, 'fifo')]);
symlinkSync(join(outside, 'fifo'), join(root, 'fifo-link'));
const mtime = new Date('2024-01-02T03:04:05Z');
utimesSync(join(root, 'hello.txt'), mtime, mtime);

const inner: App = (environ, startResponse) => {
  startResponse(200, [['content-type', 'text/plain']]);
  return [`inner ${environ.method} ${environ.pathInfo}`];
};

async function serve(t: Test, options: StaticOptions = {}, app: App = inner) {
  return start(t, serveStatic(root, options)(app));
}

t.test('a file is sent with its type, length, validators and cache fields', async (t) => {
  const { url } = await serve(t, { maxAge: 60, immutable: true });
  const res = await request(`${url}/hello.txt`);
  t.equal(res.status, 200);
  t.equal(res.body.toString(), 'Hello, static!\n');
  t.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  t.equal(res.headers['content-length'], '15');
  t.equal(res.headers['last-modified'], mtime.toUTCString());
  t.match(res.headers['etag'], /^W\/"f-/);
  t.equal(res.headers['accept-ranges'], 'bytes');
  t.equal(res.headers['cache-control'], 'public, max-age=60, immutable');
  const head = await request(`${url}/hello.txt`, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(head.headers['content-length'], '15', 'HEAD has the length GET would have');
  t.equal(head.body.length, 0);
  const bin = await request(`${url}/data.bin`);
  t.equal(bin.headers['content-type'], 'application/octet-stream');
  t.same(bin.body, data);
});

t.test('conditional requests answer 304 and 412', async (t) => {
  const { url } = await serve(t);
  const first = await request(`${url}/hello.txt`);
  const tag = first.headers['etag'] as string;
  const byTag = await request(`${url}/hello.txt`, { headers: { 'if-none-match': tag } });
  t.equal(byTag.status, 304);
  t.equal(byTag.body.length, 0);
  t.equal(byTag.headers['etag'], tag);
  const byDate = await request(`${url}/hello.txt`, { headers: { 'if-modified-since': mtime.toUTCString() } });
  t.equal(byDate.status, 304);
  const older = await request(`${url}/hello.txt`, { headers: { 'if-modified-since': new Date(mtime.getTime() - 60_000).toUTCString() } });
  t.equal(older.status, 200);
  const otherTag = await request(`${url}/hello.txt`, { headers: { 'if-none-match': '"other"' } });
  t.equal(otherTag.status, 200);
  t.equal((await request(`${url}/hello.txt`, { headers: { 'if-match': '"other"' } })).status, 412);
  t.equal((await request(`${url}/hello.txt`, { headers: { 'if-match': tag } })).status, 200);
  t.equal((await request(`${url}/hello.txt`, { headers: { 'if-unmodified-since': new Date(mtime.getTime() - 60_000).toUTCString() } })).status, 412);
  // curl's own conditional request
  const c = await curl(t, ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `If-None-Match: ${tag}`, `${url}/hello.txt`]);
  t.equal(c.stdout, '304');
});

t.test('curl range requests get 206, multipart for several ranges, 416 past the end', async (t) => {
  const { url } = await serve(t);
  const one = await curl(t, ['-s', '-D', '-', '-r', '10-19', `${url}/data.bin`]);
  t.match(one.stdout, /^HTTP\/1\.1 206 /);
  t.match(one.stdout, /content-range: bytes 10-19\/1000\r\n/i);
  t.match(one.stdout, /content-length: 10\r\n/i);
  t.equal(Buffer.from(one.stdout.split('\r\n\r\n')[1]!, 'latin1').toString('hex'), data.subarray(10, 20).toString('hex'));
  const suffix = await curl(t, ['-s', '-r', '-5', `${url}/data.bin`]);
  t.equal(Buffer.from(suffix.stdout, 'latin1').toString('hex'), data.subarray(995).toString('hex'));
  const open = await curl(t, ['-s', '-r', '990-', `${url}/data.bin`]);
  t.equal(Buffer.from(open.stdout, 'latin1').length, 10);
  const past = await curl(t, ['-s', '-D', '-', '-o', '/dev/null', '-r', '2000-3000', `${url}/data.bin`]);
  t.match(past.stdout, /^HTTP\/1\.1 416 /);
  t.match(past.stdout, /content-range: bytes \*\/1000\r\n/i);
  const multi = await curl(t, ['-s', '-D', '-', '-r', '0-1,100-102', `${url}/data.bin`]);
  t.match(multi.stdout, /content-type: multipart\/byteranges; boundary=/i);
  t.match(multi.stdout, /content-range: bytes 0-1\/1000\r\n/i);
  t.match(multi.stdout, /content-range: bytes 100-102\/1000\r\n/i);
  const ifRange = await request(`${url}/data.bin`, { headers: { range: 'bytes=0-1', 'if-range': '"stale"' } });
  t.equal(ifRange.status, 200, 'a stale If-Range gets the whole file');
  const bogus = await request(`${url}/data.bin`, { headers: { range: 'lines=1-2' } });
  t.equal(bogus.status, 200, 'a unit other than bytes is ignored');
});

t.test('directories redirect to the slash form and serve their index', async (t) => {
  const { url } = await serve(t, { fallthrough: false });
  const redirect = await request(`${url}/sub?x=1&y=2`);
  t.equal(redirect.status, 301);
  t.equal(redirect.headers['location'], '/sub/?x=1&y=2');
  const index = await request(`${url}/sub/`);
  t.equal(index.status, 200);
  t.equal(index.body.toString(), '<h1>index</h1>');
  t.equal(index.headers['content-type'], 'text/html; charset=utf-8');
  t.equal((await request(`${url}/empty/`)).status, 404, 'no listing of a directory without an index');
  const c = await curl(t, ['-s', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', '--path-as-is', `${url}//sub`]);
  t.match(c.stdout, /^301 http:\/\/127\.0\.0\.1:\d+\/sub\/$/, 'a doubled slash never becomes a protocol-relative redirect');
});

t.test('the dotfiles policy ignores, denies or allows', async (t) => {
  const ignore = await serve(t);
  t.equal((await request(`${ignore.url}/.env`)).body.toString(), 'inner GET /.env', 'ignored: the inner app answers');
  const deny = await serve(t, { dotfiles: 'deny' });
  t.equal((await request(`${deny.url}/.env`)).status, 403);
  const allow = await serve(t, { dotfiles: 'allow' });
  t.equal((await request(`${allow.url}/.env`)).body.toString(), 'SECRET=1');
});

t.test('not found falls through by default, or answers 404 and 405', async (t) => {
  const through = await serve(t);
  t.equal((await request(`${through.url}/nope`)).body.toString(), 'inner GET /nope');
  t.equal((await request(`${through.url}/hello.txt`, { method: 'POST' })).body.toString(), 'inner POST /hello.txt');
  const strict = await serve(t, { fallthrough: false });
  t.equal((await request(`${strict.url}/nope`)).status, 404);
  const post = await request(`${strict.url}/hello.txt`, { method: 'POST' });
  t.equal(post.status, 405);
  t.equal(post.headers['allow'], 'GET, HEAD');
  t.equal((await request(`${strict.url}/link-in`)).body.toString(), 'Hello, static!\n', 'a symlink inside the root is served');
});

t.test('traversal attempts get 400 or 404 and nothing outside the root is read', async (t) => {
  const { url } = await serve(t, { fallthrough: false, dotfiles: 'allow' });
  const attempts: [string, number][] = [
    ['/../outside/secret.txt', 400],
    ['/%2e%2e/outside/secret.txt', 400],
    ['/%2E%2E%2Foutside%2Fsecret.txt', 400],
    ['/sub/..%2f..%2foutside/secret.txt', 400],
    ['/%5c..%5coutside%5csecret.txt', 400],
    ['/..%5coutside%5csecret.txt', 400],
    ['/%00', 400],
    ['/hello.txt%00.png', 400],
    ['/%252e%252e/outside/secret.txt', 404],
    ['/%252e%252e%252foutside%252fsecret.txt', 404],
    ['/link-out', 404],
    ['/dir-out/secret.txt', 404],
    ['/dir-out/', 404],
    ['/fifo-link', 404],
  ];
  for (const [path, status] of attempts) {
    const c = await curl(t, ['-s', '--path-as-is', '-w', '\n%{http_code}', `${url}${path}`]);
    const code = Number(c.stdout.slice(c.stdout.lastIndexOf('\n') + 1));
    t.equal(code, status, `${path} → ${status}`);
    t.notMatch(c.stdout, MARKER, `${path} reveals nothing`);
  }
  t.equal((await request(`${url}/%252e%252e`)).body.toString(), 'a file literally named %2e%2e', 'the path is decoded once, never twice');
});

t.test('over HTTP/2 files and ranges are sent the same way', async (t) => {
  const { url } = await serve(t);
  const s = await session(t, url);
  const whole = await exchange(s, { ':path': '/data.bin' });
  t.equal(whole.status, 200);
  t.equal(whole.headers['content-length'], '1000');
  t.same(whole.body, data);
  const part = await exchange(s, { ':path': '/data.bin', range: 'bytes=500-599' });
  t.equal(part.status, 206);
  t.equal(part.headers['content-range'], 'bytes 500-599/1000');
  t.same(part.body, data.subarray(500, 600));
  const head = await exchange(s, { ':path': '/hello.txt', ':method': 'HEAD' });
  t.equal(head.status, 200);
  t.equal(head.body.length, 0);
  const cond = await exchange(s, { ':path': '/data.bin', 'if-none-match': whole.headers['etag'] as string });
  t.equal(cond.status, 304);
});

t.test('a websocket behind static is honoured: its token response passes untouched', async (t) => {
  const ws: App = (environ, startResponse) =>
    acceptWebSocket(environ, startResponse, { onSocket: (socket) => socket.on('message', (m) => socket.send(`echo ${m}`)) });
  const { url } = await serve(t, {}, ws);
  const client = new WebSocket(`${url.replace('http', 'ws')}/socket`);
  t.teardown(() => client.terminate());
  const reply = await within(
    new Promise<string>((resolve, reject) => {
      client.on('open', () => client.send('hi'));
      client.on('message', (m) => resolve(String(m)));
      client.on('error', reject);
    }),
  );
  t.equal(reply, 'echo hi');
});

t.test('passes the hatchway checklist (checkMiddleware), escape-safe', async (t) => {
  const { assertConformance } = await import('../../src/testing.ts');
  const { conformance } = await import('../../middleware/static.ts');
  for (const entry of conformance) await assertConformance(t, entry.make(), { grade: 'escape-safe', name: entry.name });
});
