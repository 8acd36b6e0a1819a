/**
 * What a Node listener does that `fromNodeListener` used to lose (issue 13): each test states
 * the node:http behaviour and checks hatchway against it, over HTTP/1.1 and HTTP/2.
 */
import { request as httpRequest, type RequestListener } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, deflateSync } from 'node:zlib';
import t from 'tap';
import express from 'express';
import { fromNodeListener } from '../../adapters/node.ts';
import { curl } from '../fixtures/clients.ts';
import { listenHatchway, listenNative, send, sendH2, until, type Reply } from './side-by-side.ts';

/** POSTs `parts` with no Content-Length: chunked on HTTP/1.1. */
function postChunked(base: string, path: string, headers: Record<string, string>, parts: string[]): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method: 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, statusMessage: res.statusMessage!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    for (const part of parts) req.write(part);
    req.end();
  });
}

t.test('an HTTP/2 body of unknown length reaches the body parsers as a chunked one does on node:http', async (t) => {
  const app = express();
  app.post('/json', express.json({ limit: 10 }), (req, res) => res.json({ body: req.body as unknown }));
  app.post('/raw', express.raw({ limit: 10, type: '*/*' }), (req, res) => res.json({ length: (req.body as Buffer).length }));
  app.post('/text', express.text({ limit: 10 }), (req, res) => res.json({ body: req.body as unknown }));
  app.post('/form', express.urlencoded({ limit: 10 }), (req, res) => res.json({ body: req.body as unknown }));
  app.use(((err, _req, res, _next) => {
    res.status(err.status ?? 500).json({ type: err.type, status: err.status });
  }) as express.ErrorRequestHandler);
  const native = await listenNative(t, app);
  const hatch = await listenHatchway(t, fromNodeListener(app));
  const cases: Array<{ path: string; type: string; parts: string[]; status: number }> = [
    { path: '/json', type: 'application/json', parts: ['{"a":', '"a long value"}'], status: 413 },
    { path: '/raw', type: 'application/octet-stream', parts: ['0123456789', 'abcdef'], status: 413 },
    { path: '/text', type: 'text/plain', parts: ['0123456789', 'abcdef'], status: 413 },
    { path: '/form', type: 'application/x-www-form-urlencoded', parts: ['a=0123456789', '&b=1'], status: 413 },
    { path: '/json', type: 'application/json; charset=latin1', parts: ['{}'], status: 415 },
    { path: '/json', type: 'application/json', parts: ['{"a"'], status: 400 },
    { path: '/json', type: 'application/json', parts: ['{"a"', ':1}'], status: 200 },
  ];
  for (const c of cases) {
    const expected = await postChunked(native.url, c.path, { 'content-type': c.type }, c.parts);
    t.equal(expected.status, c.status, `node:http: ${c.path} ${c.type} → ${c.status}`);
    const h1 = await postChunked(hatch.url, c.path, { 'content-type': c.type }, c.parts);
    const h2 = await sendH2(hatch.url, c.path, { method: 'POST', headers: { 'content-type': c.type }, body: c.parts });
    for (const [wire, reply] of [['HTTP/1.1', h1], ['h2c', h2]] as const) {
      t.equal(reply.status, expected.status, `${wire}: ${c.path} ${c.type}: status`);
      t.equal(reply.body.toString(), expected.body.toString(), `${wire}: ${c.path} ${c.type}: body`);
    }
  }
});

t.test('GET /% reaches the hosted Express app, whose static middleware falls through as on node:http', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hatchway-gaps-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'a.txt'), 'file a');
  const app = express();
  app.use(express.static(dir));
  app.use((req, res) => res.status(404).send(`reached ${req.url}`));
  const native = await listenNative(t, app);
  const hatch = await listenHatchway(t, fromNodeListener(app));
  for (const path of ['/%', '/%zz/a.txt', '/a%c3%28', '/a.txt']) {
    const expected = await send(native.url, path);
    const got = await send(hatch.url, path);
    t.equal(got.status, expected.status, `${path}: status`);
    t.equal(got.body.toString(), expected.body.toString(), `${path}: body`);
    const h2 = await sendH2(hatch.url, path);
    t.equal(h2.status, expected.status, `${path} over h2c: status`);
    t.equal(h2.body.toString(), expected.body.toString(), `${path} over h2c: body`);
  }
  t.equal((await send(hatch.url, '/nul%00')).status, 400, 'a NUL is still refused by the server');
});

t.test('a Transfer-Encoding the listener sets: its codings are undone, framing is the server', async (t) => {
  const listener: RequestListener = (req, res) => {
    switch (req.url) {
      case '/chunked-lone':
        res.setHeader('Transfer-Encoding', 'chunked');
        res.end('lone');
        return;
      case '/chunked-empty':
        res.writeHead(200, { 'Transfer-Encoding': 'chunked' });
        res.end();
        return;
      case '/gzip':
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'gzip, chunked' });
        res.write(gzipSync('zipped '.repeat(50)).subarray(0, 10));
        res.end(gzipSync('zipped '.repeat(50)).subarray(10));
        return;
      case '/gzip-only':
        res.setHeader('Transfer-Encoding', 'gzip');
        res.end(gzipSync('gzip without chunked'));
        return;
      case '/deflate':
        res.setHeader('Transfer-Encoding', 'deflate, chunked');
        res.end(deflateSync('deflated'));
        return;
      default:
        res.setHeader('Transfer-Encoding', 'compress, chunked');
        res.end('LZW bytes');
    }
  };
  const native = await listenNative(t, listener);
  const hatch = await listenHatchway(t, fromNodeListener(listener));
  for (const path of ['/chunked-lone', '/chunked-empty', '/gzip', '/gzip-only', '/deflate']) {
    // curl --tr-encoding undoes transfer codings, as a client that asked for them does.
    const expected = await curl(t, ['-s', '--tr-encoding', `${native.url}${path}`]);
    const got = await curl(t, ['-s', '--tr-encoding', '-D', '-', `${hatch.url}${path}`]);
    const [head = '', body = ''] = got.stdout.split('\r\n\r\n');
    t.equal(body, expected.stdout, `${path}: the content`);
    t.notMatch(head, /transfer-encoding: (?!chunked)/i, `${path}: no coding left for the client to undo`);
    const h2 = await sendH2(hatch.url, path);
    t.equal(h2.body.toString('latin1'), expected.stdout, `${path} over h2c: the content`);
    t.equal(h2.headers['transfer-encoding'], undefined, `${path} over h2c: no Transfer-Encoding (RFC 9113 §8.2.2)`);
  }
  const headEmpty = await send(hatch.url, '/chunked-empty', { method: 'HEAD' });
  t.equal(headEmpty.headers['content-length'], undefined, 'HEAD: no length claimed for a body the listener framed as chunked');
  const unknown = await send(hatch.url, '/compress');
  t.equal(unknown.status, 500, 'a coding the gateway cannot undo is a 500, never bytes the client cannot read');
  t.match(hatch.logs.join('\n'), /ERR_HATCHWAY_ADAPTER_TRANSFER_CODING/);
});

t.test('statuses node:http sends but HTTP does not allow are a clean 500 (SPEC §3.1)', async (t) => {
  const app = express();
  app.get('/101', (_req, res) => void res.status(101).send('x'));
  app.get('/700', (_req, res) => void res.status(700).send('x'));
  app.get('/plain-101', (_req, res) => void res.writeHead(101).end());
  app.use(((err, _req, res, _next) => {
    res.status(500).send(`handled ${err.code}`);
  }) as express.ErrorRequestHandler);
  const hatch = await listenHatchway(t, fromNodeListener(app));
  for (const path of ['/101', '/700']) {
    const reply = await send(hatch.url, path);
    t.equal(reply.status, 500, `${path}: status`);
    t.equal(reply.statusMessage, 'Internal Server Error', `${path}: the reason is the 500's`);
    t.equal(reply.body.toString(), 'handled ERR_HATCHWAY_INVALID_STATUS', `${path}: the error handler's page, whole`);
    t.equal(reply.headers['content-length'], String(reply.body.length), `${path}: its length`);
  }
  const bare = fromNodeListener((_req, res) => void res.writeHead(Number(_req.url!.slice(1))).end('x'));
  const plain = await listenHatchway(t, bare);
  for (const path of ['/101', '/999', '/600']) {
    const reply = await send(plain.url, path);
    t.equal(reply.status, 500, `${path} from a bare listener: the server's error response`);
    t.equal(reply.headers['content-length'], String(reply.body.length), `${path}: its length`);
  }
  t.notMatch(plain.logs.join('\n') + hatch.logs.join('\n'), /CONTENT_LENGTH_MISMATCH/, 'never a length mismatch');
  t.match(plain.logs.join('\n'), /ERR_HATCHWAY_INVALID_STATUS/);
});

/**
 * The runner commits at FLUSH and hands the sink the head and then FLUSH, the one empty chunk a
 * sink sees (SPEC §3.4); both front-ends send the head on it, but the escape sink between them
 * and the runner (src/escapes/sink.ts `#forward`) still drops every empty chunk — a one-line
 * change for its owners: forward `out === FLUSH`.
 */

t.test('flushHeaders() commits: the runner hands the sink the head, then FLUSH, before any data', async (t) => {
  const { run, FLUSH } = await import('../../src/index.ts');
  const { PullBodyReader } = await import('../../src/host.ts');
  class Empty extends PullBodyReader {
    constructor() {
      super(0);
    }
    protected pull(): Promise<null> {
      return Promise.resolve(null);
    }
  }
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const calls: string[] = [];
  const app = fromNodeListener((_req, res) => {
    res.setHeader('Content-Type', 'text/event-stream');
    res.flushHeaders();
    void held.then(() => res.end('data: late\n\n'));
  });
  const environ = {
    method: 'GET', scheme: 'http', target: '/', scriptName: '', pathInfo: '/', queryString: '', protocol: 'HTTP/1.1', authority: 'x', headers: [],
    remoteAddress: '', remotePort: 0, localAddress: '', localPort: 0, requestId: 'flush-1', streamId: undefined, input: new Empty(),
    errors: { write: (m: string) => calls.push(`error ${m}`) }, features: { push: false, trailers: false, websocket: false, earlyHints: false }, signal: new AbortController().signal,
  } as const;
  const done = run(app, { ...environ, headers: [] }, {
    closed: false,
    head: (status, _reason, headers) => void calls.push(`head ${status} ${headers.map((h) => h.join(': ')).join(', ')}`),
    write: (chunk) => (calls.push(chunk === FLUSH ? 'FLUSH' : `write ${String(chunk)}`), true),
    drained: () => Promise.resolve(),
    end: (chunk) => void calls.push(`end${chunk === undefined ? '' : ` ${String(chunk)}`}`),
    file: () => Promise.resolve(),
    abort: () => void calls.push('abort'),
  });
  t.ok(await until(() => calls.length >= 2, 200), 'the head came while the listener held the body');
  t.same(calls, ['head 200 Content-Type: text/event-stream', 'FLUSH']);
  release();
  await done;
  t.same(calls.slice(2), ['write data: late\n\n', 'end']);
});

t.test('flushHeaders() sends the head before the first byte of the body', async (t) => {
  // The body is held until the head arrived, or 2 s passed (then the head came too late).
  let released = false;
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = () => ((released = true), resolve())));
  const timer = setTimeout(release, 2_000);
  t.teardown(() => clearTimeout(timer));
  const listener: RequestListener = (_req, res) => {
    res.setHeader('Content-Type', 'text/event-stream');
    res.flushHeaders();
    t.ok(res.headersSent, 'headersSent, as on node:http');
    void held.then(() => res.end('data: late\n\n'));
  };
  const hatch = await listenHatchway(t, fromNodeListener(listener));
  const head = await new Promise<{ status: number; type: string | undefined; rest: Promise<string> }>((resolve, reject) => {
    httpRequest(`${hatch.url}/sse`, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      t.notOk(released, 'the head arrived while the listener still held the body');
      resolve({ status: res.statusCode!, type: res.headers['content-type'], rest: new Promise((r) => res.on('end', () => r(text))) });
    })
      .on('error', reject)
      .end();
  });
  t.equal(head.status, 200);
  t.equal(head.type, 'text/event-stream');
  release();
  t.equal(await head.rest, 'data: late\n\n');

  let released2 = false;
  let release2: () => void = () => {};
  const held2 = new Promise<void>((resolve) => (release2 = () => ((released2 = true), resolve())));
  const timer2 = setTimeout(release2, 2_000);
  t.teardown(() => clearTimeout(timer2));
  const h2app = await listenHatchway(t, fromNodeListener((_req, res) => {
    res.flushHeaders();
    void held2.then(() => res.end('late'));
  }));
  const { connect } = await import('node:http2');
  const session = connect(h2app.url);
  t.teardown(() => session.close());
  const stream = session.request({ ':path': '/' });
  const status = await new Promise<unknown>((resolve) => stream.once('response', (h) => resolve(h[':status'])));
  t.equal(status, 200);
  t.notOk(released2, 'over h2c too, the head came first');
  release2();
  stream.resume();
  await new Promise((resolve) => stream.on('end', resolve));
});

t.test('addTrailers() rides the trailers escape when the client accepts trailers', async (t) => {
  const listener: RequestListener = (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', Trailer: 'x-checksum' });
    res.write('abc');
    res.addTrailers({ 'x-checksum': '900150983cd24fb0' });
    res.end();
  };
  const native = await listenNative(t, listener);
  const hatch = await listenHatchway(t, fromNodeListener(listener));
  const get = (base: string, headers: Record<string, string>) =>
    new Promise<{ body: string; trailers: NodeJS.Dict<string> }>((resolve, reject) => {
      httpRequest(`${base}/`, { agent: false, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ body, trailers: res.trailers }));
      })
        .on('error', reject)
        .end();
    });
  const expected = await get(native.url, { te: 'trailers' });
  t.same(await get(hatch.url, { te: 'trailers' }), expected, 'HTTP/1.1 with TE: trailers: the same body and trailers');
  const withoutTe = await get(hatch.url, {});
  t.same(withoutTe, { body: 'abc', trailers: {} }, 'without TE: trailers: the body, the trailers dropped (SPEC §7.6)');
  const h2 = await sendH2(hatch.url, '/');
  t.equal(h2.body.toString(), 'abc');
  t.equal(h2.trailers['x-checksum'], '900150983cd24fb0', 'HTTP/2: a trailing HEADERS frame');
  t.same(hatch.logs, []);
});

t.test('connection-level fields a listener sets are the server\'s, and so are the fields they name', async (t) => {
  const listener: RequestListener = (_req, res) => {
    res.setHeader('Connection', 'x-hop, close');
    res.setHeader('X-Hop', 'for the next hop only');
    res.setHeader('Keep-Alive', 'timeout=1');
    res.setHeader('Proxy-Connection', 'keep-alive');
    res.setHeader('Upgrade', 'h2c');
    res.setHeader('X-End-To-End', 'kept');
    res.end('body');
  };
  const hatch = await listenHatchway(t, fromNodeListener(listener));
  const h1 = await send(hatch.url, '/');
  t.equal(h1.body.toString(), 'body');
  t.equal(h1.headers['x-hop'], undefined, 'a field named by Connection is connection-specific (RFC 9110 §7.6.1)');
  t.equal(h1.headers['x-end-to-end'], 'kept');
  t.not(h1.headers['keep-alive'], 'timeout=1', "keep-alive is the server's");
  t.equal(h1.headers['proxy-connection'], undefined);
  t.equal(h1.headers.upgrade, undefined);
  const h2 = await sendH2(hatch.url, '/');
  t.equal(h2.body.toString(), 'body');
  for (const name of ['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'x-hop']) t.equal(h2.headers[name], undefined, `h2: no ${name} (RFC 9113 §8.2.2)`);
  t.ok(await until(() => true));
});
