/**
 * Whole Express apps (5, and 4) with real npm middleware, hosted natively on node:http and by
 * hatchway through fromNodeListener: the same requests must get the same responses.
 */
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import t from 'tap';
import bodyParser from 'body-parser';
import compression from 'compression';
import cookieParser from 'cookie-parser';
import cors from 'cors';
import express5 from 'express';
import express4 from 'express4';
import session from 'express-session';
import helmet from 'helmet';
import morgan from 'morgan';
import serveStatic from 'serve-static';
import { fromNodeListener } from '../../adapters/node.ts';
import { compareAll, cookieNames, listenHatchway, listenNative, sameReply, send, until, type Case, logSink } from './side-by-side.ts';

type Express = typeof express5;

const dir = await mkdtemp(join(tmpdir(), 'hatchway-express-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const text = 'Hello from a static file.\n'.repeat(40);
await writeFile(join(dir, 'hello.txt'), text);
await writeFile(join(dir, 'index.html'), '<!doctype html><title>index</title>\n');
const mtime = new Date('2024-01-02T03:04:05Z');
await utimes(join(dir, 'hello.txt'), mtime, mtime);
await utimes(join(dir, 'index.html'), mtime, mtime);


interface AppRequest {
  itemId?: number;
  session: Record<string, unknown>;
  cookies: unknown;
  signedCookies: unknown;
}

/** The same app, built with a given Express. */
function build(express: Express, version: 4 | 5, log: Writable) {
  const app = express();
  app.use(morgan('combined', { stream: log }));
  app.use(helmet());
  app.use(cors({ origin: 'https://client.example', credentials: true }));
  app.use(compression({ threshold: 512 }));
  app.use(cookieParser('cookie-secret'));
  app.use(session({ secret: 'session-secret', name: 'sid', resave: false, saveUninitialized: false }));
  app.use('/static', express.static(dir));
  app.use('/files', serveStatic(dir, { index: ['index.html'] }));
  app.use(bodyParser.json());
  app.use(bodyParser.urlencoded({ extended: false }));

  const router = express.Router();
  router.param('id', (req, _res, next, id: string) => {
    if (!/^\d+$/.test(id)) return next(Object.assign(new Error('id must be a number'), { status: 400 }));
    (req as unknown as AppRequest).itemId = Number(id);
    next();
  });
  router.get('/items/:id', (req, res) => {
    res.json({ id: (req as unknown as AppRequest).itemId, query: req.query, ip: req.ip, protocol: req.protocol, host: req.hostname, url: req.originalUrl });
  });
  router.post('/items', (req, res) => {
    res.status(201).location(`/api/items/7`).json({ created: req.body });
  });
  router.get('/boom', () => {
    throw new Error('kaput');
  });
  if (version === 5) {
    router.get('/async-boom', async () => {
      throw Object.assign(new Error('I am a teapot'), { status: 418 });
    });
  }
  app.use('/api', router);

  app.post('/form', (req, res) => {
    res.send(`name=${(req.body as { name: string }).name}`);
  });
  app.get('/cookies', (req, res) => {
    res.cookie('plain', 'one');
    res.cookie('signed', 'two', { signed: true, httpOnly: true });
    const r = req as unknown as AppRequest;
    res.json({ cookies: r.cookies, signed: r.signedCookies });
  });
  app.post('/login', (req, res) => {
    (req as unknown as AppRequest).session.user = (req.body as { user: string }).user;
    res.json({ ok: true });
  });
  app.get('/me', (req, res) => {
    res.json({ user: (req as unknown as AppRequest).session.user ?? null });
  });
  app.get('/big', (_req, res) => {
    res.type('text').send('lorem ipsum dolor sit amet '.repeat(400));
  });
  app.get('/stream', (_req, res) => {
    res.type('text');
    res.write('one\n');
    setImmediate(() => {
      res.write('two\n');
      res.end('three\n');
    });
  });
  app.get('/redirect', (_req, res) => res.redirect(302, '/api/items/1'));
  app.get('/no-content', (_req, res) => res.sendStatus(204));
  app.use((err: { status?: number; message: string }, _req: unknown, res: express5.Response, _next: unknown) => {
    res.status(err.status ?? 500).json({ error: err.message });
  });
  return app;
}

const cases = (version: 4 | 5): Case[] => [
  { name: 'router params and query', path: '/api/items/42?sort=asc&x=1' },
  { name: 'a param handler that fails goes to the error handler', path: '/api/items/abc' },
  { name: 'JSON body', method: 'POST', path: '/api/items', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'widget', tags: ['a', 'b'] }) },
  { name: 'malformed JSON is a 400 from body-parser', method: 'POST', path: '/api/items', headers: { 'content-type': 'application/json' }, body: '{"name":' },
  { name: 'urlencoded body', method: 'POST', path: '/form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=J%C3%BCrgen+Smith' },
  { name: 'a thrown error reaches the error handler', path: '/api/boom' },
  ...(version === 5 ? [{ name: 'a rejected promise reaches the error handler', path: '/api/async-boom' }] : []),
  { name: 'cookies in and out (cookie-parser, signed)', path: '/cookies', headers: { cookie: 'a=1; b=two' } },
  { name: 'compression: gzip when accepted', path: '/big', headers: { 'accept-encoding': 'gzip' } },
  { name: 'compression: identity when not accepted', path: '/big' },
  { name: 'a streamed response', path: '/stream' },
  { name: 'redirect', path: '/redirect' },
  { name: '204', path: '/no-content' },
  { name: 'CORS preflight', method: 'OPTIONS', path: '/api/items', headers: { origin: 'https://client.example', 'access-control-request-method': 'POST' } },
  { name: 'CORS simple request', path: '/api/items/1', headers: { origin: 'https://client.example' } },
  { name: 'static file', path: '/static/hello.txt' },
  { name: 'static file, gzip', path: '/static/hello.txt', headers: { 'accept-encoding': 'gzip' } },
  { name: 'static file, HEAD', method: 'HEAD', path: '/static/hello.txt' },
  { name: 'static file, Range', path: '/static/hello.txt', headers: { range: 'bytes=6-29' } },
  { name: 'static file, unsatisfiable Range', path: '/static/hello.txt', headers: { range: 'bytes=99999-' } },
  { name: 'static file, If-Modified-Since', path: '/static/hello.txt', headers: { 'if-modified-since': new Date('2025-01-01').toUTCString() } },
  { name: 'serve-static, directory redirect', path: '/files' },
  { name: 'serve-static, index', path: '/files/' },
  { name: 'serve-static, missing file falls through to 404', path: '/files/nope.txt' },
  { name: 'no route: finalhandler 404', path: '/nowhere?x=%2F' },
  { name: 'percent-encoded path', path: '/api/items/%34%32' },
];

for (const [version, express] of [[5, express5], [4, express4 as unknown as Express]] as const) {
  t.test(`Express ${version}: the same app answers the same through hatchway`, async (t) => {
    const nativeLog = logSink();
    const hatchLog = logSink();
    const native = await listenNative(t, build(express, version, nativeLog.stream));
    const hatch = await listenHatchway(t, fromNodeListener(build(express, version, hatchLog.stream)));

    const replies = await compareAll(t, native.url, hatch.url, cases(version));

    // Conditional GET with the validators the first static response carried.
    const first = replies[cases(version).findIndex((c) => c.name === 'static file')]![0];
    const etag = String(first.headers.etag);
    t.match(etag, /^W\/"/, 'send gives a weak ETag');
    await compareAll(t, native.url, hatch.url, [
      { name: 'static file, If-None-Match → 304', path: '/static/hello.txt', headers: { 'if-none-match': etag } },
      { name: 'static file, If-Range with the ETag', path: '/static/hello.txt', headers: { range: 'bytes=0-4', 'if-range': etag } },
    ]);

    // Sessions: the id is random per host, everything else must match.
    const login = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'ada' }) };
    const a = await send(native.url, '/login', login);
    const b = await send(hatch.url, '/login', login);
    sameReply(t, a, b, 'session login', { differing: ['set-cookie'] });
    t.same(cookieNames(b, ['sid']), cookieNames(a, ['sid']), 'session login: the same cookie attributes');
    const sid = (r: typeof a) => String(r.headers['set-cookie']![0]!.split(';')[0]);
    const meA = await send(native.url, '/me', { headers: { cookie: sid(a) } });
    const meB = await send(hatch.url, '/me', { headers: { cookie: sid(b) } });
    sameReply(t, meA, meB, 'session read back');
    t.same(JSON.parse(meB.body.toString()), { user: 'ada' });

    // morgan saw the same requests and responses on both.
    t.ok(await until(() => hatchLog.lines.length === nativeLog.lines.length && nativeLog.lines.length > 0), 'both logged every request');
    t.same(hatchLog.lines, nativeLog.lines, 'morgan wrote the same lines');
    t.same(hatch.logs, [], 'hatchway logged no errors');
  });
}
