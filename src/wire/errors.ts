/**
 * hatchway's error catalogue: every code the package (server, escapes, adapters) gives an
 * error, each with its message and — where the error becomes a response — its HTTP status and
 * `expose` rule, in the manner of fastify's `lib/errors.js`. Programmer misuse throws a
 * {@link HatchwayError} at once; a peer's fault becomes an `http-errors` `HttpError` made by
 * {@link httpError}, which the runner turns into that status (never an exception across I/O).
 *
 * Both kinds carry a brand under `Symbol.for('hatchway.error')`, so {@link isHatchwayError}
 * recognises an error made by another copy of the package (two versions in one `node_modules`,
 * or a bundled one).
 *
 * In messages, `%s` is replaced by a described argument (strings quoted) and `%r` by an
 * argument as text.
 *
 * @module
 */
import createError, { type HttpError } from 'http-errors';

/** One catalogue entry. */
export interface ErrorEntry {
  /** The message template. */
  readonly message: string;
  /** The response status, for errors that become a response (made with {@link httpError}). */
  readonly status?: number;
  /** Whether the message may be shown to the client (http-errors' `expose`). */
  readonly expose: boolean;
}

const CATALOGUE = {
  // ---- the interface: startResponse, bodies, the runner ----
  ERR_HATCHWAY_INVALID_STATUS: { message: 'invalid status %s: a three-digit code from 200 to 599, optionally followed by a space and a reason phrase of visible Latin-1 characters, spaces and tabs', expose: false },
  ERR_HATCHWAY_INVALID_HEADER_NAME: { message: 'invalid header name %s: header names are RFC 9110 tokens', expose: false },
  ERR_HATCHWAY_INVALID_HEADER_VALUE: { message: 'invalid value for header %s: header values are visible Latin-1 characters, spaces and tabs (no CR, LF, NUL or other controls, nothing above U+00FF)', expose: false },
  ERR_HATCHWAY_HOP_BY_HOP_HEADER: { message: 'header %s is hop-by-hop: the server manages it, an app may not set it', expose: false },
  ERR_HATCHWAY_INVALID_HEADERS: { message: 'headers must be an array of [name, value] string pairs', expose: false },
  ERR_HATCHWAY_START_RESPONSE_TWICE: { message: 'startResponse called twice without excInfo: pass excInfo to replace a response after an error', expose: false },
  ERR_HATCHWAY_NO_START_RESPONSE: { message: 'the body yielded data (or ended) before startResponse was called: call startResponse before the first chunk', expose: false },
  ERR_HATCHWAY_INVALID_BODY: { message: 'the app returned %s: an app returns an iterable or async iterable of chunks (did you forget a return, or return a Promise? wrap async apps with asyncApp())', expose: false },
  ERR_HATCHWAY_INVALID_CHUNK: { message: 'the body yielded %s: chunks are strings or Uint8Arrays', expose: false },
  ERR_HATCHWAY_CONTENT_LENGTH_MISMATCH: { message: 'the body sent %s bytes but Content-Length said %s', expose: false },
  // ---- the request: a peer's fault, answered with a status ----
  ERR_HATCHWAY_BODY_TOO_LARGE: { message: 'request body larger than %s bytes', status: 413, expose: true },
  ERR_HATCHWAY_BODY_ABORTED: { message: 'request body %r', status: 400, expose: true },
  ERR_HATCHWAY_BAD_PATH: { message: '%r in the request path', status: 400, expose: true },
  ERR_HATCHWAY_NO_AUTHORITY: { message: '%r (RFC 9113 §8.3.1)', status: 400, expose: true },
  ERR_HATCHWAY_HEADERS_TOO_LARGE: { message: 'request header fields too large', status: 431, expose: true },
  ERR_HATCHWAY_CONNECT: { message: '%r is not supported by this server', status: 501, expose: true },
  ERR_HATCHWAY_BAD_HOST: { message: '%r (RFC 9112 §3.2)', status: 400, expose: true },
  ERR_HATCHWAY_TRANSFER_CODING: { message: 'transfer coding %r is not implemented: only chunked is', status: 501, expose: true },
  ERR_HATCHWAY_REQUEST_TIMEOUT: { message: 'request not received in time', status: 408, expose: true },
  ERR_HATCHWAY_RESPONSE_TIMEOUT: { message: 'the app did not produce a response in time', status: 504, expose: false },
  // ---- the server and the CLI ----
  ERR_HATCHWAY_INVALID_MODULE: { message: 'could not find an app in %s: export a default app or name one with module#export', expose: false },
  ERR_HATCHWAY_INVALID_OPTION: { message: 'invalid option %s', expose: false },
  ERR_HATCHWAY_CONFORMANCE: { message: '%r (%r): %r. Hint: %r', expose: false },
  ERR_HATCHWAY_WS_PING_TIMEOUT: { message: 'the websocket peer did not answer a ping within %s ms: the socket was cut', expose: false },
  ERR_HATCHWAY_WS_BACKLOG: { message: 'the websocket peer reads too slowly: more than %s bytes queued', expose: false },
  ERR_HATCHWAY_UPGRADE_BACKLOG: { message: 'the upgraded connection\'s peer reads too slowly: more than %s bytes queued (wait for drain)', expose: false },
  ERR_HATCHWAY_UPGRADE_IDLE: { message: 'the upgraded connection moved no byte either way for %s ms: it was closed', expose: false },
  // ---- escapes (SPEC §7) ----
  ERR_HATCHWAY_TOO_MANY_ESCAPES: { message: 'more than %s escape registrations on one request', expose: false },
  ERR_HATCHWAY_INVALID_REGISTRATION: { message: 'a %s registration must be an object with the fields SPEC §7 lists', expose: false },
  ERR_HATCHWAY_UPGRADE_PROTOCOL: { message: 'an upgrade registration names %r: list upgrade tokens (or \'connect\' for a tunnel); websocket is acceptWebSocket\'s, and h2c is never switched to', expose: false },
  ERR_HATCHWAY_REQUEST_OVER: { message: 'the request is over: escapes can be registered only while it runs', expose: false },
  ERR_HATCHWAY_TRAILERS_REQUIRED: { message: 'this response needs trailers, and the request cannot take them: send TE: trailers (HTTP/1.1) or use HTTP/2', status: 400, expose: true },
  ERR_HATCHWAY_INVALID_TRAILER: { message: 'invalid trailer field %s: a token name, a value without CR/LF/NUL, and not a field that frames, routes or authenticates', expose: false },
  ERR_HATCHWAY_TOKEN_NOT_ISSUED: { message: 'a response carried an escape token this request did not issue (forged, replayed, expired or of another kind); it was not sent', expose: false },
  ERR_HATCHWAY_TOKEN_LEAK: { message: 'an escape token was about to leave in the %s of a response: it was not sent', status: 500, expose: false },
  ERR_HATCHWAY_FALLBACK_FAILED: { message: "an escape fallback's own token response did not survive the middleware: nothing more to fall back to", status: 500, expose: false },
  ERR_HATCHWAY_CONNECT_NOT_ESCAPE: { message: 'a 2xx answer to CONNECT that is not an honoured escape was refused: nothing is behind the tunnel', status: 500, expose: false },
  // ---- adapters (adapters/, docs/ADAPTERS.md) ----
  ERR_HATCHWAY_ADAPTER_SOCKET_WRITE: { message: 'a handler wrote to the socket of an adapted request: its socket belongs to the gateway (use the response object, or an escape)', expose: false },
  ERR_HATCHWAY_ADAPTER_DESTROYED: { message: 'the handler destroyed the response before it finished', expose: false },
  ERR_HATCHWAY_ADAPTER_ABORTED: { message: 'the request was aborted', expose: false },
  ERR_HATCHWAY_ADAPTER_INVALID_RESPONSE: { message: 'the fetch handler resolved to %s: it must return a Response (or a Promise of one)', expose: false },
  ERR_HATCHWAY_ADAPTER_NEXT_TWICE: { message: 'next() was called more than once by one middleware', expose: false },
  ERR_HATCHWAY_ADAPTER_TRANSFER_CODING: { message: 'the listener applied the transfer coding %s, which the gateway cannot undo (it undoes gzip and deflate; framing is the server\'s)', expose: false },
  ERR_HATCHWAY_ADAPTER_INVALID_ARGUMENT: { message: 'invalid argument %s', expose: false },
  ERR_HATCHWAY_HOST_RUNTIME: { message: 'hatchway/host/%r runs only where the global %r is: start it with that runtime', expose: false },
} as const satisfies Record<string, ErrorEntry>;

/** Every error code hatchway gives an error. */
export type ErrorCode = keyof typeof CATALOGUE;

/** The codes of errors that become a response: those with a status, made with {@link httpError}. */
export type HttpErrorCode = { [K in ErrorCode]: (typeof CATALOGUE)[K] extends {
    /** The catalogue entry's response status. */
    status: number;
  }
    ? K
    : never;
}[ErrorCode];

/** The catalogue itself, for checkers and docs: code → message template, status, expose. */
export const ERRORS: Readonly<Record<ErrorCode, ErrorEntry>> = CATALOGUE;

/** The brand both error kinds carry; `Symbol.for` so that every copy of the package shares it. */
export const ERROR_BRAND: unique symbol = Symbol.for('hatchway.error') as never;

/** An `http-errors` `HttpError` that carries a catalogue code. */
export type HatchwayHttpError = HttpError & {
  /** The catalogue code, `ERR_HATCHWAY_BODY_TOO_LARGE` say: stable, unlike the message. */
  readonly code: HttpErrorCode;
};

/** The message of `code` with `args` filled in. */
export function errorMessage(code: ErrorCode, ...args: unknown[]): string {
  let i = 0;
  return CATALOGUE[code].message.replace(/%[sr]/g, (m) => (m === '%r' ? String(args[i++]) : describe(args[i++])));
}

/** An error with a stable `code`; assert on the code, not the message. */
export class HatchwayError extends Error {
  /** The catalogue code, `ERR_HATCHWAY_START_RESPONSE_TWICE` say: stable, unlike the message. */
  readonly code: ErrorCode;
  /** The brand {@link isHatchwayError} and `instanceof` recognise across copies of the package. */
  declare readonly [ERROR_BRAND]: 'HatchwayError';
  /**
   * @param code the catalogue code.
   * @param args the values filled into the code's message template, in order.
   */
  constructor(code: ErrorCode, ...args: unknown[]) {
    super(errorMessage(code, ...args));
    this.code = code;
    this.name = 'HatchwayError';
    Object.defineProperty(this, ERROR_BRAND, { value: 'HatchwayError' });
  }

  /** `instanceof` holds for a `HatchwayError` made by another copy of the package, too. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, value) || (this === HatchwayError && brandOf(value) === 'HatchwayError');
  }
}

/**
 * The `HttpError` for a code with a status: that status, the catalogue's message and
 * `expose`, and `code` set, so the runner's error response and a log line agree.
 *
 * @example
 * ```ts
 * throw httpError('ERR_HATCHWAY_BODY_TOO_LARGE', 1024); // a 413 "request body larger than 1024 bytes"
 * ```
 */
export function httpError(code: HttpErrorCode, ...args: unknown[]): HatchwayHttpError {
  const entry = CATALOGUE[code];
  const err = createError(entry.status, errorMessage(code, ...args), { code, expose: entry.expose }) as HatchwayHttpError;
  Object.defineProperty(err, ERROR_BRAND, { value: 'HttpError' });
  return err;
}

/**
 * True for an error from any copy of hatchway (a {@link HatchwayError} or an {@link httpError}),
 * optionally with the given code.
 */
export function isHatchwayError(value: unknown, code?: ErrorCode): value is Error & {
  /** The error's catalogue code. */
  code: ErrorCode;
} {
  return brandOf(value) !== undefined && typeof (value as { code?: unknown }).code === 'string' && (code === undefined || (value as { code: unknown }).code === code);
}

function brandOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null ? (value as { [ERROR_BRAND]?: unknown })[ERROR_BRAND] : undefined;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  if (typeof (value as PromiseLike<unknown>).then === 'function') return 'a Promise';
  return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
}
