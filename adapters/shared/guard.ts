/**
 * Handing an app's failure to the host instead of answering it: when a hatchway app runs
 * inside Express, an error before the commit should reach Express's error handlers (`next(err)`)
 * exactly as an error thrown by a route would. After the commit it is too late; the response
 * is aborted as usual.
 */
import type { App, Body, Chunk } from '../../src/index.ts';
import { chunkLength } from '../../src/index.ts';

/**
 * Wraps `app` so that an error before its commit point goes to `handOff(err)` instead of
 * becoming an error response. When `handOff` returns `true` it took the error (the runner is
 * then given an empty, already-replaced response that the caller's sink discards); `false`
 * leaves it to the runner.
 */
export function guard(app: App, handOff: (err: unknown) => boolean): App {
  return function guarded(environ, startResponse) {
    let handedOff = false;
    const tryHandOff = (err: unknown): void => {
      if (!handOff(err)) throw err;
      handedOff = true;
      startResponse(500, [], err); // replaces whatever was recorded; the sink discards it
    };
    let body: Body;
    try {
      body = app(environ, startResponse);
    } catch (err) {
      tryHandOff(err);
      return [];
    }
    if (Array.isArray(body) || body === null || typeof body !== 'object') return body;
    let committed = false;
    const seen = (result: IteratorResult<Chunk>): IteratorResult<Chunk> => {
      if (result.done || chunkLength(result.value) > 0) committed = true;
      return result;
    };
    const done: IteratorResult<Chunk> = { done: true, value: undefined };
    const close = () => body.close?.();
    if (typeof (body as AsyncIterable<Chunk>)[Symbol.asyncIterator] === 'function') {
      const source = body as AsyncIterable<Chunk>;
      return {
        [Symbol.asyncIterator](): AsyncIterator<Chunk> {
          const it = source[Symbol.asyncIterator]();
          return {
            async next() {
              if (handedOff) return done;
              try {
                return seen(await it.next());
              } catch (err) {
                if (committed) throw err;
                tryHandOff(err);
                return done;
              }
            },
            async return() {
              await it.return?.();
              return done;
            },
          };
        },
        close,
      };
    }
    const source = body as Iterable<Chunk>;
    if (typeof source[Symbol.iterator] !== 'function') return body;
    // The runner asks a sync body for one chunk past the first before it commits (to learn a
    // length), so for a sync body the commit point is one successful pull later.
    let first = false;
    return {
      [Symbol.iterator](): Iterator<Chunk> {
        const it = source[Symbol.iterator]();
        return {
          next() {
            if (handedOff) return done;
            try {
              const result = it.next();
              if (first || result.done) committed = true;
              else if (chunkLength(result.value) > 0) first = true;
              return result;
            } catch (err) {
              if (committed) throw err;
              tryHandOff(err);
              return done;
            }
          },
          return() {
            it.return?.();
            return done;
          },
        };
      },
      close,
    };
  };
}
