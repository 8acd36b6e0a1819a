/**
 * The runner: calls an app for one request and drives its response into a front-end's
 * {@link ResponseSink} — the analogue of `wsgiref.handlers.BaseHandler.run` (SPEC §5).
 *
 * - Late commit: status and headers go out with the first non-empty chunk or the end of the
 *   body, so until then an error can still become an error response.
 * - Content-Length is set when the whole body is known (an array, or a sync iterator that
 *   ends right after its first chunk); otherwise the front-end frames the body itself.
 * - After the commit an error aborts the response (the front-end resets it) so a truncated
 *   response never looks complete.
 * - The body is closed exactly once on every path: `iterator.return()` when iteration
 *   stopped early, then `body.close()`.
 */
import { HatchwayError } from '../wire/errors.ts';
import { ResponseState } from './start-response.ts';
import { FLUSH, FileBody, chunkLength, closeBody, isBody } from './body.ts';
import { refusesPath } from './raw-path.ts';
import { errorResponse, formatError } from './error-response.ts';
import { bodyForbidden, getHeader } from '../protocol/headers.ts';
import type { App, Body, Chunk, Environ, HeaderList } from './types.ts';

/**
 * What a protocol front-end offers the runner: one uniform writer shape for every protocol.
 * The runner calls `head` at most once, then `write`/`end`, or `file` instead of all three;
 * `abort` may come at any time after `head`.
 */
export interface ResponseSink {
  /** True once the client is gone or the response was torn down. */
  readonly closed: boolean;
  /**
   * Commits the status and headers. `length` is the body's length when the runner knows it
   * and the app did not set Content-Length itself; `undefined` means "frame it yourself".
   */
  head(status: number, reason: string | undefined, headers: HeaderList, length: number | undefined, trailers?: boolean): void;
  /** Writes a chunk; `false` asks the runner to wait for {@link drained}. */
  write(chunk: Chunk): boolean;
  /** Resolves when the sink can take more data, or is closed. */
  drained(): Promise<void>;
  /** Ends the response, with an optional last chunk, and trailers if `head` announced them. */
  end(chunk?: Chunk, trailers?: HeaderList): void;
  /**
   * Commits status and headers (adding Content-Length: `size`) and sends `size` bytes of a
   * file body, zero-copy where the protocol can; `bodyless` sends the head only.
   */
  file(status: number, reason: string | undefined, headers: HeaderList, body: FileBody, size: number, bodyless: boolean): Promise<void>;
  /** Tears down a committed response (connection reset, RST_STREAM). */
  abort(error: unknown): void;
}

/**
 * Runs `app` for one request. Never throws and never rejects: every failure ends in an error
 * response, an aborted response or a log line. Returns a promise only when the body is
 * streamed; an array body is sent synchronously.
 */
export function run(app: App, environ: Environ, sink: ResponseSink): Promise<void> | undefined {
  const method = environ.method;
  const response = new ResponseState();
  let body: Body;
  try {
    refusesPath(app, environ); // SPEC §2.2: an undecodable path reaches only an app that takes one
    body = app(environ, response.startResponse);
    if (!isBody(body)) throw new HatchwayError('ERR_HATCHWAY_INVALID_BODY', body);
  } catch (err) {
    sendError(environ, sink, err);
    return undefined;
  }
  if (Array.isArray(body)) {
    sendArray(environ, sink, response, method, body);
    return undefined;
  }
  return stream(environ, sink, response, method, body);
}

function sendArray(environ: Environ, sink: ResponseSink, response: ResponseState, method: string, body: Body & Chunk[]): void {
  let length = 0;
  try {
    for (let i = 0; i < body.length; i++) length += chunkLength(body[i]);
    response.commit();
  } catch (err) {
    report(environ, closeBody(body));
    sendError(environ, sink, err);
    return;
  }
  const declared = declaredLength(response.headers);
  const bodyless = bodyForbidden(method, response.status);
  if (declared !== undefined && declared !== length && !bodyless) {
    report(environ, closeBody(body));
    sendError(environ, sink, new HatchwayError('ERR_HATCHWAY_CONTENT_LENGTH_MISMATCH', length, declared));
    return;
  }
  sink.head(response.status, response.reason, response.headers, declared === undefined ? implicitLength(method, response.status, length) : undefined);
  if (bodyless || length === 0) sink.end();
  else if (body.length === 1) sink.end(body[0]);
  else {
    // Empty chunks carry nothing (§4.2): a sink never sees one, as with a streamed body.
    for (let i = 0; i < body.length; i++) if (chunkLength(body[i]) > 0) sink.write(body[i]!);
    sink.end();
  }
  report(environ, closeBody(body));
}

async function stream(environ: Environ, sink: ResponseSink, response: ResponseState, method: string, body: Body): Promise<void> {
  const isAsync = typeof (body as AsyncIterable<Chunk>)[Symbol.asyncIterator] === 'function';
  let iterator: Iterator<Chunk> | AsyncIterator<Chunk> | undefined;
  let exhausted = false; // the iterator finished or threw: no return() owed
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    if (iterator !== undefined && !exhausted && typeof iterator.return === 'function') {
      try {
        const result = iterator.return();
        if (result instanceof Promise) result.catch((err: unknown) => report(environ, err));
      } catch (err) {
        report(environ, err);
      }
    }
    report(environ, closeBody(body));
  };
  const signal = environ.signal;
  signal.addEventListener('abort', close);
  const next = async (): Promise<IteratorResult<Chunk>> => {
    try {
      const result = isAsync ? await (iterator as AsyncIterator<Chunk>).next() : (iterator as Iterator<Chunk>).next();
      if (result.done) exhausted = true;
      return result;
    } catch (err) {
      exhausted = true;
      throw err;
    }
  };

  let committed = false;
  try {
    if (body instanceof FileBody) {
      const size = await body.size();
      response.commit();
      let headers = response.headers;
      const declared = declaredLength(headers);
      if (declared !== undefined) {
        if (declared !== size) throw new HatchwayError('ERR_HATCHWAY_CONTENT_LENGTH_MISMATCH', size, declared);
        headers = headers.filter((h) => h[0].toLowerCase() !== 'content-length');
      }
      committed = true;
      await sink.file(response.status, response.reason, headers, body, size, bodyForbidden(method, response.status));
      return;
    }
    iterator = isAsync ? (body as AsyncIterable<Chunk>)[Symbol.asyncIterator]() : (body as Iterable<Chunk>)[Symbol.iterator]();

    // Pull until the first non-empty chunk or the end: the commit point.
    let result = await next();
    let firstLength = 0;
    while (!result.done) {
      if (closed) return;
      firstLength = chunkLength(result.value);
      if (firstLength > 0 || result.value === FLUSH) break; // FLUSH: an explicit commit (§3.4)
      result = await next();
    }
    if (closed) return;
    response.commit();
    const declared = declaredLength(response.headers);
    const bodyless = bodyForbidden(method, response.status);
    // A sync iterator can be asked for its second chunk at no cost: if there is none, the
    // length is known and the response gets a Content-Length instead of chunked framing.
    let peeked: IteratorResult<Chunk> | undefined;
    if (!result.done && !isAsync && !bodyless && firstLength > 0) peeked = await next();
    const knownLength = result.done ? 0 : peeked?.done ? firstLength : undefined;
    const flushed = !result.done && firstLength === 0;
    if (declared !== undefined && knownLength !== undefined && declared !== knownLength && !bodyless) {
      throw new HatchwayError('ERR_HATCHWAY_CONTENT_LENGTH_MISMATCH', knownLength, declared);
    }
    committed = true;
    sink.head(
      response.status,
      response.reason,
      response.headers,
      declared === undefined && knownLength !== undefined ? implicitLength(method, response.status, knownLength) : undefined,
    );
    if (bodyless || result.done) {
      sink.end();
      return;
    }
    if (knownLength !== undefined && !flushed) {
      sink.end(result.value);
      return;
    }
    let sent = 0;
    const send = async (chunk: Chunk, length: number): Promise<void> => {
      sent += length;
      if (declared !== undefined && sent > declared) throw new HatchwayError('ERR_HATCHWAY_CONTENT_LENGTH_MISMATCH', sent, declared);
      if (!sink.write(chunk)) await sink.drained();
    };
    // FLUSH is the one empty chunk a sink sees: "send the head now" (each front-end sends the head
    // on a write and writes nothing for an empty chunk).
    if (flushed) sink.write(FLUSH);
    else await send(result.value, firstLength);
    if (peeked !== undefined) await send(peeked.value, chunkLength(peeked.value));
    while (!closed && !sink.closed) {
      result = await next();
      if (result.done) break;
      const length = chunkLength(result.value);
      if (length > 0) await send(result.value, length);
    }
    if (closed || sink.closed) return;
    if (declared !== undefined && sent !== declared) throw new HatchwayError('ERR_HATCHWAY_CONTENT_LENGTH_MISMATCH', sent, declared);
    sink.end();
  } catch (err) {
    close();
    if (committed) {
      report(environ, err);
      sink.abort(err);
    } else if (!sink.closed) {
      sendError(environ, sink, err);
    }
  } finally {
    signal.removeEventListener('abort', close);
    close();
  }
}

/** Sends the error response for a failure before the commit. */
function sendError(environ: Environ, sink: ResponseSink, err: unknown): void {
  const res = errorResponse(err);
  if (res.log) report(environ, err);
  if (sink.closed) return;
  sink.head(res.status, undefined, res.headers, undefined);
  sink.end(environ.method === 'HEAD' ? undefined : res.body);
}

function report(environ: Environ, err: unknown): void {
  if (err === undefined) return;
  try {
    environ.errors.write(formatError(err));
  } catch {
    // An error stream that throws must not take the request down with it.
  }
}

function declaredLength(headers: HeaderList): number | undefined {
  const value = getHeader(headers, 'content-length');
  if (value === undefined) return undefined;
  const n = Number(value);
  return /^\d+$/.test(value) && Number.isSafeInteger(n) ? n : undefined;
}

// RFC 9110 §8.6: no Content-Length on a 204; on a 304 only the length a 200 would have had,
// which the runner cannot know (the app sends no body), so none. A HEAD body that is empty is
// usually an app skipping the body, not an empty representation: send no length (§9.3.2 lets
// a HEAD response omit it) rather than a Content-Length: 0 that a cache would believe.
function implicitLength(method: string, status: number, length: number): number | undefined {
  return status === 204 || status === 304 || (length === 0 && method === 'HEAD') ? undefined : length;
}
