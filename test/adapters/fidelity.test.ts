/**
 * The fidelity suite (issue 13): the same Express 5, Express 4 and Koa apps served by node:http
 * (HTTP/1.1, the reference) and by hatchway over HTTP/1.1, h2c and TLS h2, compared field by
 * field. The only differences allowed are the ones the protocols require — each is listed in
 * `WIRE_DIFFERENCES` below and in docs/ADAPTERS.md ("What may differ, and why").
 */
import { request as httpRequest, type IncomingHttpHeaders, type RequestListener } from 'node:http';
import { connect as http2Connect, constants as h2constants } from 'node:http2';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import cookieParser from 'cookie-parser';
import express5 from 'express';
import express4 from 'express4';
import session from 'express-session';
import Koa from 'koa';
import Router from '@koa/router';
import bodyParser from 'koa-bodyparser';
import { fromNodeListener } from '../../adapters/node.ts';
import { testCert } from '../fixtures/tls.ts';
import { start } from '../fixtures/server.ts';
import { listenNative, sendH2, until, type Reply, type Wire } from './side-by-side.ts';

/**
 * What HTTP/2 itself requires to differ from an HTTP/1.1 reply (RFC 9113): no reason phrase
 * (§8.3.2) and no connection-specific fields (§8.2.2) — `connection`, `keep-alive`,
 * `transfer-encoding`. Over HTTP/1.1 nothing may differ but `date`.
 */
const WIRE_DIFFERENCES: Record<Wire, { reason: boolean; fields: string[]; tls: boolean }> = {
  h1: { reason: false, fields: [], tls: false },
  h2c: { reason: true, fields: ['connection', 'keep-alive', 'transfer-encoding'], tls: false },
  h2: { reason: true, fields: ['connection', 'keep-alive', 'transfer-encoding'], tls: true },
};

interface Step {
  name: string;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  /** A request body; an array is sent in parts with no length (chunked on HTTP/1.1). */
  body?: string | string[];
  /** Cookies the previous steps set are sent back (a session). */
  session?: boolean;
}

/** Set-Cookie values that are random per server (session ids): compared with the value masked. */
const RANDOM_COOKIES = ['sid', 'koa.sess'];

function maskCookies(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value : [value]).map((c) => {
    const eq = c.indexOf('=');
    const name = c.slice(0, eq);
    return RANDOM_COOKIES.includes(name) ? `${name}=<random>${c.slice(c.indexOf(';'))}` : c;
  });
}

/** The cookie jar of one client, per host. */
type Jar = Map<string, string>;

function remember(jar: Jar, setCookie: string | string[] | undefined): void {
  for (const c of maskInput(setCookie)) {
    const pair = c.split(';')[0]!;
    const eq = pair.indexOf('=');
    jar.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
}

function maskInput(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** One HTTP/1.1 request over a fresh connection (node's client, which frames an array body as chunked). */
function sendH1(base: string, step: Step, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${step.path}`, { method: step.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, statusMessage: res.statusMessage!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (Array.isArray(step.body)) {
      for (const part of step.body) req.write(part);
      req.end();
    } else req.end(step.body);
  });
}

interface Host {
  wire: Wire;
  base: string;
  ca?: string;
}

function sendStep(host: Host, step: Step, jar: Jar): Promise<Reply> {
  const headers = { ...step.headers };
  if (step.session && jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  if (host.wire === 'h1') return sendH1(host.base, step, headers);
  const body = step.body;
  if (typeof body === 'string' && headers['content-length'] === undefined) headers['content-length'] = String(Buffer.byteLength(body));
  return sendH2(host.base, step.path, { method: step.method ?? 'GET', headers, body, ...(host.ca === undefined ? {} : { ca: host.ca }) });
}

/** Compares a reply with the reference field by field, allowing only the wire's differences. */
function compare(t: Test, wire: Wire, name: string, expected: Reply, got: Reply): void {
  const allowed = WIRE_DIFFERENCES[wire];
  t.equal(got.status, expected.status, `${wire} ${name}: status`);
  if (!allowed.reason) t.equal(got.statusMessage, expected.statusMessage, `${wire} ${name}: reason`);
  const fields = (h: IncomingHttpHeaders) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(h)) {
      if (k === 'date' || allowed.fields.includes(k)) continue;
      out[k] = k === 'set-cookie' ? maskCookies(v) : v;
    }
    return out;
  };
  const gotFields = fields(got.headers);
  // Over TLS the request is secure (`req.secure`, Koa's `ctx.secure`), and cookie libraries mark
  // cookies `Secure` by themselves; the reference is plain HTTP.
  if (allowed.tls && Array.isArray(gotFields['set-cookie'])) gotFields['set-cookie'] = (gotFields['set-cookie'] as string[]).map((c) => c.replace('; secure', ''));
  // Koa answers an unanswered ctx with its reason phrase — over HTTP/2, which has none, with the
  // status code (Koa's respond(): `httpVersionMajor >= 2 ? String(code) : ctx.message`).
  let expectedBody = expected.body;
  const expectedFields = fields(expected.headers);
  if (allowed.reason && expected.body.toString() === expected.statusMessage && got.body.toString() === String(expected.status)) {
    expectedBody = got.body;
    expectedFields['content-length'] = String(got.body.length);
  }
  t.same(gotFields, expectedFields, `${wire} ${name}: fields`);
  t.equal(got.headers.date === undefined, expected.headers.date === undefined, `${wire} ${name}: date on both or neither`);
  const same = got.body.equals(expectedBody);
  t.ok(same, `${wire} ${name}: body (${got.body.length} vs ${expected.body.length} bytes)`);
  if (!same) t.comment(`reference: ${expected.body.subarray(0, 200).toString()}\n${wire}: ${got.body.subarray(0, 200).toString()}`);
}

const cert = testCert();
const dir = await mkdtemp(join(tmpdir(), 'hatchway-fidelity-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const FILE = 'abcdefghij'.repeat(100); // 1000 bytes
await writeFile(join(dir, 'file.txt'), FILE);
await writeFile(join(dir, 'big.bin'), Buffer.alloc(1024 * 1024, 'b'));
const mtime = new Date('2024-01-02T03:04:05Z');
await utimes(join(dir, 'file.txt'), mtime, mtime);
await utimes(join(dir, 'big.bin'), mtime, mtime);

/** Runs `steps` against the reference and each hatchway wire, in order, each with its own cookie jar. */
async function fidelity(t: Test, listener: RequestListener, steps: Step[]): Promise<void> {
  const native = await listenNative(t, listener);
  const plain = await start(t, fromNodeListener(listener));
  const secure = await start(t, fromNodeListener(listener), { tls: { cert: cert.cert, key: cert.key } });
  const hosts: Host[] = [
    { wire: 'h1', base: plain.url },
    { wire: 'h2c', base: plain.url },
    { wire: 'h2', base: secure.url.replace('127.0.0.1', 'localhost'), ca: cert.cert },
  ];
  const reference: Jar = new Map();
  const jars = hosts.map(() => new Map() as Jar);
  for (const step of steps) {
    const expected = await sendStep({ wire: 'h1', base: native.url }, step, reference);
    remember(reference, expected.headers['set-cookie']);
    for (const [i, host] of hosts.entries()) {
      const got = await sendStep(host, step, jars[i]!);
      remember(jars[i]!, got.headers['set-cookie']);
      compare(t, host.wire, step.name, expected, got);
    }
  }
  // A client that stops sending once an early answer (a 413) arrives may close before that answer
  // is flushed on a loaded machine: the adapter then reports the abort, which is not a fidelity gap.
  const logs = [...plain.logs, ...secure.logs].filter((line) => !line.includes('ERR_HATCHWAY_ADAPTER_ABORTED'));
  t.same(logs, [], 'hatchway logged nothing else');
}

const expressSteps: Step[] = [
  { name: 'json body', method: 'POST', path: '/json', headers: { 'content-type': 'application/json' }, body: '{"a":[1,"two"]}' },
  { name: 'json body of unknown length', method: 'POST', path: '/json', headers: { 'content-type': 'application/json' }, body: ['{"a":', '[1,"two"]}'] },
  { name: 'json too large: 413', method: 'POST', path: '/json', headers: { 'content-type': 'application/json' }, body: ['{"a":"', 'x'.repeat(2000), '"}'] },
  { name: 'malformed json: 400', method: 'POST', path: '/json', headers: { 'content-type': 'application/json' }, body: '{"a"' },
  { name: 'unsupported charset: 415', method: 'POST', path: '/json', headers: { 'content-type': 'application/json; charset=latin1' }, body: '{}' },
  { name: 'urlencoded body', method: 'POST', path: '/form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=%C3%A9&b=2' },
  { name: 'text body', method: 'POST', path: '/text', headers: { 'content-type': 'text/plain' }, body: ['one ', 'two'] },
  { name: 'raw body', method: 'POST', path: '/raw', headers: { 'content-type': 'application/octet-stream' }, body: ['\u0000\u0001', '\u00ff'] },
  { name: 'static file', path: '/static/file.txt' },
  { name: 'static range', path: '/static/file.txt', headers: { range: 'bytes=10-19' } },
  { name: 'static suffix range', path: '/static/file.txt', headers: { range: 'bytes=-5' } },
  { name: 'unsatisfiable range: 416', path: '/static/file.txt', headers: { range: 'bytes=5000-6000' } },
  { name: 'static 304 (If-Modified-Since)', path: '/static/file.txt', headers: { 'if-modified-since': new Date('2025-01-01').toUTCString() } },
  { name: 'static HEAD', method: 'HEAD', path: '/static/file.txt' },
  { name: 'static directory redirect', path: '/static' },
  { name: 'session: first visit', path: '/session', session: true },
  { name: 'session: second visit', path: '/session', session: true },
  { name: 'cookies: set (plain and signed)', path: '/cookies/set', session: true },
  { name: 'cookies: read back', path: '/cookies/read', session: true },
  { name: 'router param', path: '/users/42?x=1' },
  { name: 'router error handler', path: '/users/0' },
  { name: 'async error to the error handler', path: '/async-error' },
  { name: 'redirect', path: '/redirect' },
  { name: 'sendFile', path: '/send-file' },
  { name: 'HEAD of a route', method: 'HEAD', path: '/users/42' },
  { name: '404', path: '/nowhere' },
];

function expressApp(express: typeof express5): RequestListener {
  const app = express();
  app.use(cookieParser('cookie secret'));
  app.use(session({ secret: 'session secret', name: 'sid', resave: false, saveUninitialized: false }));
  app.post('/json', express.json({ limit: 1000 }), (req, res) => res.json({ body: req.body as unknown }));
  app.post('/form', express.urlencoded({ extended: false }), (req, res) => res.json({ body: req.body as unknown }));
  app.post('/text', express.text(), (req, res) => res.type('text').send(`text: ${String(req.body)}`));
  app.post('/raw', express.raw(), (req, res) => res.json({ bytes: [...(req.body as Buffer)] }));
  app.use('/static', express.static(dir));
  app.get('/session', (req, res) => {
    const s = req.session as unknown as { views?: number };
    s.views = (s.views ?? 0) + 1;
    res.json({ views: s.views });
  });
  app.get('/cookies/set', (_req, res) => {
    res.cookie('plain', 'p v', { httpOnly: true, path: '/' });
    res.cookie('signed', 'secret', { signed: true, sameSite: 'lax' });
    res.send('set');
  });
  app.get('/cookies/read', (req, res) => res.json({ cookies: req.cookies as unknown, signed: req.signedCookies as unknown }));
  const router = express.Router();
  router.param('id', (req, _res, next, id: string) => {
    if (id === '0') return next(Object.assign(new Error('no user 0'), { status: 404 }));
    (req as unknown as { user: string }).user = `user ${id}`;
    next();
  });
  router.get('/users/:id', (req, res) => res.json({ user: (req as unknown as { user: string }).user, query: req.query }));
  app.use(router);
  app.get('/async-error', (_req, _res, next) => {
    setImmediate(() => next(Object.assign(new Error('later'), { status: 503 })));
  });
  app.get('/redirect', (_req, res) => res.redirect('/users/1'));
  app.get('/send-file', (_req, res) => res.sendFile(join(dir, 'file.txt'), { lastModified: true }));
  app.use(((err, _req, res, _next) => {
    res.status((err as { status?: number }).status ?? 500).json({ error: (err as Error).message });
  }) as express5.ErrorRequestHandler);
  return app;
}

for (const [version, express] of [[5, express5], [4, express4 as unknown as typeof express5]] as const) {
  t.test(`Express ${version}: node:http and hatchway over HTTP/1.1, h2c and TLS h2 answer the same`, async (t) => {
    await fidelity(t, expressApp(express), expressSteps);
  });
}

function koaApp(): RequestListener {
  const koa = new Koa({ keys: ['koa secret'] });
  koa.silent = true;
  koa.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const e = err as { status?: number; message: string };
      ctx.status = e.status ?? 500;
      ctx.body = { error: e.message };
    }
  });
  koa.use(bodyParser({ enableTypes: ['json', 'form', 'text'] }) as unknown as Koa.Middleware);
  const router = new Router();
  router.post('/echo', (ctx) => {
    ctx.body = { body: (ctx.request as unknown as { body: unknown }).body };
  });
  router.get('/cookies/set', (ctx) => {
    ctx.cookies.set('plain', 'p', { httpOnly: true, overwrite: true });
    ctx.cookies.set('signed', 's', { signed: true });
    ctx.body = 'set';
  });
  router.get('/cookies/read', (ctx) => {
    ctx.body = { plain: ctx.cookies.get('plain'), signed: ctx.cookies.get('signed', { signed: true }) };
  });
  router.get('/file', (ctx) => {
    ctx.type = 'text/plain';
    ctx.length = FILE.length;
    ctx.lastModified = mtime;
    ctx.etag = '"file-v1"';
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    ctx.body = createReadStream(join(dir, 'file.txt'));
  });
  router.get('/users/:id', (ctx) => {
    if (ctx.params.id === '0') ctx.throw(404, 'no user 0');
    ctx.body = { user: ctx.params.id, query: ctx.query };
  });
  router.get('/redirect', (ctx) => ctx.redirect('/users/1'));
  koa.use(router.routes());
  koa.use(router.allowedMethods());
  return koa.callback();
}

const koaSteps: Step[] = [
  { name: 'json body', method: 'POST', path: '/echo', headers: { 'content-type': 'application/json' }, body: '{"a":1}' },
  { name: 'json body of unknown length', method: 'POST', path: '/echo', headers: { 'content-type': 'application/json' }, body: ['{"a"', ':1}'] },
  { name: 'form body', method: 'POST', path: '/echo', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=2' },
  { name: 'text body', method: 'POST', path: '/echo', headers: { 'content-type': 'text/plain' }, body: ['te', 'xt'] },
  { name: 'malformed json: 400', method: 'POST', path: '/echo', headers: { 'content-type': 'application/json' }, body: '{"a"' },
  { name: 'a file stream', path: '/file' },
  { name: 'a file: 304', path: '/file', headers: { 'if-none-match': '"file-v1"' } },
  { name: 'a file: HEAD', method: 'HEAD', path: '/file' },
  { name: 'cookies: set', path: '/cookies/set', session: true },
  { name: 'cookies: read back', path: '/cookies/read', session: true },
  { name: 'router', path: '/users/7?q=1' },
  { name: 'router error', path: '/users/0' },
  { name: 'allowedMethods: 405', method: 'PUT', path: '/users/7' },
  { name: 'redirect', path: '/redirect' },
  { name: 'HEAD of a route', method: 'HEAD', path: '/users/7' },
  { name: '404', path: '/nowhere' },
];

t.test('Koa: node:http and hatchway over HTTP/1.1, h2c and TLS h2 answer the same', async (t) => {
  await fidelity(t, koaApp(), koaSteps);
});

t.test('res.sendFile with a client that goes away: the listener sees the same end on every wire', async (t) => {
  const outcomes: string[] = [];
  const app = express5();
  app.get('/big', (_req, res) => {
    res.on('close', () => outcomes.push(`close finished=${res.writableFinished}`));
    res.sendFile(join(dir, 'big.bin'), (err) => outcomes.push(`callback ${(err as { code?: string } | undefined)?.code ?? 'ok'}`));
  });
  const native = await listenNative(t, app);
  const plain = await start(t, fromNodeListener(app));
  const secure = await start(t, fromNodeListener(app), { tls: { cert: cert.cert, key: cert.key } });
  const abortH1 = (base: string) =>
    new Promise<void>((resolve) => {
      const req = httpRequest(`${base}/big`, { agent: false }, (res) => res.once('data', () => (req.destroy(), resolve())));
      req.on('error', () => resolve());
      req.end();
    });
  const abortH2 = (base: string, ca?: string) =>
    new Promise<void>((resolve) => {
      const session = http2Connect(base, ca === undefined ? {} : { ca, servername: 'localhost' });
      const stream = session.request({ ':path': '/big' });
      stream.once('data', () => {
        stream.close(h2constants.NGHTTP2_CANCEL); // as a browser cancels a request
        session.close();
        resolve();
      });
      stream.on('error', () => resolve());
    });
  const runs: Array<[string, () => Promise<void>]> = [
    ['node:http', () => abortH1(native.url)],
    ['h1', () => abortH1(plain.url)],
    ['h2c', () => abortH2(plain.url)],
    ['h2', () => abortH2(secure.url.replace('127.0.0.1', 'localhost'), cert.cert)],
  ];
  const seen: Record<string, string[]> = {};
  for (const [name, abort] of runs) {
    outcomes.length = 0;
    await abort();
    t.ok(await until(() => outcomes.length >= 2), `${name}: the listener heard the end`);
    seen[name] = outcomes.slice().sort();
  }
  t.same(seen.h1, seen['node:http'], 'h1: as on node:http');
  t.same(seen.h2c, seen['node:http'], 'h2c (RST_STREAM CANCEL): as on node:http');
  t.same(seen.h2, seen['node:http'], 'TLS h2 (RST_STREAM CANCEL): as on node:http');
});
