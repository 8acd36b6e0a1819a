/**
 * fromFetch / toFetch: a Hono app hosted natively (@hono/node-server) and by hatchway through
 * fromFetch must answer the same; bodies stream both ways; hatchway apps run as fetch handlers.
 */
import { request as httpRequest } from 'node:http';
import t from 'tap';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { compress } from 'hono/compress';
import { setCookie } from 'hono/cookie';
import { etag } from 'hono/etag';
import { stream } from 'hono/streaming';
import type { App, Chunk, Environ } from '../../src/index.ts';
import { FETCH_REQUEST, fromFetch, toFetch } from '../../adapters/fetch.ts';
import { compareAll, listenHatchway, listenNative, send, readReleasing } from './side-by-side.ts';

function honoApp(): Hono {
  const app = new Hono();
  app.use('*', async (c, next) => {
    await next();
    c.header('X-Served-By', 'hono');
  });
  app.use('/big', compress());
  app.use('/tagged', etag());
  app.get('/text', (c) => c.text('hello'));
  app.get('/json/:id', (c) => c.json({ id: c.req.param('id'), q: c.req.query('q'), all: c.req.queries('a'), url: c.req.url, host: c.req.header('host') }));
  app.post('/echo', async (c) => c.json({ body: await c.req.json(), type: c.req.header('content-type') }, 201));
  app.post('/form', async (c) => c.json(await c.req.parseBody()));
  app.put('/raw', (c) => new Response(c.req.raw.body, { headers: { 'content-type': 'application/octet-stream' } }));
  app.get('/stream', (c) => {
    c.header('content-type', 'text/plain; charset=UTF-8');
    return stream(c, async (s) => {
      await s.write('one\n');
      await s.sleep(1);
      await s.write('two\n');
    });
  });
  app.get('/untyped-stream', (c) =>
    stream(c, async (s) => {
      await s.write('no type');
    }),
  );
  app.get('/cookies', (c) => {
    setCookie(c, 'a', '1');
    setCookie(c, 'b', '2', { httpOnly: true, path: '/x' });
    return c.text('cookies');
  });
  app.get('/redirect', (c) => c.redirect('/text'));
  app.get('/empty', (c) => c.body(null, 204));
  app.get('/big', (c) => c.text('compress me please '.repeat(300)));
  app.get('/tagged', (c) => c.text('etagged body'));
  app.get('/error', () => {
    throw new Error('handler failed');
  });
  app.onError((err, c) => c.text(`custom error: ${err.message}`, 500));
  app.notFound((c) => c.text('nothing here', 404));
  return app;
}

t.test('a Hono app answers the same on @hono/node-server and through fromFetch', async (t) => {
  const native = await listenNative(t, getRequestListener(honoApp().fetch, { overrideGlobalObjects: false }));
  const hatch = await listenHatchway(t, fromFetch(honoApp().fetch));
  const nativePort = new URL(native.url).port;
  const hatchPort = new URL(hatch.url).port;
  // The app echoes its URL and Host; both differ by the port only.
  await compareAll(t, native.url, hatch.url, [
    { name: 'text', path: '/text' },
    {
      name: 'HEAD',
      method: 'HEAD',
      path: '/text',
    },
    { name: 'POST JSON', method: 'POST', path: '/echo', headers: { 'content-type': 'application/json' }, body: '{"a":[1,2]}' },
    { name: 'POST form', method: 'POST', path: '/form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'x=1&y=%C3%A9' },
    { name: 'a request body streamed back', method: 'PUT', path: '/raw', body: Buffer.alloc(200_000, 7) },
    { name: 'a streamed response', path: '/stream' },
    { name: 'several Set-Cookie', path: '/cookies' },
    {
      name: 'redirect',
      path: '/redirect',
      ignore: { headers: ['content-length', 'transfer-encoding'], reason: '@hono/node-server frames a null body as an empty chunked one; hatchway sends Content-Length: 0' },
    },
    {
      name: 'a stream without a Content-Type',
      path: '/untyped-stream',
      ignore: { headers: ['content-type'], reason: '@hono/node-server adds text/plain to any typeless body; a Response has none, and fromFetch adds none' },
    },
    { name: '204', path: '/empty' },
    { name: 'compress middleware (gzip)', path: '/big', headers: { 'accept-encoding': 'gzip' } },
    { name: 'compress middleware (identity)', path: '/big' },
    { name: 'etag middleware', path: '/tagged' },
    { name: 'onError', path: '/error' },
    { name: 'notFound', path: '/nowhere' },
  ]);
  const tag = String((await send(native.url, '/tagged')).headers.etag);
  const [[notModified]] = await compareAll(t, native.url, hatch.url, [{ name: 'etag middleware: 304', path: '/tagged', headers: { 'if-none-match': tag } }]);
  t.equal(notModified!.status, 304);

  const a = await send(native.url, '/json/7?q=x&a=1&a=2');
  const b = await send(hatch.url, '/json/7?q=x&a=1&a=2');
  t.equal(b.status, a.status);
  t.same(JSON.parse(b.body.toString().replaceAll(hatchPort, 'PORT')), JSON.parse(a.body.toString().replaceAll(nativePort, 'PORT')), 'params, query, URL and Host');
  t.same(hatch.logs, []);
});

t.test('fromFetch: the environ is the second argument; request.signal follows environ.signal', async (t) => {
  let aborted!: () => void;
  const wasAborted = new Promise<void>((resolve) => (aborted = resolve));
  let seenEnviron: Environ | undefined;
  const app = fromFetch((request, environ) => {
    seenEnviron = environ;
    request.signal.addEventListener('abort', () => aborted());
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('forever…'));
      },
    });
    return new Response(body, { headers: { 'content-type': 'text/plain' } });
  });
  const { url } = await listenHatchway(t, app);
  await new Promise<void>((resolve) => {
    const req = httpRequest(`${url}/slow`, { agent: false }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => {});
    req.end();
  });
  await wasAborted;
  t.pass('the handler saw the client go away');
  t.equal(seenEnviron?.pathInfo, '/slow');
});

t.test('fromFetch: the response body is pulled, not buffered whole', async (t) => {
  let pulls = 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const { url } = await listenHatchway(
    t,
    fromFetch(() => {
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          pulls++;
          if (pulls === 1) controller.enqueue(new TextEncoder().encode('first;'));
          else {
            await released;
            controller.enqueue(new TextEncoder().encode('last'));
            controller.close();
          }
        },
      });
      return new Response(body);
    }),
  );
  const text = await readReleasing(`${url}/`, 'first;', release);
  t.equal(text, 'first;last', 'the first chunk reached the client while the stream was still open');
});

t.test('fromFetch: a handler that does not return a Response is a 500', async (t) => {
  const { url, logs } = await listenHatchway(t, fromFetch((() => 'not a response') as unknown as () => Response));
  t.equal((await send(url, '/')).status, 500);
  t.ok(logs.some((l) => l.includes('ERR_HATCHWAY_ADAPTER_INVALID_RESPONSE')));
});

t.test('toFetch: a hatchway app as a fetch handler', async (t) => {
  let seen: Environ | undefined;
  const app: App = (environ, startResponse) => {
    seen = environ;
    startResponse('201 Made', [['content-type', 'text/plain'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
    return (async function* (): AsyncGenerator<Chunk> {
      yield `${environ.method} ${environ.pathInfo}?${environ.queryString} `;
      yield await environ.input.text();
    })();
  };
  const handler = toFetch(app);
  const response = await handler(new Request('http://example.test/a%20b?x=1', { method: 'POST', body: 'payload', headers: { 'x-h': 'v' } }));
  t.equal(response.status, 201);
  t.equal(response.statusText, 'Made');
  t.same(response.headers.getSetCookie(), ['a=1', 'b=2']);
  t.equal(await response.text(), 'POST /a b?x=1 payload');
  t.equal(seen?.target, '/a%20b?x=1');
  t.equal(seen?.authority, 'example.test');
  t.equal(seen?.scheme, 'http');
  t.ok(seen?.[FETCH_REQUEST] instanceof Request);
  t.ok(seen?.headers.some(([n, v]) => n === 'x-h' && v === 'v'));

  const known = await toFetch((_e, sr) => {
    sr(200, []);
    return ['twelve bytes'];
  })(new Request('http://x/'));
  t.equal(known.headers.get('content-length'), '12');
  const failed = await toFetch(() => {
    throw new Error('app failed');
  }, { errors: { write: () => {} } })(new Request('http://x/'));
  t.equal(failed.status, 500);
  const head = await toFetch((_e, sr) => {
    sr(200, [['content-type', 'text/plain']]);
    return ['not sent'];
  })(new Request('http://x/', { method: 'HEAD' }));
  t.equal(head.body, null, 'no body for HEAD');
});

t.test('toFetch: streams with backpressure and stops when the consumer cancels', async (t) => {
  let produced = 0;
  let closed = false;
  const app: App = (_environ, startResponse) => {
    startResponse(200, []);
    return {
      async *[Symbol.asyncIterator]() {
        for (let i = 0; i < 10_000; i++) {
          produced++;
          yield new Uint8Array(16 * 1024);
        }
      },
      close() {
        closed = true;
      },
    };
  };
  const response = await toFetch(app)(new Request('http://x/'));
  const reader = response.body!.getReader();
  await reader.read();
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.ok(produced < 100, `the app produced only what the queue holds (${produced} chunks)`);
  await reader.cancel();
  for (let i = 0; i < 100 && !closed; i++) await new Promise((resolve) => setTimeout(resolve, 1));
  t.ok(closed, 'cancelling the stream closes the body');
});

t.test('toFetch: Hono mounts a hatchway app', async (t) => {
  const hono = new Hono();
  hono.mount('/legacy', toFetch((environ, startResponse) => {
    startResponse(200, [['content-type', 'text/plain']]);
    return [`legacy saw ${environ.pathInfo}`];
  }));
  const { url } = await listenNative(t, getRequestListener(hono.fetch, { overrideGlobalObjects: false }));
  const reply = await send(url, '/legacy/page');
  t.equal(reply.status, 200);
  t.equal(reply.body.toString(), 'legacy saw /page');
});

t.test("toFetch: options.environ adds keys from the handler's further arguments, never replacing the standard ones", async (t) => {
  const handler = toFetch<[{ GREETING: string }, string]>(
    (environ, startResponse) => {
      startResponse(200, [['content-type', 'application/json']]);
      return [JSON.stringify({ env: environ['x.env'], ctx: environ['x.ctx'], method: environ.method, url: (environ[FETCH_REQUEST] as Request).url })];
    },
    { environ: (request, env, ctx) => ({ 'x.env': env, 'x.ctx': `${ctx} ${new URL(request.url).pathname}`, method: 'FORGED', [FETCH_REQUEST]: 'forged' }) },
  );
  const reply = await (await handler(new Request('http://x/path'), { GREETING: 'hi' }, 'ctx')).json();
  t.same(reply, { env: { GREETING: 'hi' }, ctx: 'ctx /path', method: 'GET', url: 'http://x/path' });
});

t.test('toFetch: a file body is read through FileBody, whole or a range, with its length', async (t) => {
  const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { fileBody } = await import('../../src/index.ts');
  const dir = await mkdtemp(join(tmpdir(), 'hatchway-fetch-file-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'f.bin');
  const content = Buffer.alloc(200_000, 'abcdefghij');
  await writeFile(path, content);
  const handler = toFetch((environ, startResponse) => {
    startResponse(200, [['content-type', 'application/octet-stream']]);
    return environ.pathInfo === '/range' ? fileBody(path, { start: 70_000, end: 139_999 }) : fileBody(path);
  });
  const whole = await handler(new Request('http://x/'));
  t.equal(whole.headers.get('content-length'), '200000');
  t.ok(Buffer.from(await whole.arrayBuffer()).equals(content), 'the whole file');
  const range = await handler(new Request('http://x/range'));
  t.equal(range.headers.get('content-length'), '70000');
  t.ok(Buffer.from(await range.arrayBuffer()).equals(content.subarray(70_000, 140_000)), 'the range, across 64 KiB reads');
});
