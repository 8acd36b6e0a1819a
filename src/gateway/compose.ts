/**
 * Composing middleware, and small helpers for writing apps.
 */
import type { App, Body, Chunk, Environ, Middleware, StartResponse } from './types.ts';

/**
 * Composes middleware outermost first: `compose(a, b, c)(app)` is `a(b(c(app)))`, so `a`
 * sees the request first and the response last.
 *
 * @example
 * ```ts
 * const stack = compose(accessLog(), errors(), cors())(app);
 * ```
 */
export function compose(...middleware: Middleware[]): Middleware {
  return (app: App): App => {
    let composed = app;
    for (let i = middleware.length - 1; i >= 0; i--) composed = middleware[i]!(composed);
    return composed;
  };
}

/**
 * Turns an `async` handler into an app. The handler may await (read the body, query a
 * database) before calling `startResponse`; its body is streamed once it resolves. Because
 * nothing is committed until the first chunk, middleware around it sees `startResponse`
 * called late, during iteration, as SPEC §3.3 allows.
 *
 * @example
 * ```ts
 * const echo = asyncApp(async (environ, startResponse) => {
 *   const text = await environ.input.text(1 << 20);
 *   startResponse(200, [['content-type', 'text/plain']]);
 *   return [text];
 * });
 * ```
 */
export function asyncApp(handler: (environ: Environ, startResponse: StartResponse) => Promise<Body>): App {
  return (environ, startResponse) => {
    let inner: Body | undefined;
    let closed = false;
    return {
      async *[Symbol.asyncIterator](): AsyncGenerator<Chunk> {
        inner = await handler(environ, startResponse);
        if (closed) return;
        yield* inner as AsyncIterable<Chunk>;
      },
      close() {
        closed = true;
        inner?.close?.();
      },
    };
  };
}
