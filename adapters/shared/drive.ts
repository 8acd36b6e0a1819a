/**
 * Driving a hatchway app from foreign code: call it, pull its body up to the commit point (the
 * first non-empty chunk, or the end — SPEC §3.4), and hand back status, headers and the rest
 * of the body. Adapters that put a hatchway app *inside* another framework (an Express
 * `next()`, a Koa `next()`, a fetch handler) need the response as values before they can
 * translate it; until the commit an error is still an ordinary exception the host can handle.
 */
import { FLUSH, HatchwayError, ResponseState, chunkLength, isBody } from '../../src/index.ts';
import type { App, Body, Chunk, Environ, Header, HeaderList, StartResponse, Status } from '../../src/index.ts';

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
      const chunks = body as Chunk[];
      for (const chunk of chunks) chunkLength(chunk);
      return commit(chunks.filter((c) => chunkLength(c) > 0), true, async () => undefined);
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
