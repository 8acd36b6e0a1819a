/**
 * Upgraded connections (SPEC §7.10): once the server switched a connection — an HTTP/1.1
 * socket after its `101` or its CONNECT `200`, an HTTP/2 stream after its `:status 200` — the
 * app gets it as an {@link UpgradedStream}: a Duplex over the socket or stream with the bytes
 * that arrived after the request head replayed first, backpressure both ways, and limits the
 * raw socket does not have: a cap on what the server queues for a peer that does not read, an
 * idle timeout, and a close on shutdown. One {@link TunnelEngine} per server holds them all,
 * with one sweep timer, as the websocket engine does.
 */
import { Duplex } from 'node:stream';
import type { ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { HatchwayError } from '../wire/errors.ts';
import type { Environ } from '../gateway/types.ts';

/** Limits of upgraded connections (`ServerOptions.upgrade`). */
export interface TunnelOptions {
  /** A connection with no byte either way for this many ms is closed (default 300 000; 0 = never). */
  idleTimeout?: number;
  /** Most bytes queued for a peer that does not read before the connection is cut (default 16 MiB). */
  maxBufferedAmount?: number;
}

/** How an {@link UpgradedStream} ends and cuts what it wraps. */
interface Transport {
  inner: Duplex;
  /** Ends the sending side once everything written went out (FIN, END_STREAM). */
  end(callback: () => void): void;
  /** Cuts it: a reset socket, an RST_STREAM. */
  destroy(error: Error | null): void;
}

/** The Duplex an `onConnection` callback gets. */
export class UpgradedStream extends Duplex {
  readonly #transport: Transport;
  readonly #cap: number;
  /** Bytes received and bytes the transport took: the idle sweep's measure of progress. */
  moved = 0;
  /** When {@link moved} last changed (set by the sweep). */
  seen = 0;
  mark = -1;

  constructor(transport: Transport, head: Buffer | undefined, cap: number) {
    super({ allowHalfOpen: true });
    this.#transport = transport;
    this.#cap = cap;
    const inner = transport.inner;
    // Bytes that came with the request head (node's `head`) are the first the app reads.
    if (head !== undefined && head.byteLength > 0) {
      this.moved += head.byteLength;
      this.push(head);
    }
    inner.on('data', (chunk: Buffer) => {
      this.moved += chunk.byteLength;
      if (!this.push(chunk)) inner.pause();
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (err: Error) => this.destroy(err));
    inner.on('close', () => this.destroy());
    // node:http leaves an upgraded socket neither flowing nor paused: start it.
    inner.resume();
  }

  override _read(): void {
    this.#transport.inner.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const inner = this.#transport.inner;
    if (inner.destroyed || inner.writableEnded) {
      callback(new Error('the upgraded connection is closed'));
      return;
    }
    // The callback runs once the transport took the bytes (the kernel, or nghttp2's window):
    // until then later writes queue here, and write() returns false to the app.
    inner.write(chunk, (err) => {
      if (!err) this.moved += chunk.byteLength;
      callback(err);
    });
  }

  override _final(callback: (error?: Error | null) => void): void {
    const inner = this.#transport.inner;
    if (inner.destroyed || inner.writableEnded) callback();
    else this.#transport.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#transport.inner.destroyed) this.#transport.destroy(error);
    callback(error);
  }

  /** True past the send-queue cap: an app that ignores `false` from write() is cut there. */
  get overCap(): boolean {
    return this.writableLength > this.#cap;
  }
}

/** One per server: the live upgraded connections, their idle sweep, and shutdown. */
export class TunnelEngine {
  readonly live = new Set<UpgradedStream>();
  readonly #environs = new WeakMap<UpgradedStream, Environ>();
  readonly #idleTimeout: number;
  readonly #cap: number;
  readonly #period: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: TunnelOptions = {}) {
    this.#idleTimeout = options.idleTimeout ?? 300_000;
    this.#cap = options.maxBufferedAmount ?? 16 * 1024 * 1024;
    this.#period = Math.max(25, Math.min(1_000, Math.floor((this.#idleTimeout || 4_000) / 4)));
  }

  /** An HTTP/1.1 socket after its 101 or CONNECT 200; `head` is what came after the request head. */
  fromSocket(socket: Socket, head: Buffer, environ: Environ): UpgradedStream {
    return this.#adopt(
      {
        inner: socket,
        end: (callback) => socket.end(callback),
        destroy: () => socket.destroy(),
      },
      head,
      environ,
    );
  }

  /** An HTTP/2 stream after its `:status 200` (a CONNECT tunnel or an extended CONNECT). */
  fromStream(stream: ServerHttp2Stream, environ: Environ): UpgradedStream {
    return this.#adopt(
      {
        inner: stream,
        end: (callback) => stream.end(callback),
        // RST_STREAM without END_STREAM first (RFC 9113 §8.5: a tunnel cut short is a reset, never
        // a clean end). Not close(code): on an open stream node:http2 would end it first.
        destroy: (error) => stream.destroy(error ?? undefined),
      },
      undefined,
      environ,
    );
  }

  #adopt(transport: Transport, head: Buffer | undefined, environ: Environ): UpgradedStream {
    const duplex = new UpgradedStream(transport, head, this.#cap);
    duplex.on('error', (err: Error) => environ.errors.write(`upgrade: ${err.message}`));
    const cap = this.#cap;
    // The send queue's cap, checked where the app writes: past it the connection is cut.
    const write = duplex.write;
    duplex.write = function capped(this: UpgradedStream, ...args: unknown[]): boolean {
      if (this.overCap && !this.destroyed) {
        this.destroy(new HatchwayError('ERR_HATCHWAY_UPGRADE_BACKLOG', cap));
        return false;
      }
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as UpgradedStream['write'];
    this.live.add(duplex);
    this.#environs.set(duplex, environ);
    duplex.once('close', () => {
      this.live.delete(duplex);
      if (this.live.size === 0 && this.#timer !== undefined) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    });
    if (this.#idleTimeout > 0) this.#timer ??= setInterval(() => this.#sweep(), this.#period).unref();
    return duplex;
  }

  /** Closes the connections that moved no byte either way for `idleTimeout`. */
  #sweep(): void {
    const now = Date.now();
    for (const duplex of this.live) {
      if (duplex.moved !== duplex.mark) {
        duplex.mark = duplex.moved;
        duplex.seen = now;
      } else if (now - duplex.seen >= this.#idleTimeout) {
        this.#environs.get(duplex)?.errors.write(new HatchwayError('ERR_HATCHWAY_UPGRADE_IDLE', this.#idleTimeout).message);
        duplex.destroy();
      }
    }
  }

  /**
   * Shutdown (SPEC §9): ends every live connection's sending side at once (FIN, END_STREAM:
   * the peer learns the server is going), gives them up to `timeout` ms to close, then cuts
   * what is left. Over HTTP/2 an upgraded stream is a stream in flight and would otherwise
   * hold the shutdown for the whole graceful timeout.
   */
  async closeAll(timeout: number): Promise<void> {
    if (this.live.size === 0) return;
    const closed = [...this.live].map(
      (duplex) =>
        new Promise<void>((resolve) => {
          duplex.once('close', () => resolve());
          duplex.end();
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(closed), new Promise((r) => (timer = setTimeout(r, timeout)))]);
    clearTimeout(timer);
    for (const duplex of this.live) duplex.destroy();
  }
}
