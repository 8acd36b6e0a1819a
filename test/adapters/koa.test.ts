/**
 * fromKoa / toKoa: a Koa middleware stack (@koa/router, koa-bodyparser, an error handler,
 * cookies, streams) run by Koa natively and layer by layer in a hatchway pipeline must answer
 * the same; hatchway apps and middleware mounted in Koa.
 */
import { Readable } from 'node:stream';
import t, { type Test } from 'tap';
import Koa from 'koa';
import Router from '@koa/router';
import bodyParser from 'koa-bodyparser';
import { compose, type App, type Chunk, type Middleware } from '../../src/index.ts';
import { KOA_CTX, fromKoa, toKoa, type KoaMiddleware } from '../../adapters/koa.ts';
import { compareAll, listenHatchway, listenNative, send, type Case } from './side-by-side.ts';

function stack(): KoaMiddleware[] {
  const router = new Router();
  router.get('/users/:id', (ctx) => {
    ctx.body = { id: ctx.params.id, query: ctx.query, state: ctx.state.seen };
  });
  router.post('/echo', (ctx) => {
    ctx.status = 201;
    ctx.body = { got: (ctx.request as unknown as { body: unknown }).body, type: ctx.request.type };
  });
  router.get('/boom', (ctx) => ctx.throw(400, 'bad input'));
  router.get('/crash', () => {
    throw new Error('unexpected');
  });
  router.get('/stream', (ctx) => {
    ctx.type = 'text/plain';
    ctx.body = Readable.from(['one\n', 'two\n', 'three\n']);
  });
  router.get('/cookie', (ctx) => {
    ctx.cookies.set('visited', 'yes', { httpOnly: true, overwrite: true });
    ctx.body = `cookie was ${ctx.cookies.get('visited') ?? 'unset'}`;
  });
  router.get('/redirect', (ctx) => ctx.redirect('/users/1'));
  router.get('/empty', (ctx) => {
    ctx.body = null;
  });
  router.get('/buffer', (ctx) => {
    ctx.body = Buffer.from('raw bytes');
  });
  const errors: KoaMiddleware = async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const e = err as { status?: number; expose?: boolean; message: string };
      if (e.status !== 400) throw err; // leave the rest to Koa's default handler
      ctx.status = e.status;
      ctx.body = { error: e.message };
    }
  };
  const tagging: KoaMiddleware = async (ctx, next) => {
    ctx.state.seen = 'tagged';
    ctx.set('X-Before', 'b');
    await next();
    ctx.set('X-After', String(ctx.status));
  };
  return [errors, tagging, bodyParser() as unknown as KoaMiddleware, router.routes() as unknown as KoaMiddleware, router.allowedMethods() as unknown as KoaMiddleware];
}

/**
 * The end of a Koa chain is "nothing answered" (Koa's respond() then sends 404 Not Found, and
 * router.allowedMethods() may first turn it into a 405). A hatchway app's answer is an answer,
 * with a body; so the hatchway stack ends with a Koa layer that answers nothing, and the
 * innermost app is never reached.
 */
const endOfChain: KoaMiddleware = async () => {};
const unreachable: App = () => {
  throw new Error('the Koa chain ended before the inner app');
};

const koaCases: Case[] = [
  { name: 'router params, query and ctx.state', path: '/users/9?a=1&a=2' },
  { name: 'JSON body via koa-bodyparser', method: 'POST', path: '/echo', headers: { 'content-type': 'application/json' }, body: '{"x":[1,"two"]}' },
  { name: 'form body via koa-bodyparser', method: 'POST', path: '/echo', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=%C3%A9' },
  { name: 'malformed JSON: a 400 caught by the error middleware', method: 'POST', path: '/echo', headers: { 'content-type': 'application/json' }, body: '{"x"' },
  { name: 'ctx.throw(400) caught by the error middleware', path: '/boom' },
  { name: "an error nobody catches: Koa's default 500", path: '/crash' },
  { name: 'a stream body', path: '/stream' },
  { name: 'ctx.cookies', path: '/cookie', headers: { cookie: 'visited=before' } },
  { name: 'ctx.redirect', path: '/redirect' },
  { name: 'ctx.body = null is a 204', path: '/empty' },
  { name: 'a Buffer body', path: '/buffer' },
  { name: 'allowedMethods: 405 with Allow', method: 'PUT', path: '/users/1' },
  { name: 'allowedMethods: OPTIONS', method: 'OPTIONS', path: '/users/1' },
  { name: "no route: Koa's 404", path: '/nowhere' },
  { name: 'HEAD', method: 'HEAD', path: '/users/2' },
];

/** A hatchway middleware that changes nothing but copies everything (so no shortcut applies). */
const transparent: Middleware = (inner) => (environ, startResponse) => {
  const body = inner({ ...environ, headers: environ.headers.slice() }, (status, headers, excInfo) => startResponse(status, headers.slice(), excInfo));
  return (async function* (): AsyncGenerator<Chunk> {
    for await (const chunk of body as AsyncIterable<Chunk>) yield chunk;
  })();
};

async function nativeKoa(t: Test): Promise<string> {
  const koa = new Koa();
  koa.silent = true;
  for (const mw of stack()) koa.use(mw);
  return (await listenNative(t, koa.callback())).url;
}

t.test('a Koa stack answers the same in Koa and as hatchway middleware', async (t) => {
  const native = await nativeKoa(t);
  const hatchKoa = new Koa();
  hatchKoa.silent = true;
  const hatch = await listenHatchway(t, compose(...[...stack(), endOfChain].map((mw) => fromKoa(mw, { app: hatchKoa })))(unreachable));
  await compareAll(t, native, hatch.url, koaCases);
  t.same(hatch.logs, []);
});

t.test('the same with hatchway middleware between every two Koa layers (a round trip through ctx)', async (t) => {
  const native = await nativeKoa(t);
  const hatchKoa = new Koa();
  hatchKoa.silent = true;
  const layers = [...stack(), endOfChain].flatMap((mw) => [fromKoa(mw, { app: hatchKoa }), transparent]);
  const hatch = await listenHatchway(t, compose(...layers)(unreachable));
  // Through hatchway middleware "no Koa layer answered" has to become an answer (Koa's 404 Not
  // Found); when it comes back unchanged the ctx is unanswered again, so router.allowedMethods()
  // makes it the 405 "Method Not Allowed" a Koa app sends.
  await compareAll(t, native, hatch.url, koaCases);
  t.same(hatch.logs, []);
});

t.test('the inner app sees the Koa context and the request as Koa left it', async (t) => {
  let seen: { ctx: unknown; method: string; path: string; header: string | undefined } | undefined;
  const rewrite: KoaMiddleware = async (ctx, next) => {
    ctx.path = '/rewritten';
    ctx.method = 'PUT';
    ctx.request.headers['x-added'] = 'by koa';
    ctx.state.user = 'ada';
    await next();
    ctx.set('X-Wrapped-Status', String(ctx.status));
  };
  const inner: App = (environ, startResponse) => {
    const ctx = environ[KOA_CTX] as Koa.Context;
    seen = { ctx, method: environ.method, path: environ.pathInfo, header: environ.headers.find(([n]) => n === 'x-added')?.[1] };
    startResponse(202, [['content-type', 'text/plain'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
    return (async function* (): AsyncGenerator<Chunk> {
      yield `user=${String(ctx.state.user)};`;
      yield 'streamed';
    })();
  };
  const { url } = await listenHatchway(t, fromKoa(rewrite)(inner));
  const reply = await send(url, '/original?q=1');
  t.equal(reply.status, 202);
  t.equal(reply.body.toString(), 'user=ada;streamed');
  t.equal(reply.headers['x-wrapped-status'], '202', 'code after await next() sees the inner response');
  t.same(reply.headers['set-cookie'], ['a=1', 'b=2']);
  t.equal(seen?.method, 'PUT');
  t.equal(seen?.path, '/rewritten');
  t.equal(seen?.header, 'by koa');
  t.ok(seen?.ctx && typeof (seen.ctx as Koa.Context).throw === 'function', 'environ["koa.ctx"] is a real Koa context');
});

t.test("errors: 'hatchway' hands uncaught errors to the pipeline; errors from the inner app throw from next()", async (t) => {
  let caught: unknown;
  const catching: KoaMiddleware = async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      caught = err;
      ctx.status = 503;
      ctx.body = 'caught in koa';
    }
  };
  const failing: App = () => {
    throw new Error('inner failed');
  };
  const a = await listenHatchway(t, fromKoa(catching)(failing));
  const r = await send(a.url, '/');
  t.equal(r.status, 503);
  t.equal(r.body.toString(), 'caught in koa');
  t.match(caught, { message: 'inner failed' });

  const b = await listenHatchway(t, fromKoa(async (ctx) => ctx.throw(418, 'teapot'), { errors: 'hatchway' })(failing));
  const r2 = await send(b.url, '/');
  t.equal(r2.status, 418, 'the server answers with the HttpError');
  t.equal(r2.body.toString(), 'teapot\n', "hatchway's error response, not Koa's");
});

t.test('toKoa: a hatchway app and a hatchway middleware in a Koa app', async (t) => {
  const koa = new Koa();
  const upper: Middleware = (inner) => (environ, startResponse) => {
    if (environ.pathInfo === '/deny') {
      startResponse(401, [['content-type', 'text/plain']]);
      return ['no'];
    }
    const body = inner(environ, (status, headers, excInfo) => startResponse(status, [...headers.filter(([n]) => n !== 'content-length'), ['x-upper', '1']], excInfo));
    return (async function* () {
      for await (const chunk of body as AsyncIterable<Chunk>) yield Buffer.from(chunk).toString().toUpperCase();
    })();
  };
  koa.use(toKoa(upper));
  koa.use(async (ctx, next) => {
    if (ctx.path === '/koa') {
      ctx.body = { from: 'koa' };
      return;
    }
    await next();
  });
  koa.use(
    toKoa((environ, startResponse) => {
      const ctx = environ[KOA_CTX] as Koa.Context;
      startResponse(200, [['content-type', 'text/plain']]);
      return [`hatchway app at ${environ.pathInfo} (koa ctx: ${typeof ctx.throw})`];
    }),
  );
  const { url } = await listenNative(t, koa.callback());
  const a = await send(url, '/app');
  t.equal(a.body.toString(), 'HATCHWAY APP AT /APP (KOA CTX: FUNCTION)');
  t.equal(a.headers['x-upper'], '1');
  const k = await send(url, '/koa');
  t.equal(k.body.toString(), '{"FROM":"KOA"}', 'a Koa body (JSON) flows through the hatchway middleware');
  t.equal(k.headers['content-type'], 'application/json; charset=utf-8');
  const d = await send(url, '/deny');
  t.equal(d.status, 401);
  t.equal(d.body.toString(), 'no');
});
