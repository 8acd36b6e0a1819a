/**
 * `hatchway/host/bun` — a hatchway app on Bun's own server, `Bun.serve`: the fetch adapter
 * plus the escapes Bun really has.
 *
 * - **websocket**: honoured through Bun's native upgrade (`server.upgrade(request, { headers,
 *   data })` and the `websocket` handlers), only when the token came back through the
 *   middleware chain unaltered — the recognition rule and the degrade table of
 *   `hatchway/host`, as on hatchway's own server (SPEC §7.3–§7.5). A middleware that answers
 *   (a 401, a rewritten status) wins; one that drops the control header or alters the body
 *   gets the fallback (426), which carries the chain's fields; the fields a middleware added
 *   (`Set-Cookie`) ride the `101`; the subprotocol is the registration's `protocol()` pick
 *   (none unless it picks one: Bun would otherwise echo the client's first). `onSocket` gets
 *   the `ws`-shaped subset of SPEC §7.5 ("Other runtimes"): `on`/`once`/`off` for `'message'`
 *   `(data, isBinary)`, `'close'` `(code, reason)`, `'error'`; `send(data, cb?)`,
 *   `close(code?, reason?)`, `terminate()`, `ping()`, `readyState`, `protocol`,
 *   `bufferedAmount`, with an `'error'` listener attached that writes to `environ.errors`.
 * - **degraded by the table**: `Bun.serve` speaks HTTP/1.1 only (TLS included: ALPN offers
 *   no h2), and its `Response` has no trailers, no push and no 103, so trailers are sent as
 *   the body without them (`features.trailers` is `false`), push becomes `Link: rel=preload`,
 *   `upgradeTo` runs emulated, and the generic `upgrade` escape answers with its fallback.
 *
 * `environ.features` says exactly this; `remoteAddress`/`remotePort` come from
 * `server.requestIP()`, `localPort` from the server. docs/RUNTIMES.md has the measured table.
 *
 * @example
 * ```ts
 * // server.ts — `bun server.ts`
 * import { serve } from 'hatchway/host/bun';
 * import app from './app.ts';
 *
 * const server = serve(app, { port: 8000 });
 * console.log(`listening on ${server.port}`);
 * ```
 *
 * @example
 * ```ts
 * // Or hand Bun the handlers yourself (`export default` works with `bun run` too).
 * import { bun } from 'hatchway/host/bun';
 *
 * Bun.serve({ port: 8000, ...bun(app) });
 * ```
 *
 * @module
 */
import { HatchwayError, type App, type ErrorStream } from '../index.ts';
import { hostFetch } from '../../adapters/fetch.ts';
import { requestSignal, serveExchange, type SocketLimits } from './exchange.ts';
import type { HostSocket } from './socket.ts';

/** The peer of a connection, as `server.requestIP()` tells it. */
export interface BunPeer {
  /** The peer's IP address. */
  address: string;
  /** The peer's TCP port. */
  port: number;
}

/** PEM certificate and key for `Bun.serve`'s `tls`. */
export interface BunTls {
  /** The PEM certificate chain. */
  cert: string;
  /** The PEM private key. */
  key: string;
}

/** The part of Bun's `Server` this host uses (declared here: no `@types/bun` needed). */
export interface BunServer {
  /** Bun's native websocket upgrade: `true` when Bun will answer `101`. */
  upgrade(request: Request, options?: { headers?: [string, string][]; data?: unknown }): boolean;
  /** The peer of a request's connection. */
  requestIP(request: Request): BunPeer | null;
  /** The port the server listens on. */
  readonly port?: number | undefined;
  /** The host name or address the server listens on. */
  readonly hostname?: string | undefined;
  /** Stops listening (and, with `true`, closes the connections in flight). */
  stop(closeActiveConnections?: boolean): unknown;
}

/** The part of Bun's `ServerWebSocket` this host uses. */
export interface BunServerWebSocket {
  /** What `server.upgrade()` was given as `data`. */
  readonly data: unknown;
  /** Sends a message: bytes sent, `-1` when queued under backpressure, `0` when dropped. */
  send(data: string | Uint8Array, compress?: boolean): number;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** Cuts the connection. */
  terminate(): void;
  /** Sends a ping. */
  ping(data?: string | Uint8Array): number;
  /** Bytes queued and not yet written. */
  getBufferedAmount?(): number;
}

/** The `websocket` handlers and settings {@link bun} gives `Bun.serve`. */
export interface BunWebSocketHandlers {
  /** Bun opened a socket that this host upgraded. */
  open(ws: BunServerWebSocket): void;
  /** A message: a string for text, bytes for binary. */
  message(ws: BunServerWebSocket, message: string | Uint8Array): void;
  /** The socket closed. */
  close(ws: BunServerWebSocket, code: number, reason: string): void;
  /** Largest message accepted, in bytes. */
  maxPayloadLength: number;
  /** Bytes queued for a slow reader before Bun closes the socket. */
  backpressureLimit: number;
  /** Close the socket past `backpressureLimit` (rather than drop messages). */
  closeOnBackpressureLimit: boolean;
  /** Seconds without a message before Bun closes the socket (Bun pings in between). */
  idleTimeout: number;
  /** permessage-deflate (RFC 7692). */
  perMessageDeflate: boolean;
}

/** What {@link bun} returns: spread it into `Bun.serve({ ... })`. */
export interface BunHandlers {
  /** The fetch handler: settles with the app's `Response`, or `undefined` once Bun took a websocket. */
  fetch(request: Request, server: BunServer): Promise<Response | undefined>;
  /** The websocket handlers the native upgrade needs. */
  websocket: BunWebSocketHandlers;
}

/** Websocket settings of the Bun host, with hatchway's server defaults. */
export interface BunWebSocketOptions extends SocketLimits {
  /** Seconds without a message before Bun closes the socket (Bun's `idleTimeout`, default 120; Bun pings meanwhile). */
  idleTimeout?: number;
  /** permessage-deflate (default off, Bun's default). */
  perMessageDeflate?: boolean;
}

/** Options of {@link bun}. */
export interface BunOptions {
  /** Where the app's error lines go (default `console.error`). */
  errors?: ErrorStream;
  /** Websocket limits. */
  websocket?: BunWebSocketOptions;
}

/** Options of {@link serve}: {@link bun}'s and where to listen. */
export interface BunServeOptions extends BunOptions {
  /** Port (default 8000; 0 picks a free one, `server.port` tells which). */
  port?: number;
  /** Address to listen on (default `0.0.0.0`, Bun's). */
  hostname?: string;
  /** TLS: PEM certificate and key (Bun then speaks HTTP/1.1 over TLS). */
  tls?: BunTls;
}

/** What this host puts in Bun's per-socket `data`. */
interface SocketData {
  hatchway: HostSocket;
}

function socketOf(ws: BunServerWebSocket): HostSocket | undefined {
  return (ws.data as SocketData | undefined)?.hatchway;
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);

/**
 * The fetch and websocket handlers for `Bun.serve`: `app` with the escapes Bun has.
 *
 * @example
 * ```ts
 * import { bun } from 'hatchway/host/bun';
 * import { router } from 'hatchway/middleware/router';
 * import { websocket } from 'hatchway';
 *
 * const app = router()
 *   .get('/ws', websocket({ onSocket: (ws) => ws.on('message', (data) => ws.send(`echo: ${data}`)) }))
 *   .app;
 * export default { port: 8000, ...bun(app) }; // `bun run server.ts`
 * ```
 */
export function bun(app: App, options: BunOptions = {}): BunHandlers {
  const ws = options.websocket ?? {};
  const fetch = hostFetch(
    app,
    {
      signal: requestSignal,
      serve(exchange, server: BunServer) {
        const peer = server.requestIP(exchange.request);
        const hostname = server.hostname ?? '';
        return serveExchange(
          exchange,
          {
            protocol: 'HTTP/1.1', // Bun.serve speaks HTTP/1.1 only (docs/RUNTIMES.md)
            remoteAddress: peer?.address ?? '',
            remotePort: peer?.port ?? 0,
            localAddress: WILDCARD.has(hostname) ? '' : hostname,
            localPort: server.port ?? 0,
            canPing: true,
            upgrade(fields, protocol, socket) {
              // An empty Sec-WebSocket-Protocol keeps Bun from echoing the client's first offer.
              const headers: [string, string][] = [...fields, ['sec-websocket-protocol', protocol ?? '']];
              const data: SocketData = { hatchway: socket };
              return server.upgrade(exchange.request, { headers, data }) ? undefined : false;
            },
          },
          ws,
        );
      },
    },
    options.errors === undefined ? {} : { errors: options.errors },
  );
  return {
    fetch,
    websocket: {
      open(native) {
        socketOf(native)?.opened({
          send: (data) => native.send(data) !== 0,
          close: (code, reason) => native.close(code, reason),
          terminate: () => native.terminate(),
          bufferedAmount: () => native.getBufferedAmount?.() ?? 0,
          ping: (data) => void native.ping(data),
        });
      },
      message(native, message) {
        socketOf(native)?.received(message, typeof message !== 'string');
      },
      close(native, code, reason) {
        socketOf(native)?.ended(code, reason);
      },
      maxPayloadLength: ws.maxPayload ?? 4 * 1024 * 1024,
      backpressureLimit: ws.maxBufferedAmount ?? 16 * 1024 * 1024,
      closeOnBackpressureLimit: true,
      idleTimeout: ws.idleTimeout ?? 120,
      perMessageDeflate: ws.perMessageDeflate ?? false,
    },
  };
}

/** The global `Bun`, as far as this host uses it. */
interface BunRuntime {
  serve(options: Record<string, unknown>): BunServer;
}

/**
 * Starts `Bun.serve` with {@link bun}'s handlers and returns Bun's server (`server.port`,
 * `server.stop()`). Throws `ERR_HATCHWAY_HOST_RUNTIME` outside Bun.
 *
 * @example
 * ```ts
 * import { serve } from 'hatchway/host/bun';
 *
 * const server = serve(app, { port: 0, hostname: '127.0.0.1' });
 * console.log(JSON.stringify({ port: server.port }));
 * ```
 */
export function serve(app: App, options: BunServeOptions = {}): BunServer {
  const runtime = (globalThis as { Bun?: BunRuntime }).Bun;
  if (runtime === undefined) throw new HatchwayError('ERR_HATCHWAY_HOST_RUNTIME', 'bun', 'Bun');
  const { port = 8000, hostname, tls, ...rest } = options;
  return runtime.serve({ port, ...(hostname === undefined ? {} : { hostname }), ...(tls === undefined ? {} : { tls }), ...bun(app, rest) });
}
