/**
 * Connect/Express middleware ↔ hatchway middleware.
 *
 * - {@link fromConnect} runs a `(req, res, next)` middleware (helmet, cors, compression,
 *   morgan, body-parser, express-session, an Express router…) inside a hatchway pipeline.
 *   `next()` calls the inner app with the middleware's changes to the request (method, URL,
 *   headers, and whatever it attached to `req`, reachable as `environ['connect.req']`); the
 *   inner app's response is written through the middleware's `res`, so middleware that patches
 *   `res.writeHead`/`write`/`end`/`setHeader` sees and changes it. A four-argument error
 *   middleware `(err, req, res, next)` receives what the inner app throws before its commit.
 * - {@link toConnect} mounts a hatchway app or middleware in an Express/Connect app.
 *
 * Fidelity and limits: `docs/ADAPTERS.md`.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HatchwayError, run } from '../src/index.ts';
import { acceptUndecodedPaths, takesUndecodedPaths } from '../src/host.ts';
import type { App, Middleware } from '../src/index.ts';
import { downstreamBody } from './node-objects/downstream.ts';
import { NodeExchange } from './node-objects/exchange.ts';
import { CONNECT_REQ } from './node-objects/request.ts';
import { HostSink, environFromHost, mountOf, type HostOptions } from './node-objects/host.ts';
import { guard, pumpApp } from './node-objects/drive.ts';

export { CONNECT_REQ };

/** Connect's `next`: no argument (or `'route'`/`'router'`) continues, an error skips to error handling. */
export type NextFunction = (err?: unknown) => void;
/** A Connect/Express middleware. */
export type ConnectMiddleware = (req: IncomingMessage, res: ServerResponse, next: NextFunction) => unknown;
/** A Connect/Express error middleware (four parameters). */
export type ConnectErrorMiddleware = (err: unknown, req: IncomingMessage, res: ServerResponse, next: NextFunction) => unknown;

function isError(value: unknown): boolean {
  return value !== undefined && value !== null && value !== 'route' && value !== 'router';
}

function whenRejected(result: unknown, onError: (err: unknown) => void): void {
  if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
    (result as PromiseLike<unknown>).then(undefined, onError);
  }
}

/**
 * Runs a Connect/Express middleware as hatchway middleware.
 *
 * - `next()` continues to the inner app; `next(err)` fails the request with `err` (an outer
 *   hatchway error middleware, or the server's error response, handles it).
 * - The inner app sees `req`'s method, URL (`target`, `pathInfo`, `queryString`) and headers
 *   as the middleware left them, the rest of the request body (empty if a body parser read it —
 *   the parsed body is `environ['connect.req'].body`), and `environ['connect.req']`.
 * - The inner app's status and headers go into `res`'s header map (replacing same-named fields
 *   the middleware set, except `Set-Cookie`, which accumulates, and `Vary`, which merges); its
 *   body goes through `res.write()`/`res.end()` with backpressure. A body the middleware does
 *   not touch reaches the client byte for byte.
 * - With a four-parameter error middleware, the inner app runs first, and an error it throws
 *   before its commit is passed to the middleware, which answers with `res` or passes it on
 *   with `next(err)` (`next()` passes the original error on).
 *
 * @example
 * ```ts
 * import helmet from 'helmet';
 * import session from 'express-session';
 * import { compose } from 'hatchway';
 * import { CONNECT_REQ, fromConnect } from 'hatchway/adapters/connect';
 *
 * const app: App = (environ, startResponse) => {
 *   const { session } = environ[CONNECT_REQ] as { session: { views?: number } };
 *   session.views = (session.views ?? 0) + 1;
 *   startResponse(200, [['content-type', 'text/plain']]);
 *   return [`views: ${session.views}\n`];
 * };
 * export default compose(fromConnect(helmet()), fromConnect(session({ secret: 's3cret', resave: false, saveUninitialized: true })))(app);
 * ```
 */
export function fromConnect(middleware: ConnectMiddleware | ConnectErrorMiddleware): Middleware {
  if (typeof middleware !== 'function') throw new HatchwayError('ERR_HATCHWAY_ADAPTER_INVALID_ARGUMENT', 'fromConnect(middleware): a function (req, res, next)');
  const errorHandler = middleware.length === 4;
  return function connectMiddleware(inner: App): App {
    // Connect middleware sees raw URLs, as on node:http: an undecoded path passes when the inner app takes it.
    const mark = takesUndecodedPaths(inner) ? acceptUndecodedPaths : <A>(app: A) => app;
    return mark(function connectApp(environ, startResponse) {
      const exchange = new NodeExchange(environ, startResponse, { track: true });
      const { req, res } = exchange;
      const fail = (err: unknown) => exchange.fail(err);
      const runInner = (onEarlyError: (err: unknown) => void) => pumpApp(inner, exchange.innerEnviron(), res, onEarlyError, fail);
      const once = (onCall: NextFunction): NextFunction => {
        let called = false;
        return (err) => {
          if (called) {
            exchange.fail(new HatchwayError('ERR_HATCHWAY_ADAPTER_NEXT_TWICE'));
            return;
          }
          called = true;
          onCall(err);
        };
      };
      if (errorHandler) {
        const handle = middleware as ConnectErrorMiddleware;
        return exchange.body(() =>
          runInner((err) => {
            const next = once((passed) => fail(isError(passed) ? passed : err));
            try {
              whenRejected(handle(err, req, res, next), fail);
            } catch (thrown) {
              fail(thrown);
            }
          }),
        );
      }
      const handle = middleware as ConnectMiddleware;
      return exchange.body(() => {
        const next = once((err) => {
          if (isError(err)) fail(err);
          else void runInner(fail);
        });
        return handle(req, res, next);
      });
    });
  };
}

/** Options of {@link toConnect}. */
export interface ToConnectOptions extends HostOptions {
  /**
   * Whether the handler is an app `(environ, startResponse)` or a middleware `(app) => app`.
   * By default a function of one parameter is a middleware, anything else an app.
   */
  kind?: 'app' | 'middleware';
}

/**
 * Mounts a hatchway app, or a hatchway middleware, in an Express/Connect app.
 *
 * - An app answers the request; its environ has `scriptName` from the mount path
 *   (`req.baseUrl`), `target` from `req.originalUrl`, `environ['connect.req']` = `req`, and
 *   every feature `false`. Its headers are merged into what earlier middleware set on `res`
 *   (same rules as {@link fromConnect}); an error before its commit goes to `next(err)`, so
 *   Express's error handlers answer it.
 * - A middleware wraps the rest of the Express chain: calling its inner app calls `next()`,
 *   and the downstream handlers' response becomes the inner app's response, which the
 *   middleware may change before it is written.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { toConnect } from 'hatchway/adapters/connect';
 *
 * const server = express();
 * server.use('/api', toConnect(hatchwayApp));
 * server.use(toConnect(hatchwayAccessLog)); // a hatchway middleware around later routes
 * ```
 */
export function toConnect(handler: App | Middleware, options: ToConnectOptions = {}): ConnectMiddleware {
  if (typeof handler !== 'function') throw new HatchwayError('ERR_HATCHWAY_ADAPTER_INVALID_ARGUMENT', 'toConnect(handler): an app or a middleware');
  const kind = options.kind ?? (handler.length === 1 ? 'middleware' : 'app');
  if (kind === 'app') {
    const app = handler as App;
    return function hatchwayApp(req, res, next) {
      let environ;
      try {
        environ = environFromHost(req, res, options, mountOf(req));
      } catch (err) {
        next(err); // a 400 for a target that does not decode, rendered by the host like its own
        return;
      }
      environ[CONNECT_REQ] = req;
      const sink = new HostSink(res, { headers: 'merge' });
      const done = run(
        guard(app, (err) => {
          sink.detached = true;
          next(err);
          return true;
        }),
        environ,
        sink,
      );
      if (done !== undefined) done.catch((err: unknown) => environ.errors.write(String(err)));
    };
  }
  const middleware = handler as Middleware;
  return function hatchwayMiddleware(req, res, next) {
    let outer;
    try {
      outer = environFromHost(req, res, options, mountOf(req));
    } catch (err) {
      next(err);
      return;
    }
    outer[CONNECT_REQ] = req;
    const sink = new HostSink(res, { headers: 'merge' });
    let downstream = false;
    const inner: App = (environ, startResponse) =>
      downstreamBody(req, res, outer, environ, startResponse, () => {
        downstream = true;
        next();
      }, sink);
    let app: App;
    try {
      app = middleware(inner);
    } catch (err) {
      next(err);
      return;
    }
    const done = run(
      guard(app, (err) => {
        // Once the rest of the chain ran, its next() is spent: the error gets hatchway's error response.
        if (downstream) return false;
        sink.detached = true;
        next(err);
        return true;
      }),
      outer,
      sink,
    );
    if (done !== undefined) done.catch((err: unknown) => outer.errors.write(String(err)));
  };
}
