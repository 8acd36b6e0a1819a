/**
 * `hatchway/middleware/router` — method and path routing with params (`/users/:id`,
 * `/files/*`, find-my-way's syntax), mounting that moves a prefix from `pathInfo` to
 * `scriptName` (SPEC §2.2), `404`, `405` with `Allow`, HEAD answered by the GET route, and
 * OPTIONS answered with `Allow`. Params are in `environ['router.params']`.
 *
 * The lookup is find-my-way's radix tree (bench/router.ts; docs/DEPENDENCIES.md says why).
 * `pathInfo` is already decoded, so before the lookup `%`, `?` and `#` are escaped again:
 * a path is never decoded twice and a `?` in a file name is not taken for a query. An empty
 * `pathInfo` (the bare prefix of a mount) is routed as `/`.
 *
 * Escapes: a route's app is called with a copy of the environ (every `hatchway.*` key kept)
 * and its status, headers and body are returned untouched, so a route that answers with
 * `acceptWebSocket` or `upgradeTo` is honoured as if it were the whole app. The router's own
 * answers (404, 405, OPTIONS) are ordinary responses.
 *
 * @example
 * ```ts
 * import { router, PARAMS_KEY } from 'hatchway/middleware/router';
 *
 * const app = router()
 *   .get('/users/:id', (environ, startResponse) => {
 *     const { id } = environ[PARAMS_KEY] as { id: string };
 *     startResponse(200, [['content-type', 'text/plain']]);
 *     return [`user ${id}\n`];
 *   })
 *   .get('/chat', websocket({ onSocket: (ws) => ws.send('hello') }))
 *   .mount('/admin', adminApp)
 *   .app;
 * ```
 *
 * @module
 */
import FindMyWay from 'find-my-way';
import { chunkLength, type App, type Body, type Environ, type Middleware, type StartResponse } from '../src/index.ts';
import type { ConformanceEntry } from '../src/index.ts';

/** The environ key of the route's params (merged with those of an outer router). */
export const PARAMS_KEY = 'router.params';

/** A route's params: `{ id: '42' }` for `/users/:id` and `/users/42`. */
export type Params = Record<string, string>;

/** Options of {@link router}. */
export interface RouterOptions {
  /** Match paths case-sensitively (default true). */
  caseSensitive?: boolean;
  /** `/a/` matches a route `/a` and the reverse (default false). */
  ignoreTrailingSlash?: boolean;
  /** Longest param value accepted; longer ones do not match (default 100). */
  maxParamLength?: number;
}

type Method = FindMyWay.HTTPMethod;
interface Route {
  app: App;
  /** A mount: the matched prefix moves to `scriptName`. */
  mount: boolean;
}

/** The params of this request (`{}` outside a route). */
export function params(environ: Environ): Params {
  return (environ[PARAMS_KEY] as Params | undefined) ?? {};
}

function plain(startResponse: StartResponse, status: number, text: string, allow?: string): Body {
  const body = status === 204 ? '' : `${text}\n`;
  const headers: [string, string][] = allow === undefined ? [] : [['allow', allow]];
  if (status !== 204) headers.push(['content-type', 'text/plain; charset=utf-8'], ['content-length', String(chunkLength(body))]);
  startResponse(status, headers);
  return status === 204 ? [] : [body];
}

/** Escapes what find-my-way would decode or split on, so the decoded path is matched as it is. */
function lookupPath(pathInfo: string): string {
  const path = pathInfo === '' ? '/' : pathInfo;
  return /[%?#]/.test(path) ? path.replace(/[%?#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`) : path;
}

/** Checks a mount prefix: `/a` or `/a/:b`, never ending in `/`. */
function checkPrefix(prefix: string): string {
  if (!prefix.startsWith('/') || prefix.endsWith('/') || prefix.includes('*')) {
    throw new TypeError(`a mount prefix starts with '/', does not end with '/' and has no '*': ${JSON.stringify(prefix)}`);
  }
  return prefix;
}

/**
 * A route table. Build it with `on`/`get`/`post`/…/`mount`, then use `.app` (404 and 405 of its
 * own) or `.middleware` (requests no route matches go to the inner app).
 */
export class Router {
  readonly #fmw: FindMyWay.Instance<FindMyWay.HTTPVersion.V1>;
  readonly #methods = new Set<Method>();

  constructor(options: RouterOptions = {}) {
    this.#fmw = FindMyWay({
      caseSensitive: options.caseSensitive ?? true,
      ignoreTrailingSlash: options.ignoreTrailingSlash ?? false,
      maxParamLength: options.maxParamLength ?? 100,
    });
  }

  /** Routes `method` (or several) at `path` to `app`. */
  on(method: string | string[], path: string, app: App): this {
    const methods = (Array.isArray(method) ? method : [method]).map((m) => m.toUpperCase() as Method);
    for (const m of methods) this.#methods.add(m);
    this.#fmw.on(methods, path, noop, { app, mount: false } satisfies Route);
    return this;
  }
  /** Routes `GET` (and so `HEAD`) at `path` to `app`: `on('GET', path, app)`. */
  get(path: string, app: App): this {
    return this.on('GET', path, app);
  }
  /** Routes `POST` at `path` to `app`: `on('POST', path, app)`. */
  post(path: string, app: App): this {
    return this.on('POST', path, app);
  }
  /** Routes `PUT` at `path` to `app`: `on('PUT', path, app)`. */
  put(path: string, app: App): this {
    return this.on('PUT', path, app);
  }
  /** Routes `PATCH` at `path` to `app`: `on('PATCH', path, app)`. */
  patch(path: string, app: App): this {
    return this.on('PATCH', path, app);
  }
  /** Routes `DELETE` at `path` to `app`: `on('DELETE', path, app)`. */
  delete(path: string, app: App): this {
    return this.on('DELETE', path, app);
  }

  /**
   * Every method at `prefix` and below goes to `app`, with the matched prefix moved from
   * `pathInfo` to `scriptName` (`/api/users` under `/api`: scriptName `/api`, pathInfo
   * `/users`). The prefix may have params (`/orgs/:org`).
   */
  mount(prefix: string, app: App): this {
    checkPrefix(prefix);
    const route: Route = { app, mount: true };
    this.#fmw.all(prefix, noop, route);
    this.#fmw.all(`${prefix}/*`, noop, route);
    return this;
  }

  /** The router as an app: 404 when no route matches the path, 405 when none has the method. */
  get app(): App {
    return (environ, startResponse) => this.#dispatch(environ, startResponse, undefined);
  }

  /** The router as middleware: requests that match no path go to the inner app. */
  get middleware(): Middleware {
    return (inner) => (environ, startResponse) => this.#dispatch(environ, startResponse, inner);
  }

  #dispatch(environ: Environ, startResponse: StartResponse, inner: App | undefined): Body {
    const path = lookupPath(environ.pathInfo);
    const method = environ.method as Method;
    // HEAD is served by GET; an RFC 8441 websocket (an extended CONNECT) is the GET handshake
    // of HTTP/1.1 over HTTP/2 (RFC 8441 §4), so a `get('/ws', websocket(…))` route takes both.
    const alias = method === 'HEAD' || (method === 'CONNECT' && environ.features.websocket) ? 'GET' : undefined;
    const found = this.#fmw.find(method, path) ?? (alias !== undefined ? this.#fmw.find(alias, path) : null);
    if (found !== null) return routed(environ, startResponse, found.store as Route, found.params);

    const allowed = [...this.#methods].filter((m) => this.#fmw.find(m, path) !== null);
    if (allowed.length === 0 || environ.pathInfo === '*') return inner ? inner(environ, startResponse) : plain(startResponse, 404, 'Not Found');
    if (allowed.includes('GET') && !allowed.includes('HEAD')) allowed.push('HEAD');
    if (!allowed.includes('OPTIONS')) allowed.push('OPTIONS');
    const allow = allowed.sort().join(', ');
    if (method === 'OPTIONS') return plain(startResponse, 204, '', allow);
    return plain(startResponse, 405, 'Method Not Allowed', allow);
  }
}

function noop(): void {}

/** Calls a route's app with its params, and for a mount the prefix moved to `scriptName`. */
function routed(environ: Environ, startResponse: StartResponse, route: Route, found: Record<string, string | undefined>): Body {
  const own: Params = {};
  let rest: string | undefined;
  for (const [name, value] of Object.entries(found)) {
    if (route.mount && name === '*') rest = `/${value ?? ''}`;
    else if (value !== undefined) own[name] = value;
  }
  const inner: Environ = { ...environ, [PARAMS_KEY]: { ...params(environ), ...own } };
  if (route.mount) {
    const pathInfo = rest ?? '';
    inner.scriptName = environ.scriptName + environ.pathInfo.slice(0, environ.pathInfo.length - pathInfo.length);
    inner.pathInfo = pathInfo;
  }
  return route.app(inner, startResponse);
}

/**
 * A router.
 *
 * @example
 * ```ts
 * const api = router().get('/items/:id', showItem).post('/items', createItem).app;
 * ```
 */
export function router(options?: RouterOptions): Router {
  return new Router(options);
}

/**
 * Middleware that sends `prefix` and everything below it to `app`, moving the prefix from
 * `pathInfo` to `scriptName`; every other request goes to the inner app.
 *
 * @example
 * ```ts
 * const site = mount('/static', serveStatic('./public')(notFound))(pages);
 * ```
 */
export function mount(prefix: string, app: App): Middleware {
  return router().mount(prefix, app).middleware;
}

/** For `npm run conformance` and `hatchway check` (docs/CONFORMANCE.md): this middleware as it is checked. */
export const conformance: ConformanceEntry[] = [{ name: 'router', make: (): Middleware => mount('/mounted', (_environ, startResponse) => {
        startResponse(200, [['content-type', 'text/plain']]);
        return ['mounted\n'];
      }) }];
