/**
 * The origin server: owns the listener, the protocol front-ends, the limits and graceful
 * shutdown. This and the other files in `server/` are the only places that import
 * `node:net`, `node:tls`, `node:http` or `node:http2`.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { HatchwayError } from '../gateway/errors.ts';
import type { App } from '../gateway/types.ts';
import { requestIds, type LogFn } from './environ.ts';
import { handleH1, handleH1Upgrade, type H1Context } from './http1.ts';
import { WebSocketEngine, type WebSocketOptions } from './websocket.ts';

/** Options of {@link serve} and {@link Server}. */
export interface ServerOptions {
  /** Address to listen on (default `127.0.0.1`). */
  host?: string;
  /** Port to listen on (default `8000`; `0` picks a free one). */
  port?: number;
  /** PEM certificate and key: when given, the server speaks TLS. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Idle keep-alive connections close after this many ms (default 5 000). */
  keepAliveTimeout?: number;
  /** A client must finish sending request headers within this many ms (default 30 000). */
  headersTimeout?: number;
  /** A client must finish sending a whole request within this many ms (default 300 000; 0 = none). */
  requestTimeout?: number;
  /** Largest request header block in bytes (default 16 384); larger ones get a 431. */
  maxHeaderSize?: number;
  /** Most requests served on one HTTP/1.1 connection (default 0 = no limit). */
  maxRequestsPerSocket?: number;
  /** How long {@link Server.close} waits for requests in flight before cutting them off (default 30 000 ms). */
  gracefulTimeout?: number;
  /** Websocket limits: `maxPayload`, `maxBufferedAmount`, `perMessageDeflate`. */
  websocket?: WebSocketOptions;
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
  readonly app: App;
  readonly options: Readonly<ServerOptions>;
  readonly #http: HttpServer;
  readonly #inFlight = new Set<ServerResponse>();
  readonly #sockets = new Set<Socket>();
  #idle: (() => void) | null = null;
  #closing: Promise<void> | null = null;
  #ctx: H1Context;
  #websockets: WebSocketEngine | undefined;

  constructor(app: App, options: ServerOptions = {}) {
    if (typeof app !== 'function') throw new HatchwayError('ERR_HATCHWAY_INVALID_OPTION', 'app: a function (environ, startResponse) => body');
    this.app = app;
    this.options = options;
    const log = options.log ?? ((line: string) => console.error(line));
    const inFlight = this.#inFlight;
    this.#ctx = {
      app,
      log,
      nextId: requestIds(),
      closing: false,
      websockets: () => (this.#websockets ??= new WebSocketEngine(options.websocket)),
      track: (res) => {
        inFlight.add(res);
        res.once('close', () => {
          inFlight.delete(res);
          if (inFlight.size === 0) this.#idle?.();
        });
      },
    };
    const httpOptions = {
      keepAliveTimeout: options.keepAliveTimeout ?? 5_000,
      headersTimeout: options.headersTimeout ?? 30_000,
      requestTimeout: options.requestTimeout ?? 300_000,
      maxHeaderSize: options.maxHeaderSize ?? 16_384,
      // A request must not be able to smuggle a second one through a bad Content-Length.
      insecureHTTPParser: false,
      requireHostHeader: true,
      joinDuplicateHeaders: false,
    };
    const server = options.tls
      ? createHttpsServer({ ...httpOptions, cert: options.tls.cert, key: options.tls.key })
      : createHttpServer(httpOptions);
    server.maxRequestsPerSocket = options.maxRequestsPerSocket ?? 0;
    const ctx = this.#ctx;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => handleH1(ctx, req, res, false));
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => handleH1(ctx, req, res, true));
    // Upgrade requests run through the same pipeline; a websocket escape may take the socket.
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => handleH1Upgrade(ctx, req, socket, head));
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      // node:http's own answers (400, 408, 431), written only where nothing was sent yet.
      if (err.code === 'ECONNRESET' || !socket.writable || (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
        socket.destroy();
        return;
      }
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
    this.#http = server;
  }

  /** Starts listening; resolves with the bound address. */
  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const server = this.#http;
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      server.listen(this.options.port ?? 8000, this.options.host ?? '127.0.0.1', () => {
        server.off('error', onError);
        server.on('error', (err) => this.#ctx.log(`[hatchway] server error: ${err.message}`));
        resolve(server.address() as AddressInfo);
      });
    });
  }

  /** The bound address, once listening. */
  address(): AddressInfo {
    return this.#http.address() as AddressInfo;
  }

  /** The URL clients use to reach this server. */
  get url(): string {
    const { address, port, family } = this.address();
    const host = family === 'IPv6' ? `[${address}]` : address;
    return `${this.options.tls ? 'https' : 'http'}://${host}:${port}`;
  }

  /** Requests in flight now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * Graceful shutdown: stops accepting, lets requests in flight finish (their connections
   * close after the response), closes idle connections, and after `gracefulTimeout` ms cuts
   * off whatever is left. Resolves when every connection is closed.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const server = this.#http;
    this.#ctx.closing = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    if (this.#inFlight.size > 0) {
      const idle = new Promise<void>((resolve) => {
        this.#idle = resolve;
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.options.gracefulTimeout ?? 30_000);
      });
      await Promise.race([idle, timeout]);
      clearTimeout(timer);
    }
    server.closeIdleConnections();
    // Websockets get a close frame (1001 going away) and a moment to answer it.
    await this.#websockets?.closeAll(Math.min(1_000, this.options.gracefulTimeout ?? 30_000));
    // Whatever is still open (stuck requests, upgraded sockets) is cut off.
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }
}

/** Creates a {@link Server} for `app` and starts listening. */
export async function serve(app: App, options?: ServerOptions): Promise<Server> {
  const server = new Server(app, options);
  await server.listen();
  return server;
}
