/**
 * The trailers escape (SPEC §7.6): an app registers a body and a function that computes
 * trailer fields after it (a checksum, a gRPC status). Honoured as chunked encoding with
 * trailers on HTTP/1.1 with `TE: trailers`, as trailing HEADERS with END_STREAM on HTTP/2;
 * elsewhere the body is sent and the trailers dropped and reported — unless they are
 * required, which gets a clear 400 instead of a silently incomplete response.
 */
import createError from 'http-errors';
import type { App, Body, Chunk, Environ, HeaderList, StartResponse, Status } from '../gateway/types.ts';
import { CONTROL_HEADER, type BaseRegistration } from './registry.ts';

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
}

/** The extension a server puts at `environ['hatchway.trailers']`. */
export type TrailersExtension = (registration: TrailersRegistration) => string;

/** Options of {@link sendWithTrailers}: the registration plus the response's status and headers. */
export interface TrailersResponse extends TrailersRegistration {
  status?: Status;
  headers?: HeaderList;
}

/** Makes the registration's body (calls it if it is a function). */
export function trailersBody(registration: TrailersRegistration): Body {
  return typeof registration.body === 'function' ? registration.body() : registration.body;
}

/**
 * The degrade for a host without trailers: the body, then the trailers computed and
 * reported to `onDropped`; a required registration gets a 400 instead.
 */
export function withoutTrailers(registration: TrailersRegistration, status: Status = 200, headers: HeaderList = []): App {
  return (_environ, startResponse) => {
    if (registration.required) {
      throw createError(400, 'this response needs trailers: send TE: trailers (HTTP/1.1) or use HTTP/2', { code: 'ERR_HATCHWAY_TRAILERS_REQUIRED' });
    }
    startResponse(status, headers.filter(([name]) => name.toLowerCase() !== 'content-length'));
    const body = trailersBody(registration);
    return {
      async *[Symbol.asyncIterator](): AsyncGenerator<Chunk> {
        yield* body as AsyncIterable<Chunk>;
        registration.onDropped?.(await registration.trailers());
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
  const { status = 200, headers = [], ...registration } = response;
  const register = environ[TRAILERS_KEY] as TrailersExtension | undefined;
  if (typeof register !== 'function') return withoutTrailers(registration, status, headers)(environ, startResponse);
  registration.fallback ??= withoutTrailers(registration, status, headers);
  const token = register(registration);
  startResponse(status, [...headers.filter(([name]) => name.toLowerCase() !== 'content-length'), [CONTROL_HEADER, `trailers ${token}`]]);
  return [token];
}
