/**
 * The adapters when hatchway serves HTTP/2: an Express app (and Connect, Koa, fetch stacks)
 * gets HTTP/1-shaped objects with httpVersion '2.0', over h2c with prior knowledge and over TLS
 * (ALPN h2), driven by curl — a peer we did not write.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import compression from 'compression';
import express from 'express';
import session from 'express-session';
import helmet from 'helmet';
import { Hono } from 'hono';
import Router from '@koa/router';
import { compose, type App } from '../../src/index.ts';
import { fromConnect, type ConnectMiddleware } from '../../adapters/connect.ts';
import { fromFetch } from '../../adapters/fetch.ts';
import { fromKoa, type KoaMiddleware } from '../../adapters/koa.ts';
import { fromNodeListener } from '../../adapters/node.ts';
import { curl } from '../fixtures/clients.ts';
import { start } from '../fixtures/server.ts';

interface CurlReply {
  version: string;
  status: number;
  headers: Record<string, string[]>;
  body: Buffer;
}

/** Runs curl with `-i` and splits what it printed into status line, headers and body. */
async function fetchWithCurl(t: Test, args: string[], url: string): Promise<CurlReply> {
  const { code, stdout, stderr } = await curl(t, ['-s', '-i', ...args, url]);
  t.equal(code, 0, `curl ${args.join(' ')} exited 0 ${stderr}`);
  const raw = Buffer.from(stdout, 'latin1');
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end).toString('latin1').split('\r\n');
  const [version = '', status = '0'] = head[0]!.split(' ');
  const headers: Record<string, string[]> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    (headers[name] ??= []).push(line.slice(colon + 1).trim());
  }
  return { version, status: Number(status), headers, body: raw.subarray(end + 4) };
}

const dir = await mkdtemp(join(tmpdir(), 'hatchway-h2-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
const tls = { cert: await readFile(join(dir, 'cert.pem')), key: await readFile(join(dir, 'key.pem')) };

function expressApp() {
  const app = express();
  app.set('trust proxy', false);
  app.use(helmet());
  app.use(compression({ threshold: 100 }));
  app.use(session({ secret: 's', name: 'sid', resave: false, saveUninitialized: true, cookie: { secure: 'auto' } }));
  app.get('/who', (req, res) => {
    res.json({ httpVersion: req.httpVersion, protocol: req.protocol, secure: req.secure, hostname: req.hostname, ip: req.ip, path: req.path, query: req.query });
  });
  app.get('/big', (_req, res) => res.type('text').send('a fairly compressible sentence. '.repeat(100)));
  app.post('/echo', express.text(), (req, res) => res.type('text').send(`got ${String(req.body)}`));
  app.get('/stream', (_req, res) => {
    res.type('text');
    res.write('one\n');
    setImmediate(() => res.end('two\n'));
  });
  return app;
}

t.test('an Express app over h2c (prior knowledge) sees HTTP/1-shaped objects', async (t) => {
  const { url } = await start(t, fromNodeListener(expressApp()));
  const who = await fetchWithCurl(t, ['--http2-prior-knowledge'], `${url}/who?x=1`);
  t.equal(who.version, 'HTTP/2');
  t.equal(who.status, 200);
  const host = new URL(url).hostname;
  t.same(JSON.parse(who.body.toString()), { httpVersion: '2.0', protocol: 'http', secure: false, hostname: host, ip: '127.0.0.1', path: '/who', query: { x: '1' } });
  t.ok(who.headers['content-security-policy'], 'helmet');
  t.ok(who.headers['set-cookie']?.[0]?.startsWith('sid='), 'express-session sets its cookie');
  t.notOk(who.headers['set-cookie']?.[0]?.includes('Secure'), 'not Secure over cleartext');
  t.notOk(who.headers.connection, 'no connection-level header on HTTP/2');

  const big = await fetchWithCurl(t, ['--http2-prior-knowledge', '--compressed'], `${url}/big`);
  t.match(big.headers['content-encoding']?.[0], /^(gzip|br)$/, 'compressed (curl offers br and gzip)');
  t.equal(big.body.toString(), 'a fairly compressible sentence. '.repeat(100), 'compression over h2');

  const echo = await fetchWithCurl(t, ['--http2-prior-knowledge', '-H', 'content-type: text/plain', '--data-binary', 'payload'], `${url}/echo`);
  t.equal(echo.body.toString(), 'got payload', 'the request body streams over h2');

  const stream = await fetchWithCurl(t, ['--http2-prior-knowledge'], `${url}/stream`);
  t.equal(stream.body.toString(), 'one\ntwo\n');
});

t.test('an Express app over TLS with ALPN h2 sees an encrypted socket', async (t) => {
  const { url } = await start(t, fromNodeListener(expressApp()), { tls });
  const who = await fetchWithCurl(t, ['--http2', '-k'], `${url}/who`);
  t.equal(who.version, 'HTTP/2');
  t.same(JSON.parse(who.body.toString()), { httpVersion: '2.0', protocol: 'https', secure: true, hostname: new URL(url).hostname, ip: '127.0.0.1', path: '/who', query: {} });
  t.match(who.headers['set-cookie']?.[0], /; Secure/, "express-session's secure: 'auto' sees TLS");
  t.ok(who.headers['strict-transport-security'], 'helmet');
});

t.test('Connect, Koa and fetch stacks over h2', async (t) => {
  const hatchwayApp: App = (environ, startResponse) => {
    startResponse(200, [['content-type', 'text/plain']]);
    return [`app over ${environ.protocol}: ${'x'.repeat(300)}`];
  };
  const router = new Router();
  router.get('/koa', (ctx) => {
    ctx.body = { koa: ctx.req.httpVersion, host: ctx.host };
  });
  const hono = new Hono();
  hono.get('/hono', (c) => c.json({ url: c.req.url }));
  const app: App = (environ, startResponse) => {
    if (environ.pathInfo === '/koa') return koaStack(environ, startResponse);
    if (environ.pathInfo === '/hono') return fromFetch(hono.fetch)(environ, startResponse);
    return connectStack(environ, startResponse);
  };
  const connectStack = compose(fromConnect(helmet() as ConnectMiddleware), fromConnect(compression({ threshold: 10 }) as unknown as ConnectMiddleware))(hatchwayApp);
  const koaStack = compose(fromKoa(router.routes() as unknown as KoaMiddleware))(hatchwayApp);
  const { url } = await start(t, app);
  const c = await fetchWithCurl(t, ['--http2-prior-knowledge', '--compressed'], `${url}/connect`);
  t.equal(c.version, 'HTTP/2');
  t.match(c.headers['content-encoding']?.[0], /^(gzip|br)$/, 'compressed by compression() in a fromConnect layer');
  t.ok(c.headers['x-frame-options']);
  t.match(c.body.toString(), /^app over HTTP\/2: x+$/);
  const k = await fetchWithCurl(t, ['--http2-prior-knowledge'], `${url}/koa`);
  t.same(JSON.parse(k.body.toString()), { koa: '2.0', host: new URL(url).host });
  const h = await fetchWithCurl(t, ['--http2-prior-knowledge'], `${url}/hono`);
  t.same(JSON.parse(h.body.toString()), { url: `${url}/hono` });
});

