/**
 * One request as Node's `http` module would have handed it to a request listener: a real
 * `http.IncomingMessage` and a real `http.ServerResponse` over a socket that belongs to the
 * gateway, whose response streams into a hatchway body.
 *
 * Why real instances: Express (and much else) replaces the prototypes of `req` and `res` with
 * its own objects that inherit from `IncomingMessage.prototype` / `ServerResponse.prototype`.
 * Anything we put on a subclass prototype would vanish at that swap; anything we put on the
 * instance survives it. So everything below is Node's own code except a few *own-property*
 * hooks on the two instances:
 *
 * - `req._read` pulls the request body from `environ.input` (streaming, with backpressure);
 *   the request side — building, sharing and reading back `req` — is `request.ts`.
 * - `res._storeHeader` lets Node build the header block exactly as it would for the wire, then
 *   reads the fields back from it (order, duplicates, case and Node's validation preserved),
 *   drops the connection-level ones and calls `startResponse`.
 * - `res._send` receives every body chunk Node would have put on the socket — after Node's own
 *   bookkeeping (HEAD and 204/304 drop the body, `end(data)` computes Content-Length) — and
 *   queues it for the hatchway body; its callbacks run when the runner has taken the chunk, so
 *   `'finish'`, `write()` callbacks and `writableFinished` keep their Node meaning.
 * - `res.finished`, `res.writableNeedDrain` and `res.writableLength` are accessors over the
 *   queue, so `write()` returns `false` past the high-water mark and `'drain'` follows.
 * - `res._writeRaw` drops interim (1xx) responses: 100-continue is the server's business
 *   (it answers on the first read of the body).
 */
import { ServerResponse, type IncomingMessage } from 'node:http';
import { isHopByHop } from '../../src/index.ts';
import type { Body, Chunk, Environ, Header, HeaderList, StartResponse } from '../../src/index.ts';
import { IMPLICIT_LENGTH } from './drive.ts';
import { AdapterError } from './errors.ts';
import { environAfter, requestFor, snapshotRequest, type IncomingInternals, type Snapshot } from './request.ts';
import { GatewaySocket } from './socket.ts';

/** The parts of `ServerResponse` that are not in its public typings. */
interface OutgoingInternals {
  _header: string | null;
  _headerSent: boolean;
  _hasBody: boolean;
  _contentLength: number | null;
  _removedContLen: boolean;
  _closed: boolean;
  chunkedEncoding: boolean;
  useChunkedEncodingByDefault: boolean;
  shouldKeepAlive: boolean;
  _storeHeader(firstLine: string, headers: unknown): void;
  _send(data: string | Uint8Array, encoding: BufferEncoding | null | undefined, callback?: Callback | null): boolean;
  _writeRaw(data: unknown, encoding: unknown, callback?: unknown): boolean;
}

type Callback = (err?: Error | null) => void;

const storeHeader = (ServerResponse.prototype as unknown as OutgoingInternals)._storeHeader;

interface Entry {
  chunk: Chunk | undefined;
  length: number;
  callback: Callback | null | undefined;
}

/** Options of {@link NodeExchange}. */
export interface ExchangeOptions {
  /** Snapshot the request as built, so {@link NodeExchange.innerEnviron} can tell what middleware changed. */
  track?: boolean;
}

/** A request/response pair over one environ, whose response becomes a hatchway body. */
export class NodeExchange {
  readonly environ: Environ;
  readonly socket: GatewaySocket;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly #startResponse: StartResponse;
  readonly #snapshot: Snapshot | undefined;
  /** True when this exchange built the request object (and so finishes it). */
  readonly #owner: boolean;
  #queue: Entry[] = [];
  #queued = 0;
  #inflight: Entry | undefined = undefined;
  #wake: (() => void) | null = null;
  #failure: { error: unknown } | undefined = undefined;
  #finished = false;
  #done = false;
  #closed = false;
  #needDrain = false;
  #started = false;
  #socketError: unknown = undefined;
  readonly #onAbort: () => void;

  constructor(environ: Environ, startResponse: StartResponse, options: ExchangeOptions = {}) {
    this.environ = environ;
    this.#startResponse = startResponse;
    const socket = new GatewaySocket(environ);
    this.socket = socket;
    const { req, owner } = requestFor(environ, socket, { originalUrl: options.track === true });
    this.#owner = owner;
    this.req = req;
    this.#snapshot = options.track ? snapshotRequest(req) : undefined;
    this.res = this.#response(req, socket);

    socket.on('error', (err: unknown) => {
      this.#socketError ??= err;
    });
    socket.once('close', () => this.#onSocketClose());
    this.#onAbort = () => {
      this.#fail(new AdapterError('ERR_HATCHWAY_ADAPTER_ABORTED'));
      if (!socket.destroyed) socket.destroy();
    };
    environ.signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  #response(req: IncomingMessage, socket: GatewaySocket): ServerResponse {
    const res = new ServerResponse(req);
    const internals = res as unknown as OutgoingInternals;
    res.sendDate = false; // the server dates the response
    internals.useChunkedEncodingByDefault = true; // so `end(data)` gets a Content-Length on every protocol
    internals.shouldKeepAlive = true; // connection management is the server's
    (res as { socket: unknown }).socket = socket;
    const exchange = this;
    const hooks: Record<string, PropertyDescriptor> = {
      _storeHeader: {
        value: function _storeHeader(this: ServerResponse & OutgoingInternals, firstLine: string, headers: unknown): void {
          // Node would invent a Content-Length for a lone end(data); we add it ourselves, marked
          // as implicit, so a Connect layer around us can replay that end(data) (see drive.ts).
          this.useChunkedEncodingByDefault = false;
          try {
            storeHeader.call(this, firstLine, headers);
          } finally {
            this.useChunkedEncodingByDefault = true;
          }
          this.chunkedEncoding = false; // framing is the server's
          try {
            exchange.#commitHead(this);
          } catch (err) {
            this._header = null; // nothing was recorded: the listener may try again (an error page)
            throw err;
          }
        },
      },
      _send: {
        value: function _send(this: ServerResponse & OutgoingInternals, data: string | Uint8Array, encoding: BufferEncoding | null | undefined, callback?: Callback | null): boolean {
          this._headerSent = true;
          return exchange.#enqueue(data, encoding, callback);
        },
      },
      _writeRaw: {
        value: function _writeRaw(_data: unknown, encoding: unknown, callback?: unknown): boolean {
          const cb = typeof encoding === 'function' ? encoding : callback;
          if (typeof cb === 'function') process.nextTick(cb as () => void);
          return true;
        },
      },
      finished: {
        get: () => exchange.#finished,
        set: (value: boolean) => {
          exchange.#finished = value;
          if (value) exchange.#wakeUp();
        },
      },
      writableNeedDrain: { get: () => !res.destroyed && !exchange.#finished && exchange.#needDrain },
      writableLength: { get: () => exchange.#queued + (exchange.#inflight?.length ?? 0) },
    };
    for (const [name, descriptor] of Object.entries(hooks)) Object.defineProperty(res, name, { ...descriptor, configurable: true, enumerable: false });
    return res;
  }

  /** The hatchway body: starts the handler on the first pull, then yields what it writes. */
  body(start: () => unknown): Body {
    const iterator: AsyncIterator<Chunk> = {
      next: () => this.#next(start),
      return: async () => {
        this.close();
        return { done: true, value: undefined };
      },
    };
    return { [Symbol.asyncIterator]: () => iterator, close: () => this.close() };
  }

  /** Makes the body fail with `error` (an error response before the commit, an abort after). */
  fail(error: unknown): void {
    if (this.#closed || this.#done) {
      this.#report(error);
      return;
    }
    this.#fail(error);
  }

  #fail(error: unknown): void {
    this.#failure ??= { error };
    this.#wakeUp();
  }

  /** Ends the exchange: normally after the last chunk, otherwise as if the client went away. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.environ.signal.removeEventListener('abort', this.#onAbort);
    this.#wakeUp();
    if (!this.#done) {
      this.#failure ??= { error: new AdapterError('ERR_HATCHWAY_ADAPTER_ABORTED') };
      if (!this.socket.destroyed) this.socket.destroy();
      return;
    }
    // As node:http after a response: a request body nobody started reading is over.
    const req = this.req as IncomingMessage & IncomingInternals;
    if (this.#owner && !req._consuming && !req.readableEnded) {
      req.complete = true;
      req.push(null);
      req.resume();
    }
    process.nextTick(() => this.#emitClose());
  }

  /**
   * The environ an inner app sees after middleware ran on `req`: its method, URL and header
   * changes, the rest of the request body, plus `extra` keys. Needs `track: true`.
   */
  innerEnviron(extra: Record<string, unknown> = {}): Environ {
    return environAfter(this.req, this.environ, this.#snapshot!, extra);
  }

  async #next(start: () => unknown): Promise<IteratorResult<Chunk>> {
    if (!this.#started) {
      this.#started = true;
      const result = start();
      if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
        (result as PromiseLike<unknown>).then(undefined, (err: unknown) => this.fail(err));
      }
    }
    this.#flushInflight();
    for (;;) {
      if (this.#failure !== undefined) throw this.#failure.error;
      const entry = this.#queue.shift();
      if (entry !== undefined) {
        this.#queued -= entry.length;
        if (entry.chunk === undefined) {
          entry.callback?.(null);
          continue;
        }
        this.#inflight = entry;
        this.#maybeDrain();
        return { value: entry.chunk, done: false };
      }
      this.#maybeDrain();
      if (this.#finished) {
        this.#done = true;
        return { value: undefined, done: true };
      }
      if (this.#closed) return { value: undefined, done: true };
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  /** The chunk handed out last has been taken by the runner: its write() callback is due. */
  #flushInflight(): void {
    const entry = this.#inflight;
    if (entry === undefined) return;
    this.#inflight = undefined;
    entry.callback?.(null);
  }

  #maybeDrain(): void {
    if (this.#needDrain && this.#queued === 0) {
      this.#needDrain = false;
      this.res.emit('drain');
    }
  }

  #enqueue(data: string | Uint8Array, encoding: BufferEncoding | null | undefined, callback: Callback | null | undefined): boolean {
    if (this.#closed || this.#failure !== undefined) {
      if (typeof callback === 'function') process.nextTick(callback, new AdapterError('ERR_HATCHWAY_ADAPTER_DESTROYED'));
      return false;
    }
    let chunk: Chunk | undefined;
    let length: number;
    if (typeof data === 'string') {
      if (data.length === 0) {
        chunk = undefined;
        length = 0;
      } else if (!encoding || encoding === 'utf8' || encoding === 'utf-8') {
        chunk = data; // strings stay strings: a body nobody touched passes through as it was
        length = Buffer.byteLength(data);
      } else {
        chunk = Buffer.from(data, encoding);
        length = chunk.byteLength;
      }
    } else {
      length = data.byteLength;
      chunk = length === 0 ? undefined : data;
    }
    this.#queue.push({ chunk, length, callback });
    this.#queued += length;
    this.#wakeUp();
    const ok = this.#queued < this.res.writableHighWaterMark;
    if (!ok) this.#needDrain = true;
    return ok;
  }

  /** Reads the header block Node built back into a HeaderList and records it. */
  #commitHead(res: ServerResponse & OutgoingInternals): void {
    const block = res._header ?? '';
    const headers: HeaderList = [];
    let framed = false; // the listener set Content-Length, Transfer-Encoding or Trailer itself
    let start = block.indexOf('\r\n') + 2;
    for (;;) {
      const end = block.indexOf('\r\n', start);
      if (end === -1 || end === start) break;
      const colon = block.indexOf(':', start);
      const name = block.slice(start, colon);
      const lower = name.toLowerCase();
      if (lower === 'content-length' || lower === 'transfer-encoding' || lower === 'trailer') framed = true;
      // Node writes `name: value`; values never contain CR or LF (it validated them).
      if (!isHopByHop(name) || (res.statusCode === 426 && lower === 'upgrade')) headers.push([name, block.slice(colon + 2, end)]);
      start = end + 2;
    }
    if (!framed && res._hasBody && !res._removedContLen && typeof res._contentLength === 'number') {
      const pair: Header = ['Content-Length', String(res._contentLength)];
      IMPLICIT_LENGTH.add(pair);
      headers.push(pair);
    }
    const reason = res.statusMessage;
    this.#startResponse(reason ? `${res.statusCode} ${reason}` : res.statusCode, headers);
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #onSocketClose(): void {
    if (!this.#done) this.#fail(this.#socketError ?? new AdapterError('ERR_HATCHWAY_ADAPTER_DESTROYED'));
    const req = this.req;
    if (this.#owner && !req.destroyed && (!req.readableEnded || !req.complete)) {
      const err = Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
      req.destroy(err);
    }
    this.#emitClose();
  }

  #emitClose(): void {
    const res = this.res as ServerResponse & OutgoingInternals;
    if (res._closed) return;
    res._closed = true;
    res.destroyed = true;
    res.emit('close');
  }

  #report(error: unknown): void {
    try {
      this.environ.errors.write(error instanceof Error ? (error.stack ?? error.message) : `non-error thrown: ${String(error)}`);
    } catch {
      // an error stream that throws must not take the request down
    }
  }
}

