/**
 * `hatchway/host/workerd` — a hatchway app as a Cloudflare Worker (workerd, and miniflare or
 * `wrangler dev` in development): `export default worker(app)` is a module Worker whose
 * `fetch(request, env, ctx)` runs the app through `toFetch` (`hatchway/adapters/fetch`).
 *
 * Each request's environ carries the Worker's bindings at `environ['workerd.env']` and its
 * `ExecutionContext` at `environ['workerd.ctx']`; {@link waitUntil} hands work that must
 * outlive the response (a log shipped elsewhere) to `ctx.waitUntil`.
 *
 * What a Worker can and cannot have (docs/RUNTIMES.md): HTTP/1.1 semantics as workerd hands
 * them over (Cloudflare's edge speaks HTTP/2 and HTTP/3 to clients, the Worker sees a
 * `Request`), streamed request and response bodies with backpressure, and the whole interface
 * and the neutral bundled middleware. Every feature is `false`, so every escape degrades by the
 * table (SPEC §7.4): a websocket route answers its fallback (426 with `Upgrade: websocket`,
 * or whatever a middleware answered first — a 401 from an auth middleware), trailers are
 * dropped (a registration that requires them gets its 400), push becomes `Link: rel=preload`,
 * and an `upgradeTo` handler runs on its emulated stream. workerd's own websockets
 * (`WebSocketPair`) are not offered by this host; `fileBody` and the static and compression
 * middleware need `node:fs` and `node:zlib`, which a Worker without Node compatibility lacks.
 * `remoteAddress` and the other addresses are empty (Cloudflare sends the client's address in
 * `CF-Connecting-IP`).
 *
 * Bundle the Worker as wrangler does (conditions `workerd`, `worker`, `browser`): the package
 * loads without the `nodejs_compat` flag, except that the router's `find-my-way` requires
 * `node:assert` (docs/RUNTIMES.md gives the one-line alias).
 *
 * @example
 * ```ts
 * import { compose, type App } from 'hatchway';
 * import { accessLog } from 'hatchway/middleware/access-log';
 * import { worker, WORKERD_ENV } from 'hatchway/host/workerd';
 *
 * const app: App = (environ, startResponse) => {
 *   const env = environ[WORKERD_ENV] as { GREETING?: string };
 *   startResponse(200, [['content-type', 'text/plain; charset=utf-8']]);
 *   return [`${env.GREETING ?? 'Hello'} from workerd\n`];
 * };
 *
 * export default worker(compose(accessLog())(app));
 * ```
 *
 * @module
 */
import type { App, Environ, ErrorStream } from '../index.ts';
import { toFetch } from '../../adapters/fetch.ts';

/** The environ key of the Worker's bindings (the `env` argument of `fetch`). */
export const WORKERD_ENV = 'workerd.env';

/** The environ key of the request's `ExecutionContext` (the `ctx` argument of `fetch`). */
export const WORKERD_CTX = 'workerd.ctx';

/** The part of a Worker's `ExecutionContext` this host relies on. */
export interface ExecutionContext {
  /** Keeps the Worker alive until `promise` settles, after the response is sent. */
  waitUntil(promise: Promise<unknown>): void;
}

/** Options of {@link worker}. */
export interface WorkerOptions {
  /** Where the app's error lines go (default: `console.error`, which `wrangler tail` shows). */
  errors?: ErrorStream;
}

/** A module Worker: what `export default` of a Worker's main module is. */
export interface Worker<Env = unknown> {
  /** Answers one request. */
  fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response>;
}

/**
 * Turns `app` into a module Worker.
 *
 * @example
 * ```ts
 * export default worker(app);
 * ```
 */
export function worker<Env = unknown>(app: App, options: WorkerOptions = {}): Worker<Env> {
  const handler = toFetch<[Env, ExecutionContext]>(app, {
    ...(options.errors === undefined ? {} : { errors: options.errors }),
    environ: (_request, env, ctx) => ({ [WORKERD_ENV]: env, [WORKERD_CTX]: ctx }),
  });
  return { fetch: handler };
}

/**
 * Lets `promise` outlive the response: `ctx.waitUntil(promise)` on workerd; elsewhere (no
 * `ExecutionContext` in the environ) the promise simply runs on. A rejection goes to
 * `environ.errors` either way.
 *
 * @example
 * ```ts
 * waitUntil(environ, fetch('https://logs.example/ingest', { method: 'POST', body: line }));
 * ```
 */
export function waitUntil(environ: Environ, promise: Promise<unknown>): void {
  const reported = promise.catch((err: unknown) => environ.errors.write(`waitUntil: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
  const ctx = environ[WORKERD_CTX] as ExecutionContext | undefined;
  ctx?.waitUntil(reported);
}
