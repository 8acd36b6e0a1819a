/**
 * `hatchway/host/deno` — a hatchway app on Deno's own server, `Deno.serve`: the fetch adapter
 * plus the escapes Deno really has.
 *
 * - **websocket**: honoured through `Deno.upgradeWebSocket(request, { protocol })`, only when
 *   the token came back through the middleware chain unaltered — the recognition rule and the
 *   degrade table of `hatchway/host`, as on hatchway's own server (SPEC §7.3–§7.5). A
 *   middleware that answers (a 401, a rewritten status) wins; one that drops the control
 *   header or alters the body gets the fallback (426), which carries the chain's fields; the
 *   fields a middleware added (`Set-Cookie`) ride the `101`; the subprotocol is the
 *   registration's `protocol()` pick. `onSocket` gets the `ws`-shaped subset of SPEC §7.5
 *   ("Other runtimes"): `on`/`once`/`off` for `'message'` `(data, isBinary)`, `'close'`
 *   `(code, reason)`, `'error'`; `send(data, cb?)`, `close(code?, reason?)`, `terminate()`
 *   (a close: Deno has no abortive close), `readyState`, `protocol`, `bufferedAmount`; no
 *   `ping()` (Deno pings by itself: `idleTimeout`). An `'error'` listener that writes to
 *   `environ.errors` is attached.
 * - **HTTP/2**: `Deno.serve` speaks h2 over TLS (ALPN, with `cert`/`key`) and h2c with prior
 *   knowledge on cleartext. Deno does not tell a handler which protocol carried a request;
 *   this host reports `HTTP/2` for a request without a `Host` field (an HTTP/1.1 request must
 *   carry one, RFC 9112 §3.2, and Deno passes HTTP/2's `:authority` only as the URL) and
 *   `HTTP/1.1` otherwise — so an HTTP/1.0 request without `Host` is reported as `HTTP/2`.
 *   Websockets are HTTP/1.1 only (no RFC 8441).
 * - **degraded by the table**: a `Response` has no trailers, no push and no 103 in Deno's
 *   public API, so trailers are sent as the body without them (`features.trailers` is
 *   `false`), push becomes `Link: rel=preload`, `upgradeTo` runs emulated, the generic
 *   `upgrade` escape answers with its fallback.
 *
 * `environ.signal` follows the request's signal until the response is over: Deno's legacy
 * abort (the default in Deno 2) also aborts it after a response sent in full and when a
 * websocket took over, which are not a client going away (Deno prints a one-time notice about
 * it; `--unstable-no-legacy-abort` silences it). docs/RUNTIMES.md has the measured table.
 *
 * @example
 * ```ts
 * // server.ts — `deno run --allow-net --allow-env server.ts` (npm dependencies read the environment)
 * import { serve } from 'hatchway/host/deno';
 * import app from './app.ts';
 *
 * serve(app, { port: 8000 });
 * ```
 *
 * @example
 * ```ts
 * // Or hand Deno the handler yourself.
 * import { deno } from 'hatchway/host/deno';
 *
 * Deno.serve({ port: 8000 }, deno(app));
 * ```
 *
 * @module
 */
import { HatchwayError, type App, type ErrorStream } from '../index.ts';
import { hostFetch } from '../../adapters/fetch.ts';
import { requestSignal, serveExchange, type SocketLimits } from './exchange.ts';

/** A network address as Deno gives it (`Deno.NetAddr`, or a unix one without host and port). */
export interface DenoAddr {
  /** `tcp`, `unix`, … */
  readonly transport: string;
  /** The IP address or host name (TCP). */
  readonly hostname?: string;
  /** The port (TCP). */
  readonly port?: number;
}

/** The second argument of a `Deno.serve` handler, as far as this host uses it. */
export interface DenoServeHandlerInfo {
  /** The peer of the request's connection. */
  readonly remoteAddr: DenoAddr;
}

/** The part of Deno's server-side `WebSocket` this host uses (the WHATWG `WebSocket`). */
export interface DenoWebSocket {
  /** How binary messages arrive: this host sets `arraybuffer`. */
  binaryType: string;
  /** Bytes queued and not yet sent. */
  readonly bufferedAmount: number;
  /** The socket opened (after the `101` was sent). */
  onopen: ((event: unknown) => void) | null;
  /** A message: a string, or an `ArrayBuffer`. */
  onmessage: ((event: { data: unknown }) => void) | null;
  /** The socket closed. */
  onclose: ((event: { code: number; reason: string }) => void) | null;
  /** The socket failed. */
  onerror: ((event: { message?: string; error?: unknown }) => void) | null;
  /** Sends a message (throws unless open). */
  send(data: string | Uint8Array): void;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
}

/** What `Deno.serve` returns, as far as this host uses it. */
export interface DenoHttpServer {
  /** The address it listens on. */
  readonly addr: DenoAddr;
  /** Settles when the server stopped. */
  readonly finished: Promise<void>;
  /** Stops listening and waits for the requests in flight. */
  shutdown(): Promise<void>;
}

/** Options of {@link deno}. */
export interface DenoOptions {
  /** Where the app's error lines go (default `console.error`). */
  errors?: ErrorStream;
  /** Websocket limits. */
  websocket?: DenoWebSocketOptions;
}

/** Websocket settings of the Deno host. */
export interface DenoWebSocketOptions extends SocketLimits {
  /** Seconds Deno waits for a pong to its pings before it closes the socket (Deno's `idleTimeout`, default 30). */
  idleTimeout?: number;
}

/** Options of {@link serve}: {@link deno}'s and where to listen. */
export interface DenoServeOptions extends DenoOptions {
  /** Port (default 8000; 0 picks a free one: `server.addr.port`). */
  port?: number;
  /** Address to listen on (default `0.0.0.0`, Deno's). */
  hostname?: string;
  /** TLS: PEM certificate (Deno then offers h2 and HTTP/1.1 by ALPN). */
  cert?: string;
  /** TLS: PEM private key. */
  key?: string;
  /** Called once listening (default: Deno's "Listening on" line). */
  onListen?: (addr: { hostname: string; port: number }) => void;
  /** Aborting it shuts the server down. */
  signal?: AbortSignal;
}

/** A `Deno.serve` handler: settles with the app's `Response`, or the `101` of a websocket. */
export type DenoHandler = (request: Request, info: DenoServeHandlerInfo) => Promise<Response>;

/** The global `Deno`, as far as this host uses it. */
interface DenoRuntime {
  serve(options: Record<string, unknown>, handler: DenoHandler): DenoHttpServer;
  upgradeWebSocket(request: Request, options: { protocol?: string; idleTimeout?: number }): { socket: DenoWebSocket; response: Response };
}

function runtime(): DenoRuntime {
  const found = (globalThis as { Deno?: DenoRuntime }).Deno;
  if (found === undefined) throw new HatchwayError('ERR_HATCHWAY_HOST_RUNTIME', 'deno', 'Deno');
  return found;
}

/** The protocol Deno served `request` with (see the module comment: Deno does not say). */
function protocolOf(request: Request): 'HTTP/1.1' | 'HTTP/2' {
  return request.headers.has('host') ? 'HTTP/1.1' : 'HTTP/2';
}

/** The handler, with the address the server listens on where {@link serve} knows it. */
function handler(app: App, options: DenoOptions, local: () => DenoHttpServer['addr'] | undefined): DenoHandler {
  const ws = options.websocket ?? {};
  const fetch = hostFetch(
    app,
    {
      signal: requestSignal,
      serve(exchange, info: DenoServeHandlerInfo) {
        const addr = local();
        const wildcard = addr?.hostname === '0.0.0.0' || addr?.hostname === '::';
        return serveExchange(
          exchange,
          {
            protocol: protocolOf(exchange.request),
            remoteAddress: info.remoteAddr.hostname ?? '',
            remotePort: info.remoteAddr.port ?? 0,
            localAddress: wildcard ? '' : (addr?.hostname ?? ''),
            localPort: addr?.port ?? 0,
            canPing: false,
            upgrade(fields, protocol, socket) {
              const upgradeOptions = ws.idleTimeout === undefined ? {} : { idleTimeout: ws.idleTimeout };
              const { socket: native, response } = runtime().upgradeWebSocket(exchange.request, protocol === undefined ? upgradeOptions : { ...upgradeOptions, protocol });
              for (const [name, value] of fields) response.headers.append(name, value);
              native.binaryType = 'arraybuffer';
              native.onopen = () =>
                socket.opened({
                  send(data) {
                    try {
                      native.send(data);
                      return true;
                    } catch {
                      return false; // closing or closed
                    }
                  },
                  close: (code, reason) => native.close(code, reason),
                  terminate: () => native.close(),
                  bufferedAmount: () => native.bufferedAmount,
                });
              native.onmessage = (event) => socket.received(event.data as string | ArrayBuffer, typeof event.data !== 'string');
              // Deno reports 0 for a close frame it could not read a code from: 1005, "no status" (RFC 6455 §7.4.1).
              native.onclose = (event) => socket.ended(event.code || 1005, event.reason);
              native.onerror = (event) => socket.failed(event.error instanceof Error ? event.error : new Error(event.message ?? 'websocket error'));
              return response;
            },
          },
          ws,
        );
      },
    },
    options.errors === undefined ? {} : { errors: options.errors },
  );
  // Deno's handler must settle with a Response: this host never responds with anything else.
  return (request, info) => fetch(request, info) as Promise<Response>;
}

/**
 * The `Deno.serve` handler for `app`, with the escapes Deno has. Its `localAddress` and
 * `localPort` are empty: a bare handler does not know where it listens ({@link serve} does).
 *
 * @example
 * ```ts
 * import { deno } from 'hatchway/host/deno';
 *
 * Deno.serve({ port: 8000, hostname: '127.0.0.1' }, deno(app));
 * ```
 */
export function deno(app: App, options: DenoOptions = {}): DenoHandler {
  return handler(app, options, () => undefined);
}

/**
 * Starts `Deno.serve` with {@link deno}'s handler and returns Deno's server (`server.addr`,
 * `server.shutdown()`). Throws `ERR_HATCHWAY_HOST_RUNTIME` outside Deno.
 *
 * @example
 * ```ts
 * import { serve } from 'hatchway/host/deno';
 *
 * const server = serve(app, { port: 0, hostname: '127.0.0.1', onListen: ({ port }) => console.log(JSON.stringify({ port })) });
 * ```
 */
export function serve(app: App, options: DenoServeOptions = {}): DenoHttpServer {
  const { port = 8000, hostname, cert, key, onListen, signal, ...rest } = options;
  const listen: Record<string, unknown> = { port };
  for (const [name, value] of Object.entries({ hostname, cert, key, onListen, signal })) if (value !== undefined) listen[name] = value;
  let server: DenoHttpServer | undefined;
  server = runtime().serve(listen, handler(app, rest, () => server?.addr));
  return server;
}
