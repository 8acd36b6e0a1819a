/**
 * The origin server: owns the listener, the protocol front-ends, the limits and graceful
 * shutdown. This and the other files in `server/` are the only places that import
 * `node:net`, `node:tls`, `node:http` or `node:http2`.
 *
 * One port serves HTTP/1.1, HTTP/2 over TLS (ALPN) and h2c with prior knowledge
 * (`listener.ts`). `node:http` and `node:http2` servers are used only as protocol engines,
 * one each, fed the connections the listener sorted: an `Http2SecureServer` with `allowHTTP1`
 * would route HTTP/2 streams through its compatibility layer too (see PEERS.md).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { EventEmitter } from 'node:events';
import { lstatSync, unlinkSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { HatchwayError } from '../wire/errors.ts';
import type { App, HeaderList } from '../gateway/types.ts';
import { headerHasToken } from '../protocol/headers.ts';
import type { LogFn } from './environ.ts';
import { nextRequestId } from '../gateway/request-id.ts';
import { handleH1, handleH1Upgrade, type H1Context } from './http1.ts';
import { H2FrontEnd } from './http2.ts';
import { InFlight } from './lifecycle.ts';
import { Deadlines } from './deadline.ts';
import { Listener } from './listener.ts';
import { WebSocketEngine, type WebSocketOptions } from './websocket.ts';
import { TunnelEngine, type TunnelOptions } from './tunnel.ts';
import { requestedH1 } from '../protocol/upgrade.ts';

/** Options of {@link serve} and {@link Server}. */
export interface ServerOptions {
  /** Address to listen on (default `127.0.0.1`; `''` is every interface, as `net` without a host). */
  host?: string;
  /** Port to listen on (default `8000`; `0` picks a free one). */
  port?: number;
  /** Listen on this unix domain socket instead of `host` and `port` (a stale socket file there is replaced). */
  path?: string;
  /** Listen on this inherited, already bound socket (e.g. 3 under systemd socket activation) instead. */
  fd?: number;
  /** Pending connections the kernel queues (Node's default: 511). */
  backlog?: number;
  /**
   * PEM certificate and key: when given, the port also speaks TLS, with ALPN choosing
   * HTTP/2 (`h2`) or HTTP/1.1.
   */
  tls?: {
    /** The PEM certificate chain. */
    cert: string | Buffer;
    /** The PEM private key for `cert`. */
    key: string | Buffer;
  };
  /**
   * Accept cleartext HTTP/1.1 and h2c on the port as well (default `true`). With `tls` set,
   * `false` makes the port TLS-only.
   */
  cleartext?: boolean;
  /**
   * A new connection must show what it speaks within this many ms (default 10 000): its first
   * bytes, the whole 24-byte HTTP/2 preface, or a completed TLS handshake. Otherwise it is closed.
   */
  prefaceTimeout?: number;
  /** Idle keep-alive connections close after this many ms (default 5 000). */
  keepAliveTimeout?: number;
  /**
   * A client must finish sending request headers within this many ms (default 30 000). On
   * HTTP/2: a session with no open stream that keeps receiving bytes without completing a
   * request header block for this long is closed (slowloris).
   */
  headersTimeout?: number;
  /**
   * A client must finish sending a whole request within this many ms (default 300 000; 0 =
   * none). On HTTP/2 the late stream gets a 408, or RST_STREAM if its response has begun.
   */
  requestTimeout?: number;
  /** Largest request header block in bytes (default 16 384); larger ones get a 431. */
  maxHeaderSize?: number;
  /**
   * Response deadline, in ms (default 60 000; 0 = none): the app must produce its response
   * head within it, and no stall between two writes of its body may last longer (SPEC §5.7).
   * Past it: a 504 before the commit, an aborted response after it; the body is closed either
   * way. It measures the app, not the response's length: a long stream that keeps writing
   * lives on. Websockets and `upgradeTo` handlers are not under it once they took over.
   */
  responseTimeout?: number;
  /**
   * Send deadline, in ms (default 60 000, nginx's `send_timeout`; 0 = none): while the server
   * holds bytes the client has not taken (a socket that does not drain, an HTTP/2 stream at
   * zero window or on a stalled connection), the transport must progress within it, or the
   * response is aborted.
   */
  sendTimeout?: number;
  /** Most requests served on one HTTP/1.1 connection (default 0 = no limit). */
  maxRequestsPerSocket?: number;
  /** Most concurrent streams per HTTP/2 session (default 100; Node's own default is 2^32−1). */
  maxConcurrentStreams?: number;
  /**
   * Largest HTTP/2 request header list as RFC 9113 §6.5.2 counts it (default `maxHeaderSize`,
   * 16 384); larger gets a 431, also before the client acknowledged our SETTINGS.
   */
  maxHeaderListSize?: number;
  /**
   * Advertise SETTINGS_ENABLE_CONNECT_PROTOCOL so clients can open websockets over HTTP/2
   * (RFC 8441; default true). Chromium then sends every websocket of an h2 connection that way.
   */
  websocketOverHttp2?: boolean;
  /** Memory one HTTP/2 session may hold in nghttp2, in MB (default 10). */
  maxSessionMemory?: number;
  /** An HTTP/2 session with no open stream for this many ms gets GOAWAY (default 60 000; 0 = never). */
  sessionIdleTimeout?: number;
  /** How long {@link Server.close} waits for requests in flight before cutting them off (default 30 000 ms). */
  gracefulTimeout?: number;
  /** Websocket limits: `maxPayload`, `maxBufferedAmount`, `perMessageDeflate`, and keep-alive: `pingInterval`, `pingTimeout`, `idleTimeout`. */
  websocket?: WebSocketOptions;
  /**
   * Limits of connections the upgrade escape switched (SPEC §7.10: `Upgrade` tokens, CONNECT
   * tunnels): `idleTimeout` (default 300 000 ms without a byte either way) and
   * `maxBufferedAmount` (default 16 MiB queued for a peer that does not read).
   */
  upgrade?: TunnelOptions;
  /** Where error lines go (default: `console.error`). */
  log?: LogFn;
}

/**
 * A hatchway origin server for one app.
 *
 * @example
 * ```ts
 * import { Server } from 'hatchway/server';
 * const server = new Server(app, { port: 0 });
 * const { port } = await server.listen();
 * // …
 * await server.close(); // finishes requests in flight first
 * ```
 */
export class Server {
  /** The app this server runs. */
  readonly app: App;
  /** The options the server was created with, as given. */
  readonly options: Readonly<ServerOptions>;
  readonly #listener: Listener;
  readonly #http: HttpServer;
  readonly #h2: H2FrontEnd;
  readonly #inFlight = new InFlight();
  #closing: Promise<void> | null = null;
  #ctx: H1Context;
  #websockets: WebSocketEngine | undefined;
  #tunnels: TunnelEngine | undefined;

  constructor(app: App, options: ServerOptions = {}) {
    if (typeof app !== 'function') throw new HatchwayError('ERR_HATCHWAY_INVALID_OPTION', 'app: a function (environ, startResponse) => body');
    this.app = app;
    this.options = options;
    const log = options.log ?? ((line: string) => console.error(line));
    const nextId = nextRequestId;
    const inFlight = this.#inFlight;
    const track = (exchange: EventEmitter): void => inFlight.track(exchange);
    const deadlines = new Deadlines({ responseTimeout: options.responseTimeout ?? 60_000, sendTimeout: options.sendTimeout ?? 60_000 });
    this.#ctx = {
      deadlines,
      app,
      log,
      nextId,
      closing: false,
      websockets: () => (this.#websockets ??= new WebSocketEngine(options.websocket)),
      tunnels: () => (this.#tunnels ??= new TunnelEngine(options.upgrade)),
      track,
    };
    const headersTimeout = options.headersTimeout ?? 30_000;
    const requestTimeout = options.requestTimeout ?? 300_000;
    const maxHeaderSize = options.maxHeaderSize ?? 16_384;
    this.#http = this.#createHttp1(headersTimeout, requestTimeout, maxHeaderSize);
    const websockets = this.#ctx.websockets;
    const tunnels = this.#ctx.tunnels;
    this.#h2 = new H2FrontEnd(
      {
        app,
        log,
        nextId,
        track,
        deadlines,
        // RFC 8441: Chromium then opens every websocket of an h2 connection as an extended CONNECT.
        enableConnectProtocol: options.websocketOverHttp2 ?? true,
        escapes: { app, log, nextId, track, websockets, tunnels, deadlines },
      },
      {
        maxConcurrentStreams: options.maxConcurrentStreams ?? 100,
        maxHeaderListSize: options.maxHeaderListSize ?? maxHeaderSize,
        maxSessionMemory: options.maxSessionMemory ?? 10,
        sessionIdleTimeout: options.sessionIdleTimeout ?? 60_000,
        headersTimeout,
        requestTimeout,
      },
    );
    const http = this.#http;
    const h2 = this.#h2;
    this.#listener = new Listener({
      tls: options.tls,
      cleartext: options.cleartext ?? true,
      prefaceTimeout: options.prefaceTimeout ?? 10_000,
      http1: (socket: Socket) => http.emit('connection', socket),
      http2: (socket: Socket) => h2.accept(socket),
    });
  }

  #createHttp1(headersTimeout: number, requestTimeout: number, maxHeaderSize: number): HttpServer {
    const server = createHttpServer({
      keepAliveTimeout: this.options.keepAliveTimeout ?? 5_000,
      headersTimeout,
      requestTimeout,
      // How often node:http looks for connections past those two timeouts (its default,
      // 30 s, would let a slow client keep a connection up to twice as long as promised).
      connectionsCheckingInterval: Math.max(100, Math.floor(Math.min(120_000, ...[headersTimeout, requestTimeout].filter((ms) => ms > 0)) / 4)),
      maxHeaderSize,
      // A request must not be able to smuggle a second one through a bad Content-Length.
      insecureHTTPParser: false,
      requireHostHeader: true,
      joinDuplicateHeaders: false,
      // A websocket handshake, or a request asking for another protocol that the upgrade escape
      // may take (SPEC §7.10), leaves the request/response cycle. `Upgrade: h2c` (RFC 7540
      // §3.2, removed by RFC 9113) is answered as an ordinary request, and so is an Upgrade
      // without the `upgrade` connection option or with a body. RFC 9110 §7.8: a server MUST
      // ignore Upgrade in an HTTP/1.0 request.
      shouldUpgradeCallback: (req: IncomingMessage) =>
        req.httpVersion !== '1.0' && (headerHasToken(req.headers.upgrade, 'websocket') || (req.headers.upgrade !== undefined && requestedH1(req.method ?? '', headerList(req.rawHeaders)).length > 0)),
    });
    server.maxRequestsPerSocket = this.options.maxRequestsPerSocket ?? 0;
    const ctx = this.#ctx;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => handleH1(ctx, req, res, false));
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => handleH1(ctx, req, res, true));
    // Upgrade requests run through the same pipeline; a websocket escape may take the socket.
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => handleH1Upgrade(ctx, req, socket, head));
    // So does a CONNECT: an app's upgrade escape may open the tunnel (SPEC §7.10).
    server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => handleH1Upgrade(ctx, req, socket, head));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      // node:http's own answers (400, 408, 413, 431), written only where nothing was sent yet.
      if (err.code === 'ECONNRESET' || !socket.writable || (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
        socket.destroy();
        return;
      }
      const status =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : err.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
            ? '413 Payload Too Large'
            : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
              ? '408 Request Timeout'
              : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
    // This server never listens: the listener hands it connections. Its 'listening' event is
    // what starts node:http's connection tracking, which enforces headersTimeout and
    // requestTimeout and lets closeIdleConnections() find idle keep-alive connections.
    server.emit('listening');
    return server;
  }

  /**
   * Starts listening; resolves with the bound address (a string for `path`). The socket is
   * bound before this returns, as `net.Server.listen` does, so {@link address} answers at once.
   */
  async listen(): Promise<AddressInfo> {
    const { path, fd, backlog } = this.options;
    if (path !== undefined) removeStaleSocket(path);
    const address = await this.#listener.listen(this.options.port ?? 8000, this.options.host ?? '127.0.0.1', { path, fd, backlog });
    this.#listener.onError((err) => this.#ctx.log(`[hatchway] server error: ${err.message}`));
    return address;
  }

  /**
   * Serves a connection accepted elsewhere (this server need not listen): how a `hatchway
   * serve` worker gets the connections its supervisor accepted.
   */
  acceptConnection(socket: Socket): void {
    if (this.#closing) socket.destroy();
    else this.#listener.accept(socket);
  }

  /** The bound address, once listening (for `path`, the path: a string). */
  address(): AddressInfo {
    return this.#listener.address();
  }

  /** The `node:http` server that runs HTTP/1.x (it never listens itself: the listener feeds it connections). */
  get http1Server(): HttpServer {
    return this.#http;
  }

  /** Cuts off every connection now, as `http.Server.closeAllConnections()` does (upgraded sockets and HTTP/2 sessions too). */
  closeAllConnections(): void {
    this.#h2.destroy();
    this.#listener.destroyAll();
  }

  /** As `net.Server.ref()`: the listening socket keeps the process alive (the default). */
  ref(): void {
    this.#listener.ref();
  }

  /** As `net.Server.unref()`: the listening socket alone does not keep the process alive. */
  unref(): void {
    this.#listener.unref();
  }

  /** Closes idle HTTP/1.1 keep-alive connections, as `http.Server.closeIdleConnections()` does. */
  closeIdleConnections(): void {
    this.#http.closeIdleConnections();
  }

  /** The URL clients use to reach this server (`https` when TLS is configured; `unix:PATH` on a unix socket). */
  get url(): string {
    const bound = this.address() as AddressInfo | string;
    if (typeof bound === 'string') return `${this.options.tls ? 'https+unix' : 'http+unix'}:${bound}`;
    const { address, port, family } = bound;
    const host = family === 'IPv6' ? `[${address}]` : address;
    return `${this.options.tls ? 'https' : 'http'}://${host}:${port}`;
  }

  /** Requests in flight now: HTTP/1.x exchanges and HTTP/2 streams. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Open TCP connections (every protocol, upgraded sockets included). */
  get connections(): number {
    return this.#listener.connections;
  }

  /** Open HTTP/2 sessions. */
  get sessions(): number {
    return this.#h2.sessions;
  }

  /**
   * Graceful shutdown: stops accepting; lets requests in flight finish (HTTP/1.1 connections
   * close after their response, HTTP/2 sessions get GOAWAY and close after their last
   * stream); closes idle connections; and after `gracefulTimeout` ms cuts off whatever is
   * left, upgraded sockets included. Resolves when every connection is closed.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const http = this.#http;
    this.#ctx.closing = true;
    const closed = this.#listener.close();
    http.closeIdleConnections();
    // node:http2's server.close() would wait for live sessions forever: GOAWAY them instead.
    this.#h2.close();
    // Websockets get a close frame (1001 going away) and a moment to answer it — now, not
    // after the requests in flight: one over HTTP/2 (RFC 8441) is a stream in flight, and would
    // hold close() for the whole gracefulTimeout.
    const websocketTimeout = Math.min(1_000, this.options.gracefulTimeout ?? 30_000);
    const websocketsClosed = this.#websockets?.closeAll(websocketTimeout);
    // Upgraded connections likewise: ended now (FIN, END_STREAM), cut a moment later.
    const tunnelsClosed = this.#tunnels?.closeAll(websocketTimeout);
    if (this.#inFlight.size > 0) {
      const idle = this.#inFlight.idle();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.options.gracefulTimeout ?? 30_000);
      });
      await Promise.race([idle, timeout]);
      clearTimeout(timer);
    }
    // Stops node:http's connection-tracking timer as well as closing idle connections.
    http.close();
    await websocketsClosed;
    await tunnelsClosed;
    // Those a request in flight upgraded meanwhile.
    await this.#websockets?.closeAll(websocketTimeout);
    await this.#tunnels?.closeAll(websocketTimeout);
    // Whatever is still open (stuck requests and streams, upgraded sockets) is cut off:
    // closeAllConnections() would skip upgraded sockets, so the listener's own list is used.
    this.#h2.destroy();
    this.#listener.destroyAll();
    await closed;
  }
}

/** node:http's raw header list as a header list (names lowercased), for the upgrade check. */
function headerList(raw: string[]): HeaderList {
  const out: HeaderList = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  return out;
}


/** A socket file left by a server that did not close goes; anything else there is an error at listen. */
function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // nothing there
  }
}

/**
 * Creates a {@link Server} for `app` and starts listening: the promise form. For an object
 * that behaves as `http.Server` does (events, `listen(port, host, cb)`), see `createServer`.
 *
 * @example
 * ```ts
 * import { serve } from 'hatchway/server';
 *
 * const server = await serve((environ, startResponse) => {
 *   startResponse(200, [['content-type', 'text/plain']]);
 *   return [`hello ${environ.pathInfo}\n`];
 * }, { host: '127.0.0.1', port: 8000 });
 * console.log(`listening on ${server.url}`);
 * process.on('SIGTERM', () => void server.close()); // finishes requests in flight first
 * ```
 */
export async function serve(app: App, options?: ServerOptions): Promise<Server> {
  const server = new Server(app, options);
  await server.listen();
  return server;
}
