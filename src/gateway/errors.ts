/**
 * hatchway's own errors: one table of codes, each with a message and a hint, in the manner
 * of fastify's `lib/errors.js`. Programmer misuse throws a {@link HatchwayError} at once;
 * a peer's fault never becomes an exception across I/O (it becomes a status, a close code
 * or an RST).
 *
 * @module
 */

const table = {
  ERR_HATCHWAY_INVALID_STATUS: 'invalid status %s: a three-digit code from 200 to 599, optionally followed by a space and a reason phrase of visible Latin-1 characters, spaces and tabs',
  ERR_HATCHWAY_INVALID_HEADER_NAME: 'invalid header name %s: header names are RFC 9110 tokens',
  ERR_HATCHWAY_INVALID_HEADER_VALUE: 'invalid value for header %s: header values are visible Latin-1 characters, spaces and tabs (no CR, LF, NUL or other controls, nothing above U+00FF)',
  ERR_HATCHWAY_HOP_BY_HOP_HEADER: 'header %s is hop-by-hop: the server manages it, an app may not set it',
  ERR_HATCHWAY_INVALID_HEADERS: 'headers must be an array of [name, value] string pairs',
  ERR_HATCHWAY_START_RESPONSE_TWICE: 'startResponse called twice without excInfo: pass excInfo to replace a response after an error',
  ERR_HATCHWAY_NO_START_RESPONSE: 'the body yielded data (or ended) before startResponse was called: call startResponse before the first chunk',
  ERR_HATCHWAY_INVALID_BODY: 'the app returned %s: an app returns an iterable or async iterable of chunks (did you forget a return, or return a Promise? wrap async apps with asyncApp())',
  ERR_HATCHWAY_INVALID_CHUNK: 'the body yielded %s: chunks are strings or Uint8Arrays',
  ERR_HATCHWAY_CONTENT_LENGTH_MISMATCH: 'the body sent %s bytes but Content-Length said %s',
  ERR_HATCHWAY_BODY_TOO_LARGE: 'request body larger than %s bytes',
  ERR_HATCHWAY_INVALID_MODULE: 'could not find an app in %s: export a default app or name one with module#export',
  ERR_HATCHWAY_INVALID_OPTION: 'invalid option %s',
  ERR_HATCHWAY_TOO_MANY_ESCAPES: 'more than %s escape registrations on one request',
  ERR_HATCHWAY_INVALID_REGISTRATION: 'a %s registration must be an object with the fields SPEC §7 lists',
  ERR_HATCHWAY_REQUEST_OVER: 'the request is over: escapes can be registered only while it runs',
  ERR_HATCHWAY_TRAILERS_REQUIRED: 'this response needs trailers, and the request cannot take them: send TE: trailers (HTTP/1.1) or use HTTP/2',
  ERR_HATCHWAY_INVALID_TRAILER: 'invalid trailer field %s: a token name, a value without CR/LF/NUL, and not a field that frames, routes or authenticates',
  ERR_HATCHWAY_TOKEN_NOT_ISSUED: 'a response carried an escape token this request did not issue (forged, replayed, expired or of another kind); it was not sent',
  ERR_HATCHWAY_TOKEN_LEAK: 'an escape token was about to leave in the %s of a response: it was not sent',
  ERR_HATCHWAY_FALLBACK_FAILED: "an escape fallback's own token response did not survive the middleware: nothing more to fall back to",
  ERR_HATCHWAY_CONNECT_NOT_ESCAPE: 'a 2xx answer to CONNECT that is not an honoured escape was refused: nothing is behind the tunnel',
  ERR_HATCHWAY_WS_BACKLOG: 'the websocket peer reads too slowly: more than %s bytes queued',
} as const;

/** Every error code hatchway throws. */
export type ErrorCode = keyof typeof table;

/** An error with a stable `code`; assert on the code, not the message. */
export class HatchwayError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, ...args: unknown[]) {
    let i = 0;
    super(table[code].replace(/%s/g, () => describe(args[i++])));
    this.code = code;
    this.name = 'HatchwayError';
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  if (typeof (value as PromiseLike<unknown>).then === 'function') return 'a Promise';
  return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
}
