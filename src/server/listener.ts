/**
 * One listening port, every protocol: each TCP connection is classified from its first bytes
 * (`protocol/first-bytes.ts`) and handed to the front-end that speaks it.
 *
 * - TLS (a ClientHello): the handshake runs on a `tls.Server` used only as an engine; ALPN
 *   `h2` goes to HTTP/2, `http/1.1` (or no ALPN) to HTTP/1.1.
 * - Cleartext: the 24-byte HTTP/2 preface means h2c with prior knowledge (RFC 9113 §3.3);
 *   anything else is HTTP/1.1. A connection that starts like the preface but leaves it, or
 *   that has not decided within `prefaceTimeout`, is closed rather than held.
 *
 * The sniffed bytes go back with `socket.unshift()`. That is enough for every engine on
 * Node 24: `node:http2` and `node:tls` read what is already buffered in the socket before
 * they take over its handle, and `node:http` reads it as ordinary `'data'`. The listener tests
 * prove it with prefaces split across packets and with requests in the same packet.
 */
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { classifyFirstBytes } from '../protocol/first-bytes.ts';

/** Where a classified connection goes, and how the listener decides. */
export interface ListenerOptions {
  /** PEM certificate and key: when given, TLS connections are accepted on the port. */
  tls?: { cert: string | Buffer; key: string | Buffer } | undefined;
  /** Accept cleartext connections (HTTP/1.1 and h2c). */
  cleartext: boolean;
  /** A connection must decide (first bytes, whole HTTP/2 preface, TLS handshake) within this many ms. */
  prefaceTimeout: number;
  /** Takes an HTTP/1.x connection: a cleartext socket with the sniffed bytes unshifted, or a TLS socket. */
  http1(socket: Socket): void;
  /** Takes an HTTP/2 connection: a cleartext socket with the preface unshifted, or a TLS socket with ALPN `h2`. */
  http2(socket: Socket): void;
}

const ignore = (): void => {};

/** A `net.Server` that sorts its connections by protocol. */
export class Listener {
  readonly #server: NetServer;
  readonly #tls: TlsServer | undefined;
  readonly #options: ListenerOptions;
  /** Every accepted TCP connection, until it closes. */
  readonly #sockets = new Set<Socket>();
  /** Connections still being sniffed. */
  readonly #pending = new Set<Socket>();
  #closing = false;
  #closed: Promise<void> | undefined;

  constructor(options: ListenerOptions) {
    this.#options = options;
    this.#server = createNetServer({ noDelay: true }, (socket) => this.#accept(socket));
    if (options.tls) {
      const tls = createTlsServer({
        ...options.tls,
        ALPNProtocols: ['h2', 'http/1.1'],
        // RFC 9113 §9.2: HTTP/2 over TLS needs TLS 1.2 or later.
        minVersion: 'TLSv1.2',
        handshakeTimeout: options.prefaceTimeout,
      });
      tls.on('secureConnection', (socket: TLSSocket) => this.#secure(socket));
      // A failed handshake is the peer's problem: close quietly, never throw.
      tls.on('tlsClientError', (_err: Error, socket: TLSSocket) => socket.destroy());
      this.#tls = tls;
    }
  }

  /**
   * Starts listening on `port` and `host`, or on a unix socket (`where.path`) or an inherited
   * socket (`where.fd`) instead; `where.backlog` sizes the kernel's queue. The socket is bound
   * before this returns (as `net.Server.listen` does), so {@link address} answers at once.
   */
  listen(port: number, host: string, where: { path?: string | undefined; fd?: number | undefined; backlog?: number | undefined } = {}): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const server = this.#server;
      server.once('error', reject);
      const backlog = where.backlog === undefined ? {} : { backlog: where.backlog };
      const target = where.path !== undefined ? { path: where.path } : where.fd !== undefined ? { fd: where.fd } : { port, host };
      server.listen({ ...target, ...backlog }, () => {
        server.off('error', reject);
        resolve(server.address() as AddressInfo);
      });
    });
  }

  /**
   * Takes a connection accepted elsewhere — by the `hatchway serve` supervisor, which owns the
   * listening socket and passes each connection to a worker — as if this listener had.
   */
  accept(socket: Socket): void {
    this.#accept(socket);
  }

  /** As `net.Server.ref()` / `unref()`: whether the listening socket keeps the process alive. */
  ref(): void {
    this.#server.ref();
  }

  unref(): void {
    this.#server.unref();
  }

  /** Listens for errors of the listening socket after {@link listen}. */
  onError(listener: (err: Error) => void): void {
    this.#server.on('error', listener);
  }

  /** The bound address, once listening. */
  address(): AddressInfo {
    return this.#server.address() as AddressInfo;
  }

  /** Open TCP connections. */
  get connections(): number {
    return this.#sockets.size;
  }

  /**
   * Stops accepting and closes connections that were not handed to a front-end yet. Resolves
   * when every accepted connection has closed (see {@link destroyAll}).
   */
  close(): Promise<void> {
    this.#closing = true;
    this.#closed ??= new Promise((resolve) => {
      if (!this.#server.listening) resolve();
      else this.#server.close(() => resolve());
    });
    for (const socket of this.#pending) socket.destroy();
    return this.#closed;
  }

  /** Cuts off every connection still open: stuck requests, HTTP/2 sessions, upgraded sockets. */
  destroyAll(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  #accept(socket: Socket): void {
    // ECONNRESET while sniffing must not crash the process; the front-ends add their own.
    socket.on('error', ignore);
    if (this.#closing) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    this.#pending.add(socket);
    socket.once('close', () => {
      this.#sockets.delete(socket);
      this.#pending.delete(socket);
    });
    let seen: Buffer | undefined;
    const timer = setTimeout(() => socket.destroy(), this.#options.prefaceTimeout);
    const stop = (): void => {
      clearTimeout(timer);
      // Pause before the 'data' listener goes: a flowing stream without one drops data.
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      // At most 24 bytes decide, so this concatenates a few times at most.
      seen = seen === undefined ? chunk : Buffer.concat([seen, chunk]);
      const kind = classifyFirstBytes(seen);
      if (kind === 'more') return;
      stop();
      if (kind === 'reject' || (kind === 'tls' ? this.#tls === undefined : !this.#options.cleartext)) {
        socket.destroy();
        return;
      }
      socket.unshift(seen);
      this.#pending.delete(socket);
      if (kind === 'tls') {
        // The TLS engine wraps the socket (its handshakeTimeout bounds the handshake); the
        // handshake ends in #secure(), which closes the connection if we are closing by then.
        this.#tls!.emit('connection', socket);
        return;
      }
      if (kind === 'h2') this.#options.http2(socket);
      else {
        // As http.Server accepts its sockets: node:http decides what a client's FIN means.
        socket.allowHalfOpen = true;
        this.#options.http1(socket);
        // node:http attaches its 'data' listener but leaves an explicitly paused socket paused.
        socket.resume();
      }
    };
    // A peer that half-closes before it has said anything gets nothing.
    const onEnd = (): void => {
      stop();
      socket.destroy();
    };
    const onClose = (): void => clearTimeout(timer);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onClose);
  }

  #secure(socket: TLSSocket): void {
    socket.on('error', ignore);
    if (this.#closing) {
      socket.destroy();
      return;
    }
    if (socket.alpnProtocol === 'h2') this.#options.http2(socket);
    else this.#options.http1(socket);
  }
}
