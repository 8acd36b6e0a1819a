/**
 * The websocket an app's `onSocket` gets on Bun and Deno (SPEC §7.5, "other runtimes"): the
 * subset of the `ws` package's `WebSocket` that apps use, over the runtime's native socket.
 *
 * - `on`/`once`/`off` (and `addListener`/`removeListener`) for `'message'` `(data, isBinary)`
 *   (data a `Buffer` where the runtime has one, text included, as `ws` gives it), `'close'`
 *   `(code, reason)` and `'error'` `(err)`;
 * - `send(data, cb?)` (also `send(data, { binary }, cb)`), `close(code?, reason?)`,
 *   `terminate()`, `ping()` where the runtime has one;
 * - `readyState` (with the `CONNECTING`…`CLOSED` constants), `protocol`, `bufferedAmount`.
 *
 * The socket is handed over when the handshake is accepted, before the runtime opens it (Bun's
 * `open`, Deno's `'open'` event come a turn later): it reads `OPEN` from the start, and what is
 * sent (or a `close()`) before the runtime opened it is queued and sent in order then. A peer
 * that never sees the open gets `'close'` with 1006. Past `maxBufferedAmount` bytes queued
 * for a slow reader the socket is cut and `ERR_HATCHWAY_WS_BACKLOG` reported, and a message
 * larger than `maxPayload` closes the socket with 1009, as on hatchway's own server.
 */
import { HatchwayError } from '../index.ts';

/** What a host needs of the runtime's socket once it is open. */
export interface NativeSocket {
  /** Sends one message; `false` when the runtime dropped it (the socket is closing). */
  send(data: string | Uint8Array): boolean;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** Cuts the connection without a closing handshake. */
  terminate(): void;
  /** Bytes the runtime has queued and not yet written. */
  bufferedAmount(): number;
  /** Sends a ping, where the runtime lets an app. */
  ping?(data?: string | Uint8Array): void;
}

/** Options of a {@link HostSocket}. */
export interface HostSocketOptions {
  /** The subprotocol the handshake selected (`''`: none). */
  protocol: string;
  /** The runtime lets an app send pings: `ping()` is defined. */
  canPing: boolean;
  /** Most bytes queued for a slow reader before the socket is cut. */
  maxBufferedAmount: number;
  /** Largest message handed to the app (where the runtime does not enforce one itself); larger closes with 1009. */
  maxPayload: number;
}

type Listener = (...args: never[]) => void;
type SendCallback = (err?: Error) => void;
type Data = string | ArrayBuffer | ArrayBufferView;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

const BufferClass = (globalThis as { Buffer?: { from(data: ArrayBuffer | Uint8Array | string, offset?: number, length?: number): Uint8Array } }).Buffer;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes as the `ws` package gives them: a `Buffer` where the runtime has one. */
function bytesOf(data: string | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (typeof data === 'string') return BufferClass ? BufferClass.from(data) : encoder.encode(data);
  const view = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
  return BufferClass ? BufferClass.from(view.buffer as ArrayBuffer, view.byteOffset, view.byteLength) : view;
}

function sizeOf(data: string | Uint8Array): number {
  return typeof data === 'string' ? encoder.encode(data).byteLength : data.byteLength;
}

/** The `ws`-shaped socket (see the module comment). */
export class HostSocket {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
  readonly CONNECTING = CONNECTING;
  readonly OPEN = OPEN;
  readonly CLOSING = CLOSING;
  readonly CLOSED = CLOSED;
  /** The subprotocol the handshake selected, `''` for none. */
  readonly protocol: string;
  /** Sends a ping (only where the runtime lets an app). */
  readonly ping?: (data?: string | Uint8Array) => void;
  readonly #listeners = new Map<string, { listener: Listener; once: boolean }[]>();
  readonly #cap: number;
  readonly #maxPayload: number;
  #native: NativeSocket | undefined;
  #state = OPEN;
  #queue: [string | Uint8Array, SendCallback | undefined][] = [];
  #queued = 0;
  #closing: [number | undefined, string | undefined] | undefined;

  constructor(options: HostSocketOptions) {
    this.protocol = options.protocol;
    this.#cap = options.maxBufferedAmount;
    this.#maxPayload = options.maxPayload;
    if (options.canPing) this.ping = (data) => this.#native?.ping?.(data);
  }

  /** `OPEN` from the handshake on, `CLOSING` after `close()`, `CLOSED` once the runtime said so. */
  get readyState(): number {
    return this.#state;
  }

  /** Bytes sent and not yet written to the connection. */
  get bufferedAmount(): number {
    return this.#native === undefined ? this.#queued : this.#native.bufferedAmount();
  }

  on(event: string, listener: Listener): this {
    return this.#add(event, listener, false);
  }

  addListener(event: string, listener: Listener): this {
    return this.#add(event, listener, false);
  }

  once(event: string, listener: Listener): this {
    return this.#add(event, listener, true);
  }

  off(event: string, listener: Listener): this {
    const list = this.#listeners.get(event);
    const i = list?.findIndex((l) => l.listener === listener) ?? -1;
    if (i !== -1) list!.splice(i, 1);
    return this;
  }

  removeListener(event: string, listener: Listener): this {
    return this.off(event, listener);
  }

  /** Sends a message: a string as text, bytes as binary (unless `{ binary: false }`). */
  send(data: Data, options?: { binary?: boolean } | SendCallback, cb?: SendCallback): void {
    const callback = typeof options === 'function' ? options : cb;
    let message: string | Uint8Array = typeof data === 'string' ? data : bytesOf(data);
    if (typeof options === 'object' && options !== null) {
      if (options.binary === false && typeof message !== 'string') message = decoder.decode(message);
      else if (options.binary === true && typeof message === 'string') message = bytesOf(message);
    }
    if (this.#state !== OPEN) {
      callback?.(new Error(`WebSocket is not open: readyState ${this.#state}`));
      return;
    }
    if (this.bufferedAmount > this.#cap) return this.#cut(callback);
    if (this.#native === undefined) {
      this.#queue.push([message, callback]);
      this.#queued += sizeOf(message);
      return;
    }
    this.#send(message, callback);
  }

  /** Starts the closing handshake (queued until the runtime opened the socket). */
  close(code?: number, reason?: string): void {
    if (this.#state >= CLOSING) return;
    this.#state = CLOSING;
    if (this.#native === undefined) this.#closing = [code, reason];
    else this.#native.close(code, reason);
  }

  /** Cuts the connection at once. */
  terminate(): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSING;
    if (this.#native === undefined) this.#closing = [1006, undefined];
    else this.#native.terminate();
  }

  /** The runtime opened the socket: what was queued goes out, in order. */
  opened(native: NativeSocket): void {
    this.#native = native;
    const queue = this.#queue;
    this.#queue = [];
    this.#queued = 0;
    for (const [message, callback] of queue) this.#send(message, callback);
    const closing = this.#closing;
    if (closing === undefined) return;
    if (closing[0] === 1006) native.terminate();
    else native.close(closing[0], closing[1]);
  }

  /** A message arrived. A listener that throws fails this socket only: reported, closed with 1011. */
  received(data: string | ArrayBuffer | ArrayBufferView, isBinary: boolean): void {
    const bytes = bytesOf(data);
    if (bytes.byteLength > this.#maxPayload) return this.close(1009, 'message too big'); // RFC 6455 §7.4.1
    try {
      this.#emit('message', bytes, isBinary);
    } catch (err) {
      this.failed(err instanceof Error ? err : new Error(String(err)));
      this.close(1011, 'internal error');
    }
  }

  /** The runtime says the socket is closed (1006 if it never opened). */
  ended(code: number, reason: string): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    const queue = this.#queue;
    this.#queue = [];
    for (const [, callback] of queue) callback?.(new Error('WebSocket closed before it opened'));
    this.#emit('close', code, bytesOf(reason));
  }

  /** The runtime reported an error on the socket. */
  failed(err: Error): void {
    this.#emit('error', err);
  }

  #send(message: string | Uint8Array, callback: SendCallback | undefined): void {
    const sent = this.#native!.send(message);
    if (callback !== undefined) queueMicrotask(() => callback(sent ? undefined : new Error('WebSocket is closing: the message was dropped')));
  }

  #cut(callback: SendCallback | undefined): void {
    const err = new HatchwayError('ERR_HATCHWAY_WS_BACKLOG', this.#cap);
    this.#emit('error', err);
    this.terminate();
    callback?.(err);
  }

  #add(event: string, listener: Listener, once: boolean): this {
    let list = this.#listeners.get(event);
    if (list === undefined) this.#listeners.set(event, (list = []));
    list.push({ listener, once });
    return this;
  }

  #emit(event: string, ...args: unknown[]): void {
    const list = this.#listeners.get(event);
    if (list === undefined) return;
    for (const entry of [...list]) {
      if (entry.once) this.off(event, entry.listener);
      (entry.listener as (...a: unknown[]) => void)(...args);
    }
  }
}
