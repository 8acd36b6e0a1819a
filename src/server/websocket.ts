/**
 * Completing a websocket handshake with `ws` once the escape is honoured, with safe limits:
 * `maxPayload` of a few MiB (ws's default is 100 MiB), a cap on what the server queues for a
 * slow reader (ws has none), and an `'error'` listener on every socket.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { HatchwayError } from '../wire/errors.ts';
import type { Environ, HeaderList } from '../gateway/types.ts';
import type { WebSocketRegistration } from '../escapes/websocket.ts';
import type { ServerHttp2Stream } from 'node:http2';
import { H2WebSocketSocket, handshakeRequest } from './websocket-h2.ts';

/** Websocket limits (`ServerOptions.websocket`). */
export interface WebSocketOptions {
  /** Largest message accepted, in bytes (default 4 MiB); larger closes with 1009. */
  maxPayload?: number;
  /** Most bytes queued for a slow reader before the socket is cut (default 16 MiB). */
  maxBufferedAmount?: number;
  /** permessage-deflate (RFC 7692): on by default, without context takeover to bound memory. */
  perMessageDeflate?: boolean;
  /** Send a ping every this many ms (default 20 000, as uvicorn; 0 = never). */
  pingInterval?: number;
  /** A peer that has not answered a ping with a pong within this many ms is dropped (default 20 000). */
  pingTimeout?: number;
  /** A socket with no message either way for this many ms is closed with 1000 (default 0 = never). */
  idleTimeout?: number;
}

/** Keep-alive state of one live socket. */
interface Alive {
  /** When the last message went either way. */
  active: number;
  /** When the last ping went out. */
  pinged: number;
  /** A ping is out and its pong has not come back. */
  awaiting: boolean;
  environ: Environ;
}

interface Pending {
  headers: HeaderList;
  registration: WebSocketRegistration;
  environ: Environ;
}

/** One per server: the `ws` engine in noServer mode, and the live sockets for shutdown. */
export class WebSocketEngine {
  readonly live = new Set<WebSocket>();
  readonly #wss: WebSocketServer;
  readonly #pending = new WeakMap<IncomingMessage, Pending>();
  readonly #maxBuffered: number;
  readonly #alive = new Map<WebSocket, Alive>();
  readonly #pingInterval: number;
  readonly #pingTimeout: number;
  readonly #idleTimeout: number;
  readonly #period: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: WebSocketOptions = {}) {
    this.#maxBuffered = options.maxBufferedAmount ?? 16 * 1024 * 1024;
    this.#pingInterval = options.pingInterval ?? 20_000;
    this.#pingTimeout = options.pingTimeout ?? 20_000;
    this.#idleTimeout = options.idleTimeout ?? 0;
    const shortest = Math.min(...[this.#pingInterval, this.#pingTimeout, this.#idleTimeout].filter((ms) => ms > 0), 4_000);
    this.#period = Math.max(25, Math.min(1_000, Math.floor(shortest / 4)));
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: options.maxPayload ?? 4 * 1024 * 1024,
      perMessageDeflate:
        options.perMessageDeflate === false
          ? false
          : { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 1024, concurrencyLimit: 10 },
      handleProtocols: (offered: Set<string>, req: IncomingMessage) => {
        const pending = this.#pending.get(req);
        const choose = pending?.registration.protocol;
        if (!choose) return false;
        const chosen = choose(offered, pending.environ);
        return typeof chosen === 'string' && offered.has(chosen) ? chosen : false;
      },
    });
    // Headers the middleware added around the honoured response ride the 101.
    this.#wss.on('headers', (lines: string[], req: IncomingMessage) => {
      for (const [name, value] of this.#pending.get(req)?.headers ?? []) lines.push(`${name}: ${value}`);
    });
  }

  /** Completes the RFC 6455 handshake on an HTTP/1.1 connection and calls `onSocket`. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, pending: Pending, onSocket: (ws: WebSocket) => void): void {
    this.#pending.set(req, pending);
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      this.#pending.delete(req);
      this.#adopt(ws, pending.environ);
      onSocket(ws);
    });
  }

  /** Completes an RFC 8441 handshake on an HTTP/2 extended CONNECT stream and calls `onSocket`. */
  upgradeH2(stream: ServerHttp2Stream, requestHeaders: HeaderList, path: string, pending: Pending, onSocket: (ws: WebSocket) => void): void {
    const req = handshakeRequest(requestHeaders, path) as unknown as IncomingMessage;
    const socket = new H2WebSocketSocket(stream);
    socket.on('error', () => {});
    this.#pending.set(req, pending);
    this.#wss.handleUpgrade(req, socket, Buffer.alloc(0), (ws) => {
      this.#pending.delete(req);
      this.#adopt(ws, pending.environ);
      onSocket(ws);
    });
  }

  #adopt(ws: WebSocket, environ: Environ): void {
    ws.on('error', (err) => environ.errors.write(`websocket: ${err.message}`));
    this.live.add(ws);
    ws.once('close', () => {
      this.live.delete(ws);
      this.#alive.delete(ws);
      if (this.#alive.size === 0 && this.#timer !== undefined) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    });
    if (this.#pingInterval > 0 || this.#idleTimeout > 0) {
      const now = Date.now();
      const alive: Alive = { active: now, pinged: now, awaiting: false, environ };
      this.#alive.set(ws, alive);
      ws.on('pong', () => (alive.awaiting = false));
      ws.on('message', () => (alive.active = Date.now()));
      this.#timer ??= setInterval(() => this.#sweep(), this.#period).unref();
    }
    const cap = this.#maxBuffered;
    const send = ws.send.bind(ws) as (data: unknown, options?: unknown, cb?: (err?: Error) => void) => void;
    ws.send = ((data: unknown, options?: unknown, cb?: unknown) => {
      if (ws.bufferedAmount > cap) {
        const err = new HatchwayError('ERR_HATCHWAY_WS_BACKLOG', cap);
        environ.errors.write(err.message);
        ws.terminate();
        const callback = typeof options === 'function' ? options : cb;
        if (typeof callback === 'function') (callback as (err: Error) => void)(err);
        return;
      }
      const alive = this.#alive.get(ws);
      if (alive !== undefined) alive.active = Date.now();
      send(data, options as never, cb as never);
    }) as WebSocket['send'];
  }

  /**
   * Keep-alive (RFC 6455 §5.5.2): a ping every `pingInterval`; a peer that has not answered the
   * last one within `pingTimeout` is gone (a dead link, or a peer that stopped reading) and its
   * socket is cut; a socket idle (no message either way) for `idleTimeout` is closed with 1000.
   */
  #sweep(): void {
    const now = Date.now();
    for (const [ws, alive] of this.#alive) {
      if (ws.readyState !== ws.OPEN) continue;
      if (alive.awaiting && this.#pingTimeout > 0 && now - alive.pinged >= this.#pingTimeout) {
        alive.environ.errors.write(new HatchwayError('ERR_HATCHWAY_WS_PING_TIMEOUT', this.#pingTimeout).message);
        ws.terminate();
        continue;
      }
      if (this.#idleTimeout > 0 && now - alive.active >= this.#idleTimeout) {
        ws.close(1000, 'idle timeout');
        continue;
      }
      if (this.#pingInterval > 0 && !alive.awaiting && now - alive.pinged >= this.#pingInterval) {
        alive.pinged = now;
        alive.awaiting = true;
        ws.ping();
      }
    }
  }

  /** Closes every live socket with 1001 (going away); resolves when all are closed or after `timeout` ms. */
  async closeAll(timeout: number): Promise<void> {
    if (this.live.size === 0) return;
    const closed = [...this.live].map(
      (ws) =>
        new Promise<void>((resolve) => {
          ws.once('close', () => resolve());
          ws.close(1001, 'server shutting down');
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(closed), new Promise((r) => (timer = setTimeout(r, timeout)))]);
    clearTimeout(timer);
    for (const ws of this.live) ws.terminate();
  }
}
