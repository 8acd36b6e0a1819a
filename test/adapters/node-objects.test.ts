/**
 * The adapters' pure rules, in memory: URLs between mounts and environs, header lists between
 * Node's maps and hatchway's lists, handing pre-commit errors to a host; and file bodies
 * through foreign hosts.
 */
import { ServerResponse, IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import express from 'express';
import { fileBody, type App, type Environ } from '../../src/index.ts';
import { toConnect } from '../../adapters/connect.ts';
import { toFetch } from '../../adapters/fetch.ts';
import { toNodeListener } from '../../adapters/node.ts';
import { headersAfter } from '../../adapters/node-objects/request.ts';
import { headersOf, mergeHeaders, nodeHeaders, replaceHeaders } from '../../adapters/node-objects/headers.ts';
import { mountOf } from '../../adapters/node-objects/host.ts';
import { encodePath, environForUrl, rawPaths, relativeUrl } from '../../adapters/node-objects/url.ts';
import { decodePath } from '../../src/protocol/target.ts';
import { listenNative, send } from './side-by-side.ts';

const env = (fields: Partial<Environ>): Environ => ({ method: 'GET', target: '/', scriptName: '', pathInfo: '/', queryString: '', ...fields }) as Environ;

t.test('paths decode and encode between the raw target and the environ', async (t) => {
  t.equal(decodePath('/a%2Fb'), '/a/b');
  t.equal(decodePath('/bad%zz'), undefined, 'malformed percent-encoding');
  t.equal(encodePath('/a b/c?d#e%'), '/a%20b/c%3Fd%23e%25');
  t.equal(encodePath('/lone\ud800'), '/lone%EF%BF%BD', 'a lone surrogate');
});

t.test('the URL a mounted handler sees keeps the raw bytes while they describe the environ', async (t) => {
  t.equal(relativeUrl(env({ target: '/api/a%2Fb?x=1', scriptName: '/api', pathInfo: '/a/b', queryString: 'x=1' })), '/a%2Fb?x=1');
  t.equal(relativeUrl(env({ target: '/api', scriptName: '/api', pathInfo: '' })), '/', 'the mount point itself');
  t.equal(relativeUrl(env({ target: '/old?x', pathInfo: '/new path', queryString: 'y' })), '/new%20path?y', 'a rewritten path is re-encoded');
  t.equal(relativeUrl(env({ method: 'OPTIONS', target: '*', pathInfo: '*' })), '*');
  t.same(rawPaths(env({ target: '/m%61unt/x', scriptName: '/maunt', pathInfo: '/x' })), ['/m%61unt', '/x']);
  t.same(environForUrl(env({ target: '/api/a', scriptName: '/api', pathInfo: '/a' }), '/b%20c?q=2'), { target: '/api/b%20c?q=2', pathInfo: '/b c', queryString: 'q=2' });
});

t.test('mount points from Express, Connect and koa-mount', async (t) => {
  t.equal(mountOf({ url: '/x', originalUrl: '/x' }), undefined, 'not mounted');
  t.same(mountOf({ url: '/b?q', originalUrl: '/api/b?q', baseUrl: '/api' }), { target: '/api/b?q', scriptName: '/api', url: '/b?q' });
  t.same(mountOf({ url: '/b', originalUrl: '/a%20pi/b' }), { target: '/a%20pi/b', scriptName: '/a pi', url: '/b' }, 'Connect: derived from originalUrl');
  t.same(mountOf({ url: '/zzz', originalUrl: '/a/b' }), { target: '/a/b', scriptName: '', url: '/zzz' }, 'a rewritten url is not a mount');
});

t.test('request headers after middleware changed req.headers', async (t) => {
  const original: [string, string][] = [
    ['accept', 'a'],
    ['x-dup', '1'],
    ['x-dup', '2'],
    ['cookie', 'c=1'],
  ];
  const before = { accept: 'a', 'x-dup': '1, 2', cookie: 'c=1' };
  t.equal(headersAfter(original, before, { ...before }), original, 'unchanged: the very same list');
  t.same(headersAfter(original, before, { ...before, accept: 'b' }), [['accept', 'b'], ['x-dup', '1'], ['x-dup', '2'], ['cookie', 'c=1']], 'changed in place');
  t.same(headersAfter(original, before, { accept: 'a', 'x-dup': '1, 2' }), [['accept', 'a'], ['x-dup', '1'], ['x-dup', '2']], 'removed');
  t.same(headersAfter(original, before, { ...before, 'X-New': ['p', 'q'] }), [...original, ['x-new', 'p'], ['x-new', 'q']], 'added, lowercased, arrays split');
  t.same(nodeHeaders([['Cookie', 'a=1'], ['cookie', 'b=2'], ['set-cookie', 'x'], ['set-cookie', 'y'], ['x', '1'], ['x', '2']]), { cookie: 'a=1; b=2', 'set-cookie': ['x', 'y'], x: '1, 2' });
});

t.test("an app's headers merged into a response middleware worked on", async (t) => {
  const res = new ServerResponse(new IncomingMessage(new Socket()));
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Set-Cookie', 'mw=1');
  res.setHeader('Vary', 'Origin');
  res.setHeader('Connection', 'close');
  mergeHeaders(res, [
    ['x-frame-options', 'SAMEORIGIN'],
    ['Set-Cookie', 'app=1'],
    ['Set-Cookie', 'app=2'],
    ['Vary', 'accept-encoding, ORIGIN'],
    ['X-New', 'n'],
  ]);
  t.same(headersOf(res, 200), [
    ['x-frame-options', 'SAMEORIGIN'],
    ['Set-Cookie', 'mw=1'],
    ['Set-Cookie', 'app=1'],
    ['Set-Cookie', 'app=2'],
    ['Vary', 'Origin, accept-encoding'],
    ['X-New', 'n'],
  ], 'replace, except Set-Cookie (append) and Vary (merge); no connection-level field');
  mergeHeaders(res, [['vary', '*']]);
  t.equal(res.getHeader('vary'), '*', 'Vary: * absorbs the rest');
  replaceHeaders(res, [['A', '1'], ['a', '2']]);
  t.same(headersOf(res, 200), [['A', '1'], ['A', '2']]);
  res.setHeader('Upgrade', 'websocket');
  t.same(headersOf(res, 426).at(-1), ['Upgrade', 'websocket'], 'Upgrade only on a 426');
});

t.test('toConnect hands errors before the commit to Express, from sync and async bodies alike', async (t) => {
  const failing = (kind: string): App => (_environ, startResponse) => {
    startResponse(200, []);
    if (kind === 'sync')
      return (function* () {
        yield '';
        throw Object.assign(new Error('sync body failed'), { status: 422 });
      })();
    return (async function* () {
      yield '';
      throw Object.assign(new Error('async body failed'), { status: 423 });
    })();
  };
  const peeked: App = (_environ, startResponse) => {
    startResponse(200, []);
    return (function* () {
      yield 'first;';
      throw Object.assign(new Error('failed while the runner peeked'), { status: 424 });
    })();
  };
  const late: App = (_environ, startResponse) => {
    startResponse(200, []);
    return (async function* () {
      yield 'committed;';
      throw new Error('too late for Express');
    })();
  };
  const ex = express();
  ex.get('/sync', toConnect(failing('sync')));
  ex.get('/async', toConnect(failing('async')));
  ex.get('/peeked', toConnect(peeked));
  ex.get('/late', toConnect(late, { errors: { write: () => {} } }));
  ex.use((err: { status: number; message: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.status).send(err.message);
  });
  const { url } = await listenNative(t, ex);
  const s = await send(url, '/sync');
  t.same([s.status, s.body.toString()], [422, 'sync body failed']);
  const a = await send(url, '/async');
  t.same([a.status, a.body.toString()], [423, 'async body failed']);
  const p = await send(url, '/peeked');
  t.same([p.status, p.body.toString()], [424, 'failed while the runner peeked'], "a sync body's second chunk is still before the commit");
  await t.rejects(send(url, '/late'), 'after the commit the response is aborted');
});

t.test('file bodies through foreign hosts', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hatchway-files-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'f.txt');
  await writeFile(path, '0123456789');
  const app: App = (environ, startResponse) => {
    startResponse(200, [['content-type', 'text/plain']]);
    return environ.pathInfo === '/range' ? fileBody(path, { start: 2, end: 5 }) : fileBody(path);
  };
  const node = await listenNative(t, toNodeListener(app));
  const whole = await send(node.url, '/');
  t.same([whole.body.toString(), whole.headers['content-length']], ['0123456789', '10'], 'node:http, zero-copy pipe');
  t.equal((await send(node.url, '/range')).body.toString(), '2345');
  const ex = express();
  ex.use(toConnect(app));
  const viaExpress = await listenNative(t, ex);
  t.equal((await send(viaExpress.url, '/range')).body.toString(), '2345', 'Express');
  const response = await toFetch(app)(new Request('http://x/range'));
  t.equal(response.headers.get('content-length'), '4');
  t.equal(await response.text(), '2345', 'fetch');
});

t.test("a listener's header block reads back into the app's fields and what it said about framing", async (t) => {
  const { readHead } = await import('../../adapters/node-objects/head.ts');
  const block = 'HTTP/1.1 200 OK\r\nX-A: 1\r\nConnection: X-Hop, keep-alive\r\nX-Hop: 2\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 9\r\nTrailer: X-Sum\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n';
  const head = readHead(block, 200);
  t.same(head.headers, [['X-A', '1'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']], 'order, case and duplicates kept; hop-by-hop and nominated fields and the coded length gone');
  t.equal(head.framed, true);
  t.same(head.codings, ['gzip']);
  t.same(head.trailerNames, ['x-sum']);
  t.same(readHead('HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\n\r\n', 426).headers, [['Upgrade', 'websocket']], 'Upgrade on a 426');
  t.same(readHead('HTTP/1.1 204 No Content\r\n\r\n', 204), { headers: [], framed: false, codings: [], trailerNames: undefined });
});

t.test('transfer codings the gateway cannot undo are refused with a code', async (t) => {
  const { decoderFor } = await import('../../adapters/node-objects/head.ts');
  t.throws(() => decoderFor(['compress']), { code: 'ERR_HATCHWAY_ADAPTER_TRANSFER_CODING' });
  const { gzipSync, deflateSync } = await import('node:zlib');
  const decoder = decoderFor(['deflate', 'gzip']); // deflated, then gzipped
  const out: Buffer[] = [];
  decoder.output.on('data', (c: Buffer) => out.push(c));
  const ended = new Promise((resolve) => decoder.output.on('end', resolve));
  decoder.input.end(gzipSync(deflateSync('two codings')));
  await ended;
  t.equal(Buffer.concat(out).toString(), 'two codings');
});
