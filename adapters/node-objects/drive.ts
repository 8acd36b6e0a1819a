/**
 * Driving a hatchway app from foreign code, up to and past its commit point (the first
 * non-empty chunk, `FLUSH`, or the end — SPEC §3.4). Adapters that put a hatchway app *inside*
 * another framework (an Express `next()`, a Koa `next()`, a fetch handler) need the response as
 * values before they can translate it; until the commit an error is still an ordinary
 * exception the host can handle.
 *
 * - {@link drive}: call the app, pull to the commit, hand back status, headers and the rest.
 * - {@link pumpApp}: the same, then written through a Node response that middleware may have
 *   patched (compression's `write`, express-session's `end`, on-headers' `writeHead`).
 * - {@link guard}: for an app the runner drives into a foreign host, hand an error before the
 *   commit to the host (Express's `next(err)`) instead of answering it.
 */
import type { ServerResponse } from 'node:http';
import { FLUSH, HatchwayError, ResponseState, bodyForbidden, chunkLength, isBody } from '../../src/index.ts';
import type { App, Body, Chunk, Environ, Header, HeaderList } from '../../src/index.ts';
import { whenDrained } from '../../src/host.ts';
import { mergeHeaders } from './headers.ts';

/** An app's response at its commit point. */
export interface Committed {
  status: number;
  /** The reason phrase the app gave, if any. */
  reason: string | undefined;
  headers: HeaderList;
  /** The chunks pulled so far: the first non-empty one, or (when `complete`) all of them. */
  chunks: Chunk[];
  /** True when `chunks` is the whole body, so its length is known. */
  complete: boolean;
  /** Pulls the next non-empty chunk after `chunks`; `undefined` at the end of the body. */
  next(): Promise<Chunk | undefined>;
  /** Closes the body: `iterator.return()` if it stopped early, then `body.close()`; exactly once. */
  close(): void;
}


/**
 * A body whose Content-Length field a Node listener did not set but Node would have added (a
 * lone `res.end(data)`) names that field here. When an adapter layer drives such a response into
 * *its* `res`, it drops the field and replays the `end(data)`, so middleware that patched that
 * `res` (compression calls `writeHead` first, and Node then sends no length) decides as it would
 * on a single Express `res`. A server that gets the field just sends it, as Node would have; a
 * middleware in between that wraps the body hides the mark, and the length stays declared.
 */
export const IMPLICIT_LENGTH = Symbol('hatchway.implicitLength');

/** A body that may carry {@link IMPLICIT_LENGTH}. */
export interface MarkedBody {
  [IMPLICIT_LENGTH]?: Header | undefined;
}

/**
 * Calls `app` and pulls its body to the commit point. Rejects (after closing the body) with
 * whatever the app threw before committing; the caller owns `close()` after that.
 */
export async function drive(app: App, environ: Environ): Promise<Committed> {
  const recorder = new ResponseState();
  return driveBody(app(environ, recorder.startResponse), recorder, environ);
}

/** {@link drive} for an app already called with `recorder.startResponse`. */
export async function driveBody(body: unknown, recorder: ResponseState, environ: Environ): Promise<Committed> {
  if (!isBody(body)) throw new HatchwayError('ERR_HATCHWAY_INVALID_BODY', body);
  let closed = false;
  let iterator: Iterator<Chunk> | AsyncIterator<Chunk> | undefined;
  let exhausted = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    let failure: unknown;
    if (iterator !== undefined && !exhausted && typeof iterator.return === 'function') {
      try {
        const result = iterator.return();
        if (result instanceof Promise) result.catch((err: unknown) => environ.errors.write(String(err)));
      } catch (err) {
        failure = err;
      }
    }
    if (typeof body.close === 'function') {
      try {
        body.close();
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure !== undefined) environ.errors.write(failure instanceof Error ? (failure.stack ?? failure.message) : String(failure));
  };
  let implicit: Header | undefined;
  const commit = (chunks: Chunk[], complete: boolean, next: () => Promise<Chunk | undefined>): Committed => {
    recorder.commit();
    let headers = recorder.headers;
    if (complete && implicit !== undefined) headers = headers.filter((h) => h !== implicit);
    return { status: recorder.status, reason: recorder.reason, headers, chunks, complete, next, close };
  };
  /** True when the response carries an implicit length that `chunks` already fill. */
  const filledImplicitLength = (chunks: Chunk[]): boolean => {
    implicit = (body as MarkedBody)[IMPLICIT_LENGTH];
    if (implicit !== undefined && !recorder.headers.includes(implicit)) implicit = undefined;
    return implicit !== undefined && Number(implicit[1]) === totalLength(chunks);
  };
  try {
    if (Array.isArray(body)) {
      const chunks = (body as Chunk[]).filter((c) => chunkLength(c) > 0);
      filledImplicitLength(chunks); // a listener's lone end(data), when its whole response is this array
      return commit(chunks, true, async () => undefined);
    }
    const isAsync = typeof (body as AsyncIterable<Chunk>)[Symbol.asyncIterator] === 'function';
    iterator = isAsync ? (body as AsyncIterable<Chunk>)[Symbol.asyncIterator]() : (body as Iterable<Chunk>)[Symbol.iterator]();
    const it = iterator;
    const pull = async (): Promise<Chunk | undefined> => {
      for (;;) {
        if (closed) return undefined;
        let result: IteratorResult<Chunk>;
        try {
          result = isAsync ? await (it as AsyncIterator<Chunk>).next() : (it as Iterator<Chunk>).next();
        } catch (err) {
          exhausted = true;
          throw err;
        }
        if (result.done) {
          exhausted = true;
          return undefined;
        }
        if (chunkLength(result.value) > 0 || result.value === FLUSH) return result.value;
      }
    };
    const first = await pull();
    if (first === undefined) return commit([], true, pull);
    if (first === FLUSH) return commit([first], false, pull); // an explicit commit (SPEC §3.4)
    if (isAsync && filledImplicitLength([first])) {
      // A lone end(data): its body is all here; one more pull lets the listener's 'finish' happen.
      const second = await pull();
      if (second === undefined) return commit([first], true, pull);
      return commit([first, second], false, pull);
    }
    if (!isAsync) {
      // A sync body can be asked for its second chunk at no cost: a one-chunk body has a known length.
      const second = await pull();
      if (second === undefined) return commit([first], true, pull);
      return commit([first, second], false, pull);
    }
    return commit([first], false, pull);
  } catch (err) {
    close();
    throw err;
  }
}

/** The sum of the chunks' byte lengths. */
export function totalLength(chunks: Chunk[]): number {
  let n = 0;
  for (const c of chunks) n += chunkLength(c);
  return n;
}

/** Writes a committed response into `res`; rejects if the body fails after its commit. */
export async function writeCommitted(committed: Committed, res: ServerResponse, method: string): Promise<void> {
  try {
    mergeHeaders(res, committed.headers);
    res.statusCode = committed.status;
    if (committed.reason !== undefined) res.statusMessage = committed.reason;
    const bodyless = bodyForbidden(method, committed.status);
    const chunks = committed.chunks;
    if (committed.complete) {
      // A known length: one end(data) lets Node set Content-Length itself, as for a route.
      if (chunks.length <= 1 || bodyless) {
        if (chunks.length === 1 && !bodyless) res.end(chunks[0]);
        else res.end();
        return;
      }
      if (!res.hasHeader('content-length')) res.setHeader('Content-Length', totalLength(chunks));
    }
    if (!bodyless) {
      for (let i = 0, chunk: Chunk | undefined = chunks[0]; chunk !== undefined; chunk = i + 1 < chunks.length ? chunks[++i] : await next(committed, res)) {
        if (chunk === FLUSH) res.flushHeaders(); // the inner app committed early: so does this layer
        else if (!res.write(chunk)) await whenDrained(res);
      }
    }
    if (!res.destroyed) res.end();
  } finally {
    committed.close();
  }
}

function next(committed: Committed, res: ServerResponse): Promise<Chunk | undefined> {
  return res.destroyed ? Promise.resolve(undefined) : committed.next();
}

/**
 * Runs `app` for `environ` and writes its response into `res`. An error before the app's
 * commit goes to `onEarlyError` (Express-style error handling still possible); one after it
 * goes to `onLateError` (too late to answer: abort).
 */
export async function pumpApp(app: App, environ: Environ, res: ServerResponse, onEarlyError: (err: unknown) => void, onLateError: (err: unknown) => void): Promise<void> {
  let committed: Committed;
  try {
    committed = await drive(app, environ);
  } catch (err) {
    onEarlyError(err);
    return;
  }
  try {
    await writeCommitted(committed, res, environ.method);
  } catch (err) {
    onLateError(err);
  }
}

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
