/**
 * Koa middleware ↔ hatchway middleware.
 *
 * - {@link fromKoa} runs an `async (ctx, next)` middleware (koa-bodyparser, @koa/router's
 *   `routes()`, koa-compress, a Koa error handler…) inside a hatchway pipeline. The `ctx` is
 *   built by the real `koa` package (`app.createContext(req, res)`) over the same Node request
 *   and response objects `fromNodeListener` gives a listener, and Koa's own `respond()`
 *   writes the response — so `ctx` is exactly Koa's. `await next()` runs the inner app and
 *   puts its response on `ctx` (status, headers, `ctx.body` as a stream), where the middleware
 *   can read and change it after `next()` returns, as with any downstream Koa middleware.
 * - {@link toKoa} mounts a hatchway app or middleware in a Koa app.
 *
 * Fidelity and limits: `docs/ADAPTERS.md`.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import Koa from 'koa';
import { FLUSH, HatchwayError, bodyForbidden } from '../src/index.ts';
import { acceptUndecodedPaths, takesUndecodedPaths } from '../src/host.ts';
import type { App, Body, Chunk, Environ, Middleware, StartResponse } from '../src/index.ts';
import { drive, driveBody, totalLength, type Committed } from './node-objects/drive.ts';
import { ResponseState } from '../src/index.ts';
import { NodeExchange } from './node-objects/exchange.ts';
import { adoptRequest, environAfter, snapshotRequest, type Snapshot } from './node-objects/request.ts';
import { headersOf, mergeHeaders, nodeHeaders, replaceHeaders } from './node-objects/headers.ts';
import { environFromHost, mountOf, type HostOptions } from './node-objects/host.ts';
import { relativeUrl } from './node-objects/url.ts';

/** The environ key holding the Koa `ctx` (for {@link fromKoa}'s inner app and {@link toKoa}'s app). */
export const KOA_CTX = 'koa.ctx';

/** A Koa middleware. */
export type KoaMiddleware = (ctx: Koa.Context, next: () => Promise<void>) => unknown;

/** Options of {@link fromKoa}. */
export interface FromKoaOptions {
  /**
   * The Koa application whose `context`/`request`/`response` prototypes (and settings:
   * `proxy`, `keys`, `subdomainOffset`…) the contexts are made from. Default: a new `Koa()`.
   */
  app?: Koa;
  /**
   * Who answers an error the middleware lets through: `'koa'` (default) lets Koa's
   * `ctx.onerror` answer, as a Koa application would (`err.status`, `err.expose`,
   * `err.headers`, the app's `'error'` event); `'hatchway'` fails the request instead, so outer
   * hatchway middleware or the server's error response handles it, as `next(err)` does for
   * Connect middleware. Only the outermost of consecutive Koa layers answers; inner ones throw
   * from the outer one's `next()`, as in a Koa app.
   */
  errors?: 'hatchway' | 'koa';
}

interface KoaInternals {
  handleRequest(ctx: Koa.Context, fn: (ctx: Koa.Context) => Promise<unknown>): Promise<unknown>;
}

const environs = new WeakMap<IncomingMessage, Environ>();
/** The contexts we made, and the request each is for: consecutive Koa layers share one `ctx`. */
const contexts = new WeakMap<object, string>();
/**
 * Bodies of Koa layers that run on an outer layer's `ctx`. When the outer layer's `next()`
 * gets one back untouched (no hatchway middleware in between), it just runs the inner Koa
 * middleware on the shared `ctx`, exactly as `koa-compose` would.
 */
const direct = new WeakMap<object, { ctx: Koa.Context; run: () => Promise<void> }>();
/** Contexts whose inner Koa layers answered through a hatchway round trip: their headers are all of `ctx`'s. */
const roundTripped = new WeakSet<Koa.Context>();
/**
 * Contexts no Koa layer answered, and the answer Koa's `respond()` derives for that (its 404
 * "Not Found"), which had to become a real response to cross hatchway middleware. When exactly
 * that answer comes back, the outer layer's `ctx` is left unanswered again — so
 * `router.allowedMethods()` can still make it a 405 whose body Koa derives, as in a Koa app.
 */
const unanswered = new WeakMap<Koa.Context, { status: number; text: string }>();

/** `next()` for a Koa middleware whose downstream is the hatchway app `inner`. */
function nextFor(ctx: Koa.Context, inner: App, innerEnviron: () => Environ): () => Promise<void> {
  return async () => {
    const environ = innerEnviron();
    const recorder = new ResponseState();
    const body = inner(environ, recorder.startResponse);
    const shortcut = body !== null && typeof body === 'object' ? direct.get(body) : undefined;
    if (shortcut !== undefined && shortcut.ctx === ctx) {
      await shortcut.run();
      return;
    }
    roundTripped.delete(ctx);
    let committed = await driveBody(body, recorder, environ);
    const derived = unanswered.get(ctx);
    if (derived !== undefined && roundTripped.has(ctx) && committed.status === derived.status) committed = await settle(committed, Buffer.byteLength(derived.text));
    writeToKoa(ctx, committed, roundTripped.has(ctx));
  };
}

function reporter(koa: Koa): void {
  if (koa.listenerCount('error') > 0) return;
  koa.on('error', (err: unknown, ctx?: Koa.Context) => {
    // As Koa's own app.onerror: client errors the app chose to expose are not server faults.
    const e = err as { status?: unknown; expose?: unknown } | null;
    if (koa.silent || e?.status === 404 || e?.expose) return;
    const environ = ctx?.req ? environs.get(ctx.req) : undefined;
    const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
    if (environ !== undefined) environ.errors.write(text);
    else console.error(text);
  });
}

/**
 * Runs a Koa middleware as hatchway middleware.
 *
 * `await next()` calls the inner app with the request as the middleware left it (`ctx.method`,
 * `ctx.url`, `ctx.headers`, the rest of the body — a body parser's result is in
 * `environ['koa.ctx'].request.body` — and `environ['koa.ctx']`), waits for its commit, and sets
 * `ctx.status`, the response headers and `ctx.body` (a stream, or a buffer when the whole body
 * is known). An error the inner app throws before its commit is thrown from `next()`.
 *
 * @example
 * ```ts
 * import bodyParser from 'koa-bodyparser';
 * import Router from '@koa/router';
 * import { compose } from 'hatchway';
 * import { fromKoa } from 'hatchway/adapters/koa';
 *
 * const router = new Router();
 * router.post('/echo', (ctx) => { ctx.body = ctx.request.body; });
 * export default compose(fromKoa(bodyParser()), fromKoa(router.routes()))(notFoundApp);
 * ```
 */
export function fromKoa(middleware: KoaMiddleware, options: FromKoaOptions = {}): Middleware {
  if (typeof middleware !== 'function') throw new HatchwayError('ERR_HATCHWAY_ADAPTER_INVALID_ARGUMENT', 'fromKoa(middleware): a function (ctx, next)');
  const koa = options.app ?? new Koa();
  const koaAnswersErrors = options.errors !== 'hatchway';
  reporter(koa);
  return function koaMiddleware(inner: App): App {
    // Koa sees raw URLs, as on node:http: an undecoded path passes when the inner app takes it.
    const mark = takesUndecodedPaths(inner) ? acceptUndecodedPaths : <A>(app: A) => app;
    return mark(function koaApp(environ, startResponse) {
      const shared = environ[KOA_CTX] as Koa.Context | undefined;
      if (shared !== undefined && contexts.get(shared) === environ.requestId) return sharedContext(shared, middleware, inner, environ, startResponse);
      const exchange = new NodeExchange(environ, startResponse, { track: true });
      return exchange.body(() => {
        environs.set(exchange.req, environ);
        const ctx = koa.createContext(exchange.req, exchange.res);
        contexts.set(ctx, environ.requestId);
        const next = nextFor(ctx, inner, () => exchange.innerEnviron({ [KOA_CTX]: ctx }));
        const run = async (ctx: Koa.Context): Promise<void> => {
          if (koaAnswersErrors) {
            await middleware(ctx, next);
            return;
          }
          try {
            await middleware(ctx, next);
          } catch (err) {
            ctx.respond = false; // Koa stays out of it: the pipeline answers
            exchange.fail(err);
          }
        };
        return (koa as unknown as KoaInternals).handleRequest(ctx, run);
      });
    });
  };
}

/**
 * A Koa layer inside another one (with only hatchway middleware, or nothing, in between): it
 * runs on the outer layer's `ctx`, as the next middleware of a Koa app would, and hands what
 * it leaves on `ctx` back as its response.
 */
function sharedContext(ctx: Koa.Context, middleware: KoaMiddleware, inner: App, environ: Environ, startResponse: StartResponse): Body {
  let snapshot: Snapshot | undefined;
  let req: IncomingMessage | undefined;
  const next = nextFor(ctx, inner, () => environAfter(req!, environ, snapshot!, { [KOA_CTX]: ctx }));
  const run = async (): Promise<void> => {
    req = adoptRequest(environ) ?? ctx.req;
    snapshot = snapshotRequest(req);
    await middleware(ctx, next);
  };
  const body: Body = {
    async *[Symbol.asyncIterator](): AsyncGenerator<Chunk> {
      // Hatchway middleware sits between us and the outer Koa layer: answer with what is on ctx.
      await run();
      roundTripped.add(ctx);
      yield* respondFromKoa(ctx, environ.method, startResponse);
    },
  };
  direct.set(body, { ctx, run });
  return body;
}

/** Pulls a short body to its end (at most `limit` bytes) so it can be compared; the result is the same response. */
async function settle(committed: Committed, limit: number): Promise<Committed> {
  if (committed.complete) return committed;
  const chunks = committed.chunks.slice();
  let size = totalLength(chunks);
  while (size <= limit) {
    const chunk = await committed.next();
    if (chunk === undefined) return { ...committed, chunks, complete: true };
    chunks.push(chunk);
    size += totalLength([chunk]);
  }
  return { ...committed, chunks };
}

/** A Readable over the rest of a committed body; destroying it closes the body. */
function readableFrom(committed: Committed): Readable {
  const pending = committed.chunks.slice();
  return new Readable({
    read() {
      let chunk = pending.shift();
      if (chunk === FLUSH) chunk = pending.shift(); // an empty push would stall the stream
      if (chunk !== undefined) {
        this.push(chunk);
        return;
      }
      const pull = (): Promise<Chunk | undefined> => committed.next().then((next) => (next === FLUSH ? pull() : next));
      pull().then(
        (next) => this.push(next === undefined ? null : next),
        (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
      );
    },
    destroy(err, callback) {
      committed.close();
      callback(err);
    },
  });
}

/** Puts a committed hatchway response on a Koa context: status, body, then headers (so they win over Koa's guesses). */
function writeToKoa(ctx: Koa.Context, committed: Committed, replace: boolean): void {
  if (replace) replaceHeaders(ctx.res, []);
  const derived = replace ? unanswered.get(ctx) : undefined;
  unanswered.delete(ctx);
  ctx.status = committed.status;
  if (committed.reason !== undefined) ctx.message = committed.reason;
  if (derived !== undefined && committed.complete && committed.status === derived.status && Buffer.concat(committed.chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c))).toString() === derived.text) {
    committed.close(); // still nobody's answer: leave ctx.body unset
  } else if (committed.status === 204 || committed.status === 304) {
    committed.close();
  } else if (committed.complete) {
    const chunks = committed.chunks;
    ctx.body = chunks.length === 1 && typeof chunks[0] === 'string' ? chunks[0] : Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
    committed.close();
  } else {
    ctx.body = readableFrom(committed);
  }
  mergeHeaders(ctx.res, committed.headers);
}

/** Options of {@link toKoa}. */
export interface ToKoaOptions extends HostOptions {
  /** Whether the handler is an app or a middleware; by default a function of one parameter is a middleware. */
  kind?: 'app' | 'middleware';
}

/** The environ for a Koa context (mounted by koa-mount: `ctx.mountPath`). */
function environFromKoa(ctx: Koa.Context, options: HostOptions): Environ {
  const mountPath = (ctx as unknown as { mountPath?: unknown }).mountPath;
  const environ = environFromHost(ctx.req, ctx.res, options, mountOf(ctx.req, ctx.originalUrl, mountPath));
  environ[KOA_CTX] = ctx;
  return environ;
}

/** The chunks of whatever a downstream Koa middleware left in `ctx.body`, with Koa's `respond()` rules. */
async function* koaBody(ctx: Koa.Context): AsyncGenerator<Chunk> {
  const body: unknown = ctx.body;
  if (body === null || body === undefined) {
    if ((ctx.response as unknown as { _explicitNullBody?: boolean })._explicitNullBody) return;
    yield ctx.req.httpVersionMajor >= 2 ? String(ctx.status) : ctx.message || String(ctx.status);
    return;
  }
  if (typeof body === 'string' || body instanceof Uint8Array) {
    yield body;
    return;
  }
  let stream: AsyncIterable<unknown> | undefined;
  if (body instanceof Readable) stream = body;
  else if (body instanceof ReadableStream) stream = body as AsyncIterable<Uint8Array>;
  else if (body instanceof Blob) stream = body.stream() as unknown as AsyncIterable<Uint8Array>;
  else if (body instanceof Response) stream = (body.body ?? []) as AsyncIterable<Uint8Array>;
  if (stream !== undefined) {
    for await (const chunk of stream) yield typeof chunk === 'string' || chunk instanceof Uint8Array ? chunk : String(chunk);
    return;
  }
  yield JSON.stringify(body);
}

/** Sets the headers `respond()` would derive for a body that is not a stream (type and length). */
function settleKoaHead(ctx: Koa.Context): void {
  const body: unknown = ctx.body;
  if (body === null || body === undefined) {
    if ((ctx.response as unknown as { _explicitNullBody?: boolean })._explicitNullBody || ctx.status === 204 || ctx.status === 304) return;
    const text = ctx.req.httpVersionMajor >= 2 ? String(ctx.status) : ctx.message || String(ctx.status);
    ctx.type = 'text';
    ctx.length = Buffer.byteLength(text);
  } else if (typeof body === 'object' && !(body instanceof Uint8Array) && !(body instanceof Readable) && !(body instanceof ReadableStream) && !(body instanceof Blob) && !(body instanceof Response)) {
    ctx.length = Buffer.byteLength(JSON.stringify(body));
  }
}

/** What a downstream Koa middleware left on `ctx`, as a hatchway response (Koa's `respond()` rules). */
async function* respondFromKoa(ctx: Koa.Context, method: string, startResponse: StartResponse): AsyncGenerator<Chunk> {
  if ((ctx.body === null || ctx.body === undefined) && !(ctx.response as unknown as { _explicitNullBody?: boolean })._explicitNullBody && ctx.status === 404) {
    unanswered.set(ctx, { status: ctx.status, text: ctx.req.httpVersionMajor >= 2 ? String(ctx.status) : ctx.message || String(ctx.status) });
  }
  settleKoaHead(ctx);
  const status = ctx.status;
  const reason = ctx.req.httpVersionMajor < 2 && ctx.message ? ctx.message : undefined;
  startResponse(reason ? `${status} ${reason}` : status, headersOf(ctx.res, status));
  if (bodyForbidden(method, status)) return;
  yield* koaBody(ctx);
}

/**
 * Mounts a hatchway app, or a hatchway middleware, in a Koa app.
 *
 * - An app answers the request: its status, headers and body go to `ctx` (the body as a
 *   stream, or a buffer when known whole); an error before its commit is thrown into the Koa
 *   chain, where Koa error middleware (or `ctx.onerror`) handles it. Its environ has
 *   `environ['koa.ctx']` = `ctx` and every feature `false`.
 * - A middleware wraps the rest of the Koa chain: its inner app runs `await next()` and
 *   answers with what the downstream left on `ctx` (Koa's `respond()` rules for `ctx.body`);
 *   the middleware's response then replaces it.
 *
 * @example
 * ```ts
 * import Koa from 'koa';
 * import { toKoa } from 'hatchway/adapters/koa';
 *
 * const koa = new Koa();
 * koa.use(toKoa(hatchwayApp));
 * koa.listen(8000);
 * ```
 */
export function toKoa(handler: App | Middleware, options: ToKoaOptions = {}): KoaMiddleware {
  if (typeof handler !== 'function') throw new HatchwayError('ERR_HATCHWAY_ADAPTER_INVALID_ARGUMENT', 'toKoa(handler): an app or a middleware');
  const kind = options.kind ?? (handler.length === 1 ? 'middleware' : 'app');
  if (kind === 'app') {
    const app = handler as App;
    return async function hatchwayApp(ctx: Koa.Context): Promise<void> {
      const environ = environFromKoa(ctx, options);
      writeToKoa(ctx, await drive(app, environ), false);
    };
  }
  const middleware = handler as Middleware;
  return async function hatchwayMiddleware(ctx: Koa.Context, next: () => Promise<void>): Promise<void> {
    const outer = environFromKoa(ctx, options);
    const inner: App = (environ, startResponse) => ({
      async *[Symbol.asyncIterator](): AsyncGenerator<Chunk> {
        if (environ.method !== outer.method) ctx.method = environ.method;
        if (environ.target !== outer.target || environ.pathInfo !== outer.pathInfo || environ.queryString !== outer.queryString) ctx.url = relativeUrl(environ);
        if (environ.headers !== outer.headers) {
          const raw: string[] = [];
          for (const [name, value] of environ.headers) raw.push(name, value);
          ctx.req.rawHeaders = raw;
          ctx.req.headers = nodeHeaders(environ.headers);
        }
        await next();
        yield* respondFromKoa(ctx, environ.method, startResponse);
      },
    });
    writeToKoa(ctx, await drive(middleware(inner), outer), true);
  };
}
