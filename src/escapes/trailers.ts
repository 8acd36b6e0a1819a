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
 * and reports them to `onDropped`. Never rejects: a failure before the head becomes an error
 * response, after it an abort; the body is closed on every path. `clean` filters the trailer
 * fields before they leave (a token in one is never sent).
 */
export async function streamTrailers(
  sink: ResponseSink,
  registration: TrailersRegistration,
  head: EscapeHead,
  send: boolean,
  environ: Environ,
  clean: (trailers: HeaderList) => HeaderList,
): Promise<void> {
  let body: Body | undefined;
  let iterator: Iterator<Chunk> | AsyncIterator<Chunk> | undefined;
  let exhausted = false;
  let committed = false;
  try {
    body = trailersBody(registration);
    const headers = head.headers.filter(([name]) => name.toLowerCase() !== 'content-length');
    if (bodyForbidden(head.method, head.status)) {
      // HEAD: the head a GET would get, no body and so no trailers.
      exhausted = true;
      sink.head(head.status, head.reason, headers, undefined);
      sink.end();
      return;
    }
    if (send && registration.names?.length) headers.push(['trailer', registration.names.join(', ')]);
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
    const trailers = await registration.trailers();
    validateTrailers(trailers);
    if (sink.closed) return;
    if (send) sink.end(undefined, clean(trailers));
    else {
      sink.end();
      dropped(registration, trailers, environ);
    }
  } catch (err) {
    exhausted = true;
    environ.errors.write(formatError(err));
    if (committed) sink.abort(err);
    else if (!sink.closed) {
      const e = errorResponse(err);
      sink.head(e.status, undefined, e.headers, undefined);
      sink.end(head.method === 'HEAD' ? undefined : e.body);
    }
  } finally {
    if (!exhausted) await Promise.resolve(iterator?.return?.()).catch(() => {});
    const err = closeBody(body);
    if (err !== undefined) environ.errors.write(formatError(err));
  }
}
