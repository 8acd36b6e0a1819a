/**
 * The trailers escape (SPEC §7.6): an app registers a body and a function that computes
 * trailer fields after it (a checksum, a gRPC status). Honoured as chunked encoding with
 * trailers on HTTP/1.1 with `TE: trailers`, as trailing HEADERS with END_STREAM on HTTP/2;
 * elsewhere the body is sent and the trailers dropped and reported — unless they are
 * required, which gets a clear 400 instead of a silently incomplete response.
 */
import type { HttpError } from 'http-errors';
import type { App, Body, Chunk, Environ, HeaderList, StartResponse, Status } from '../gateway/types.ts';
import type { ResponseSink } from '../gateway/run.ts';
import { chunkLength, closeBody } from '../gateway/body.ts';
import { errorResponse, formatError } from '../gateway/error-response.ts';
import { httpError } from '../wire/errors.ts';
import { bodyForbidden, parseStatus } from '../protocol/headers.ts';
import { validateTrailers } from '../protocol/trailers.ts';
import { CONTROL_HEADER, type BaseRegistration } from './registry.ts';
import { withoutExtension } from './degrade.ts';

/** The environ key of the trailers extension. */
export const TRAILERS_KEY = 'hatchway.trailers';

/** What an app registers. */
export interface TrailersRegistration extends BaseRegistration {
  /** The response body (or a function making it, called when the response is sent). */
  body: Body | (() => Body);
  /** Computes the trailer fields once the body is over. */
  trailers: () => HeaderList | Promise<HeaderList>;
  /** Trailer names to announce in the `Trailer` header (RFC 9110 §6.6.2). */
  names?: string[];
  /** The response is useless without its trailers (gRPC): refuse where they cannot be sent. */
  required?: boolean;
  /** Told the trailers that were computed but could not be sent. */
  onDropped?: (trailers: HeaderList) => void;
  /** Answers instead when a middleware altered the token body (default: the body without trailers). */
  fallback?: App;
  /**
   * The status of the token response (`sendWithTrailers` sets it; default 200). A response that
   * reaches the server with another status was answered by a middleware (a 304, a 403).
   */
  status?: number;
}

/** The extension a server puts at `environ['hatchway.trailers']`. */
export type TrailersExtension = (registration: TrailersRegistration) => string;

/** Options of {@link sendWithTrailers}: the registration plus the response's status and headers. */
export interface TrailersResponse extends Omit<TrailersRegistration, 'status'> {
  /** The response's status (a number or `'200 OK'`; default 200). */
  status?: Status;
  /** The response's header fields; `sendWithTrailers` adds the control field. */
  headers?: HeaderList;
}

/** Makes the registration's body (calls it if it is a function). */
export function trailersBody(registration: TrailersRegistration): Body {
  return typeof registration.body === 'function' ? registration.body() : registration.body;
}

/**
 * Reports dropped trailers to `onDropped`. The response is complete by then: a callback that
 * throws is reported to `environ.errors` and fails nothing (it must not reset the connection).
 */
function dropped(registration: TrailersRegistration, trailers: HeaderList, environ: Environ): void {
  try {
    registration.onDropped?.(trailers);
  } catch (err) {
    environ.errors.write(formatError(err));
  }
}

/** The 400 of a required registration whose trailers cannot reach the client. */
export function trailersRequired(): HttpError {
  return httpError('ERR_HATCHWAY_TRAILERS_REQUIRED');
}

/**
 * The degrade for a host without trailers: the body, then the trailers computed and
 * reported to `onDropped`; a required registration gets a 400 instead.
 */
export function withoutTrailers(registration: TrailersRegistration, status: Status = registration.status ?? 200, headers: HeaderList = []): App {
  return (environ, startResponse) => {
    if (registration.required) throw trailersRequired();
    startResponse(status, headers.filter(([name]) => name.toLowerCase() !== 'content-length'));
    const body = trailersBody(registration);
    return {
      async *[Symbol.asyncIterator](): AsyncGenerator<Chunk> {
        yield* body as AsyncIterable<Chunk>;
        dropped(registration, await registration.trailers(), environ);
      },
      close: () => body.close?.(),
    };
  };
}

/**
 * Answers with a body followed by trailers.
 *
 * @example
 * ```ts
 * const app: App = (environ, startResponse) => {
 *   const hash = createHash('sha256');
 *   return sendWithTrailers(environ, startResponse, {
 *     headers: [['content-type', 'text/plain']],
 *     names: ['digest'],
 *     body: (function* () { for (const part of ['a', 'b']) { hash.update(part); yield part; } })(),
 *     trailers: () => [['digest', `sha-256=${hash.digest('base64')}`]],
 *   });
 * };
 * ```
 */
export function sendWithTrailers(environ: Environ, startResponse: StartResponse, response: TrailersResponse): Body {
  const { status = 200, headers = [], ...rest } = response;
  const registration: TrailersRegistration = rest;
  const register = environ[TRAILERS_KEY] as TrailersExtension | undefined;
  if (typeof register !== 'function') {
    // No extension (a foreign host): the table's ineligible cells decide, as on hatchway's server.
    if (withoutExtension('trailers', environ.protocol, registration.required === true) === 'error') throw trailersRequired();
    return withoutTrailers({ ...registration, required: false }, status, headers)(environ, startResponse);
  }
  registration.fallback ??= withoutTrailers(registration, status, headers);
  registration.status = parseStatus(status).code;
  const token = register(registration);
  startResponse(status, [...headers.filter(([name]) => name.toLowerCase() !== 'content-length'), [CONTROL_HEADER, `trailers ${token}`]]);
  return [token];
}

/** The default fallback of a trailers registration: its body without trailers, at its status. */
export function trailersFallback(registration: TrailersRegistration): App {
  return withoutTrailers(registration);
}

/** The head of a response that an escape sends itself. */
export interface EscapeHead {
  method: string;
  status: number;
  reason: string | undefined;
  headers: HeaderList;
}

/**
 * Sends a trailers registration's body with `head`, then its trailers (`send`), or drops them
 * and reports them to `onDropped`. Never throws or rejects: a failure before the head becomes an
 * error response, after it an abort; the body is closed on every path. `sink` is the escape
 * sink's scanned sink, which keeps a token out of the trailers too. An array body whose trailers
 * need no waiting — the common case — is sent at once and `undefined` returned; otherwise a
 * promise settles when it is over.
 */
export function streamTrailers(sink: ResponseSink, registration: TrailersRegistration, head: EscapeHead, send: boolean, environ: Environ): Promise<void> | undefined {
  let body: Body | undefined;
  let committed = false;
  try {
    body = trailersBody(registration);
    const headers = head.headers.filter(([name]) => name.toLowerCase() !== 'content-length');
    if (bodyForbidden(head.method, head.status)) {
      // HEAD: the head a GET would get, no body and so no trailers.
      sink.head(head.status, head.reason, headers, undefined);
      sink.end();
      return closed(body, environ);
    }
    if (send && registration.names?.length) headers.push(['trailer', registration.names.join(', ')]);
    if (!Array.isArray(body)) return streamBody(sink, registration, head, headers, send, environ, body);
    sink.head(head.status, head.reason, headers, undefined, send);
    committed = true;
    for (let i = 0; i < body.length; i++) {
      if (sink.closed) return closed(body, environ);
      const chunk = body[i];
      if (chunkLength(chunk) > 0) sink.write(chunk!);
    }
    const trailers = registration.trailers();
    if (!Array.isArray(trailers)) return awaitTrailers(sink, registration, head, trailers, send, environ, body);
    endWith(sink, registration, trailers, send, environ);
  } catch (err) {
    failed(sink, head, environ, err, committed);
  }
  return closed(body, environ);
}

/** The body of {@link streamTrailers} that must be waited for: an iterable, sync or async. */
async function streamBody(
  sink: ResponseSink,
  registration: TrailersRegistration,
  head: EscapeHead,
  headers: HeaderList,
  send: boolean,
  environ: Environ,
  body: Body,
): Promise<void> {
  let iterator: Iterator<Chunk> | AsyncIterator<Chunk> | undefined;
  let exhausted = false;
  let committed = false;
  try {
    const isAsync = typeof (body as AsyncIterable<Chunk>)[Symbol.asyncIterator] === 'function';
    iterator = isAsync ? (body as AsyncIterable<Chunk>)[Symbol.asyncIterator]() : (body as Iterable<Chunk>)[Symbol.iterator]();
    sink.head(head.status, head.reason, headers, undefined, send);
    committed = true;
    for (;;) {
      const result = await iterator.next();
      if (result.done) {
        exhausted = true;
        break;
      }
      if (sink.closed) return;
      if (chunkLength(result.value) > 0 && !sink.write(result.value)) await sink.drained();
    }
    endWith(sink, registration, await registration.trailers(), send, environ);
  } catch (err) {
    exhausted = true;
    failed(sink, head, environ, err, committed);
  } finally {
    if (!exhausted) await Promise.resolve(iterator?.return?.()).catch(() => {});
    closed(body, environ);
  }
}

/** The end of an array body whose trailers are a promise. */
async function awaitTrailers(
  sink: ResponseSink,
  registration: TrailersRegistration,
  head: EscapeHead,
  trailers: HeaderList | Promise<HeaderList>,
  send: boolean,
  environ: Environ,
  body: Body,
): Promise<void> {
  try {
    endWith(sink, registration, await trailers, send, environ);
  } catch (err) {
    failed(sink, head, environ, err, true);
  } finally {
    closed(body, environ);
  }
}

/** The end of the body: with the trailers (`send`), or without them and reported to `onDropped`. */
function endWith(sink: ResponseSink, registration: TrailersRegistration, trailers: HeaderList, send: boolean, environ: Environ): void {
  validateTrailers(trailers);
  if (sink.closed) return;
  if (send) sink.end(undefined, trailers);
  else {
    sink.end();
    dropped(registration, trailers, environ);
  }
}

/** A failure, reported: an error response if nothing was committed, else an abort. */
function failed(sink: ResponseSink, head: EscapeHead, environ: Environ, err: unknown, committed: boolean): void {
  environ.errors.write(formatError(err));
  if (committed) sink.abort(err);
  else if (!sink.closed) {
    const e = errorResponse(err);
    sink.head(e.status, undefined, e.headers, undefined);
    sink.end(head.method === 'HEAD' ? undefined : e.body);
  }
}

/** Closes the body, reporting what its close() threw. */
function closed(body: Body | undefined, environ: Environ): undefined {
  const err = closeBody(body);
  if (err !== undefined) environ.errors.write(formatError(err));
  return undefined;
}
