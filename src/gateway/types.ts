/**
 * The hatchway gateway interface: the types an application, a middleware and a server agree on.
 *
 * This module is pure: it imports nothing from `node:http`, `node:http2` or `node:net`, so an
 * app or middleware written against it runs under any server that implements `docs/SPEC.md`.
 *
 * @module
 */

import type { Chunk, HeaderList } from '../wire/types.ts';

export type { Chunk, Header, HeaderList } from '../wire/types.ts';

/**
 * A response body: a sync or async iterable of chunks, or a {@link FileBody} that a server may
 * send without copying it through JavaScript. If the body object has a `close()` method the
 * server calls it exactly once, on every path (normal end, app error, client abort).
 */
export type Body = (Iterable<Chunk> | AsyncIterable<Chunk>) & {
  /** Called exactly once when the server (or the middleware above) is done with the body: after the last chunk, or when the client left early. */
  close?: () => void;
};

/**
 * `startResponse(status, headers, excInfo?)` — records the status and headers of the response.
 * It commits nothing: the server sends them when the first non-empty chunk, or the end of the
 * body, reaches it. Call it again before that only with `excInfo` (to replace the response
 * after an error); with `excInfo` after the commit, it re-throws `excInfo`.
 */
export type StartResponse = (status: Status, headers: HeaderList, excInfo?: unknown) => void;

/** A status: a number (`200`) or a string with optional reason phrase (`'200 OK'`, `'404'`). */
export type Status = number | string;

/**
 * An application: a plain function from a request to a response body. It calls
 * `startResponse` before (or while) the body yields its first chunk. Work that must wait
 * happens inside an async-iterable body, so an app that waits for nothing stays synchronous.
 *
 * @example
 * ```ts
 * const hello: App = (environ, startResponse) => {
 *   startResponse(200, [['content-type', 'text/plain']]);
 *   return ['Hello from ', environ.pathInfo];
 * };
 * ```
 */
export type App = (environ: Environ, startResponse: StartResponse) => Body;

/** Middleware: a function from app to app. */
export type Middleware = (app: App) => App;

/** Which protocol carried the request. */
export type Protocol = 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';

/**
 * The optional capabilities of this very request on this very connection. A feature is `true`
 * only when the server can really deliver it here (SPEC §2.6).
 */
export interface Features {
  /** The server may push associated content (HTTP/2 with SETTINGS_ENABLE_PUSH on). */
  push: boolean;
  /** Response trailers reach the client (HTTP/2, or HTTP/1.1 with `TE: trailers`). */
  trailers: boolean;
  /** This request is a WebSocket opening handshake that the server can complete. */
  websocket: boolean;
  /** A 103 Early Hints response can be sent before the final one. */
  earlyHints: boolean;
}

/**
 * The request body, read without blocking the event loop. It ends at Content-Length (or the
 * end of the stream) even if the client sends more, so an app never reads past its request.
 * On HTTP/1.1, the first read answers `Expect: 100-continue`.
 */
export interface BodyReader extends AsyncIterable<Uint8Array> {
  /** Reads at most `max` bytes (default: whatever is buffered); `null` at end of body. */
  read(max?: number): Promise<Uint8Array | null>;
  /** Reads the whole body, refusing more than `limit` bytes with a 413 `HttpError`. */
  bytes(limit?: number): Promise<Uint8Array>;
  /** Reads the whole body as UTF-8 text. */
  text(limit?: number): Promise<string>;
  /** The declared length, or `undefined` when the body is chunked or the protocol is HTTP/2 without one. */
  readonly length: number | undefined;
}

/** Where apps and middleware report errors; the server prefixes each line with the request id. */
export interface ErrorStream {
  /** Reports one message; the server writes it as a line prefixed with the request id. */
  write(message: string): void;
}

/**
 * The request, as the server hands it to the outermost app. Middleware may add keys and
 * replace values; it must pass every key it does not understand through unchanged.
 * Keys that start with `hatchway.` are server extensions (SPEC §6).
 */
export interface Environ {
  /** The request method, uppercase as received (`GET`, `POST`, `CONNECT`, …). */
  method: string;
  /** `'http'` or `'https'`: the scheme the client used to reach this server. */
  scheme: 'http' | 'https';
  /** The request target exactly as received, not decoded (`/a%2Fb?x=1`). */
  target: string;
  /** The decoded path prefix that routed to this app; `''` at the root. */
  scriptName: string;
  /** The decoded rest of the path, starting with `/` (or `''`). */
  pathInfo: string;
  /** The query string after `?`, not decoded; `''` if none. */
  queryString: string;
  /** `HTTP/1.0`, `HTTP/1.1` or `HTTP/2`. */
  protocol: Protocol;
  /** The request's host: `Host` on HTTP/1.x, `:authority` on HTTP/2. */
  authority: string;
  /** Header fields, names lowercased, order and duplicates kept. No HTTP/2 pseudo-headers. */
  headers: HeaderList;
  /** The client's IP address as the socket sees it (a proxy's, behind one: see `hatchway/middleware/proxy-headers`); `''` when unknown. */
  remoteAddress: string;
  /** The client's TCP port; 0 when unknown. */
  remotePort: number;
  /** The server's IP address the request arrived on; `''` when unknown. */
  localAddress: string;
  /** The server's TCP port the request arrived on (8000, say); 0 when unknown. */
  localPort: number;
  /** A request id unique within this process. */
  requestId: string;
  /** The HTTP/2 stream id, or `undefined` on HTTP/1.x. */
  streamId: number | undefined;
  /** The request body. */
  input: BodyReader;
  /** The error stream. */
  errors: ErrorStream;
  /** What this request can do (SPEC §2.6). */
  features: Features;
  /** Aborted when the client goes away or the server gives up on the request. */
  signal: AbortSignal;
  /** Server extensions and middleware keys. */
  [key: string]: unknown;
}
