/**
 * Every bundled middleware in one chain in front of the escape examples (issue 11): a
 * websocket, a trailers response and a push still work where honoured, degrade per the table
 * where a middleware legitimately answers, and the access log records what went on the wire.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import WebSocket from 'ws';
import { acceptWebSocket, associate, compose, sendWithTrailers, type App } from '../../src/index.ts';
import { accessLog, type AccessLogEntry } from '../../middleware/access-log.ts';
import { compression } from '../../middleware/compression.ts';
import { cookies } from '../../middleware/cookies.ts';
import { cors } from '../../middleware/cors.ts';
import { errors } from '../../middleware/errors.ts';
import { limits } from '../../middleware/limits.ts';
import { proxyHeaders } from '../../middleware/proxy-headers.ts';
import { router } from '../../middleware/router.ts';
import { getSession, session } from '../../middleware/session.ts';
import { serveStatic } from '../../middleware/static.ts';
import { start } from '../fixtures/server.ts';
import { curl, request, sleep } from '../fixtures/clients.ts';
import { released } from '../fixtures/holes-chain.ts';

const dir = mkdtempSync(join(tmpdir(), 'hatchway-chain-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'app.css'), 'body { color: teal }\n'.repeat(100));

const routes = router()
  .get('/ws', (environ, startResponse) =>
    acceptWebSocket(environ, startResponse, {
      onSocket: (ws, env) => ws.on('message', (m) => ws.send(`${getSession(env).data.user ?? 'anon'} ${env.remoteAddress}: ${m}`)),
    }),
  )
  .get('/sum', (environ, startResponse) =>
    sendWithTrailers(environ, startResponse, {
      headers: [['content-type', 'text/plain']],
      names: ['x-sum'],
      body: ['a'.repeat(2000), 'b'.repeat(2000)],
      trailers: () => [['x-sum', '4000']],
    }),
  )
  .get('/page', (environ, startResponse) => {
    startResponse(200, [['content-type', 'text/html'], ...associate(environ, [{ path: '/app.css', as: 'style' }])]);
    return ['<link rel=stylesheet href=/app.css>'.repeat(50)];
  })
  .get('/login', (environ, startResponse) => {
    getSession(environ).data.user = 'alice';
    startResponse(200, [['content-type', 'text/plain']]);
    return ['in\n'];
  }).app;

async function everything() {
  const lines: string[] = [];
  const app: App = compose(
    errors(),
    accessLog({ format: 'json', sink: (line) => lines.push(line) }),
    proxyHeaders({ trust: 'loopback' }),
    limits({ body: '1kb', headers: 100, timeout: 10_000 }),
    cors({ origin: 'https://app.example', credentials: true }),
    compression({ threshold: 100 }),
    cookies(),
    session({ secrets: ['s3cret'] }),
    serveStatic(dir),
  )(routes);
  return { app, lines };
}

t.test('a websocket behind all of them: honoured, with the session and the proxied address; 426 as a plain GET', async (t) => {
  const { app, lines } = await everything();
  const { url } = await start(t, app);
  const login = await request(`${url}/login`);
  const cookie = String(login.headers['set-cookie']).split(';')[0]!;
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`, { headers: { cookie, 'x-forwarded-for': '203.0.113.7', origin: 'https://app.example' } });
  t.teardown(() => ws.terminate());
  const reply = await new Promise<string>((resolve, reject) => {
    ws.on('open', () => ws.send('hi'));
    ws.on('message', (m) => resolve(String(m)));
    ws.on('error', reject);
  });
  t.equal(reply, 'alice 203.0.113.7: hi', 'the session and proxy-headers reached onSocket');
  const plain = await request(`${url}/ws`, { headers: { 'accept-encoding': 'gzip', origin: 'https://app.example' } });
  t.equal(plain.status, 426, 'not a handshake: the fallback');
  t.equal(plain.headers['access-control-allow-origin'], 'https://app.example', 'the chain’s fields ride the fallback');
  ws.close();
  for (let i = 0; i < 100 && lines.length < 3; i++) await sleep(10);
  const entries = lines.map((l) => JSON.parse(l) as AccessLogEntry);
  t.match(entries.find((e) => e.target === '/ws' && e.status === 101), { source: 'server', escape: { kind: 'websocket', outcome: 'takeover' } }, 'the log has the 101');
  t.match(entries.find((e) => e.target === '/ws' && e.status === 426), { escape: { outcome: 'fallback' } });
  t.equal(await released(), 0);
});

t.test('trailers behind all of them: honoured with TE: trailers (compression leaves the escape alone); dropped without', async (t) => {
  const { app } = await everything();
  const { url } = await start(t, app);
  const withTe = await curl(t, ['-s', '--raw', '-H', 'TE: trailers', '-H', 'Accept-Encoding: gzip', `${url}/sum`]);
  t.match(withTe.stdout, /x-sum: 4000/i, 'the trailer arrived');
  const h2 = await curl(t, ['-s', '--http2-prior-knowledge', '-D', '-', `${url}/sum`]);
  t.match(h2.stdout, /x-sum: 4000/i, 'and over h2c');
  const without = await request(`${url}/sum`);
  t.equal(without.body.length, 4000, 'the body without its trailers');
});

t.test('push degrades to preload behind all of them; the stylesheet is served by static, compressed', async (t) => {
  const { app } = await everything();
  const { url } = await start(t, app);
  const page = await request(`${url}/page`, { headers: { 'accept-encoding': 'gzip' } });
  t.match(String(page.headers.link), /<\/app\.css>; rel=preload; as=style/);
  t.equal(page.headers['content-encoding'], 'gzip');
  t.match(gunzipSync(page.body).toString(), /^<link rel=stylesheet/);
  const css = await request(`${url}/app.css`, { headers: { 'accept-encoding': 'gzip' } });
  t.equal(css.status, 200);
  t.ok(css.headers.etag, 'static sets an ETag');
  const again = await request(`${url}/app.css`, { headers: { 'if-none-match': String(css.headers.etag) } });
  t.equal(again.status, 304);
});

t.test('a middleware that legitimately answers wins over the escape: limits refuses a body, errors shapes it', async (t) => {
  const { app, lines } = await everything();
  const { url } = await start(t, app);
  const big = await request(`${url}/ws`, { method: 'POST', body: 'x'.repeat(5000), headers: { accept: 'application/json' } });
  t.equal(big.status, 413);
  t.notMatch(big.body.toString(), /hw1\./);
  for (let i = 0; i < 100 && lines.length < 1; i++) await sleep(10);
  t.match(JSON.parse(lines.at(-1)!), { status: 413 });
  t.equal(await released(), 0);
});
