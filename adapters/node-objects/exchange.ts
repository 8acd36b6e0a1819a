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
 * - `'prefinish'` is how Node's end() says the message is complete (the socket is bound to the
 *   response as `assignSocket()` binds it, so Node's own `_finish()` runs): the body ends there.
 * - The socket's `writableLength` is the queue, so `write()` returns `false` past the
 *   high-water mark, `res.writableNeedDrain` is Node's own, and Node's `_flush()` emits
 *   `'drain'` when the runner has taken everything.
 * - `res.writeContinue`, `writeProcessing` and `writeEarlyHints` (public methods) drop interim
 *   (1xx) responses: 100-continue is the server's business (it answers on the first read of
 *   the body).
 *
 * The hooks are plain data properties holding shared functions (defining accessors per
 * instance cost microseconds per request).
 */
import { STATUS_CODES, ServerResponse, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { Transform } from 'node:stream';
import { FLUSH, HatchwayError, TRAILERS_KEY, sendWithTrailers } from '../../src/index.ts';
import type { Body, Chunk, Environ, Header, HeaderList, StartResponse } from '../../src/index.ts';
import { IMPLICIT_LENGTH, type MarkedBody } from './drive.ts';
import { adoptRequest, environAfter, newRequest, snapshotRequest, type IncomingInternals, type Snapshot } from './request.ts';
import { GatewaySocket, type SocketOwner } from './socket.ts';
import { ChunkQueue, type Callback } from './queue.ts';
import { decoderFor, readHead } from './head.ts';

/** The parts of `ServerResponse` that are not in its public typings. */
interface OutgoingInternals {
  _header: string | null;
  _headerSent: boolean;
  _hasBody: boolean;
  _contentLength: number | null;
  _removedContLen: boolean;
  _removedConnection: boolean;
  _closed: boolean;
  chunkedEncoding: boolean;
  useChunkedEncodingByDefault: boolean;
  shouldKeepAlive: boolean;
  _storeHeader(firstLine: string, headers: unknown): void;
  _send(data: string | Uint8Array, encoding: BufferEncoding | null | undefined, callback?: Callback | null): boolean;
}


const storeHeader = (ServerResponse.prototype as unknown as OutgoingInternals)._storeHeader;
const { addTrailers, flushHeaders } = ServerResponse.prototype;

/** Node's need-drain flag of an OutgoingMessage (found on the first response that needs it; `null`: not there). */
let kNeedDrain: symbol | null | undefined;

/** Where a hooked response keeps its exchange. */
const kExchange = Symbol('hatchway.exchange');
interface Hooked {
  [kExchange]: NodeExchange;
}

// The own-property hooks every response gets (see the module comment); `this` is the response.
// Assigned in NodeExchange's static block, where they can reach its private members.
let storeHeaderHook: OutgoingInternals['_storeHeader'];
let sendHook: OutgoingInternals['_send'];
let onPrefinish: (this: ServerResponse) => void;
let addTrailersHook: (this: ServerResponse, headers: OutgoingHttpHeaders | ReadonlyArray<[string, string]>) => void;
let flushHeadersHook: (this: ServerResponse) => void;

/**
 * Emits 'close' after 'finish', asynchronously as node:http does (it uses a tick). A promise
 * job rather than a tick: V8 may allocate the tick objects of `process.nextTick()` in the old
 * generation, where one pointing at the exchange would keep the request alive past its end.
 */
let emitCloseJob: (exchange: NodeExchange) => void;

function rethrow(err: unknown): never {
  throw err;
}

/** Interim (1xx) responses are the server's: dropped, their callback (the last argument) still called. */
function interimHook(this: ServerResponse, ...args: unknown[]): void {
  const callback = args[args.length - 1];
  if (typeof callback === 'function') process.nextTick(callback as () => void);
}

/** Options of {@link NodeExchange}. */
export interface ExchangeOptions {
  /** Snapshot the request as built, so {@link NodeExchange.innerEnviron} can tell what middleware changed. */
  track?: boolean;
}

/** A request/response pair over one environ, whose response becomes a hatchway body. */
export class NodeExchange implements SocketOwner {
  readonly environ: Environ;
  readonly socket: GatewaySocket;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly #startResponse: StartResponse;
  readonly #snapshot: Snapshot | undefined;
  /** True when this exchange built the request object (and so finishes it). */
  readonly #owner: boolean;
  readonly #queue = new ChunkQueue(() => this.#maybeDrain());
  #failure: { error: unknown } | undefined = undefined;
  #finished = false;
  /** 'prefinish' was handled (the listener is `on`, not `once`: a once() wrapper is two more objects). */
  #prefinished = false;
  /** The body handed out is a {@link CompleteBody}: the listener's response is all there. */
  #complete = false;
  #done = false;
  #closed = false;
  #started = false;
  #implicitLength: Header | undefined = undefined;
  /** The body length the head declares (the listener's Content-Length, or the one Node would have added). */
  #length: number | undefined = undefined;
  #socketError: unknown = undefined;
  /** Undoes the transfer codings the listener applied (`Transfer-Encoding: gzip`). */
  #decoder: { input: Transform; output: Transform } | undefined = undefined;
  /** The token response of a trailers escape the listener's `Trailer` field asked for; the app's body yields it. */
  #token: Chunk[] | undefined = undefined;
  /** What `res.addTrailers()` was given. */
  readonly #trailers: HeaderList = [];
  /** Set while the exchange listens to `environ.signal`: only a streaming body does (see {@link run}). */
  #onAbort: (() => void) | undefined = undefined;

  constructor(environ: Environ, startResponse: StartResponse, options: ExchangeOptions = {}) {
    this.environ = environ;
    this.#startResponse = startResponse;
    const socket = new GatewaySocket(environ);
    this.socket = socket;
    const shared = adoptRequest(environ);
    this.#owner = shared === undefined;
    const req = shared ?? newRequest(environ, socket, options.track === true);
    this.req = req;
    this.#snapshot = options.track ? snapshotRequest(req) : undefined;
    this.res = this.#response(req, socket);
    socket.owner = this;
  }

  /** From now on, a client that goes away destroys the socket (the listener sees `'close'` without `'finish'`). */
  #watchAbort(): void {
    const socket = this.socket;
    this.#onAbort = () => {
      this.#fail(new HatchwayError('ERR_HATCHWAY_ADAPTER_ABORTED'));
      if (!socket.destroyed) socket.destroy();
    };
    this.environ.signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  #response(req: IncomingMessage, socket: GatewaySocket): ServerResponse {
    const res = new ServerResponse(req);
    const internals = res as unknown as OutgoingInternals;
    res.sendDate = false; // the server dates the response
    internals.useChunkedEncodingByDefault = true; // so `end(data)` gets a Content-Length on every protocol
    internals.shouldKeepAlive = true; // connection management is the server's
    internals._removedConnection = true; // so Node adds no Connection field of its own (one a listener sets is still there)
    (res as { socket: unknown }).socket = socket;
    (res as unknown as Hooked)[kExchange] = this;
    // As assignSocket() does: with the socket bound to it, Node's end() calls _finish(), which emits 'prefinish'.
    (socket as unknown as { _httpMessage: unknown })._httpMessage = res;
    // Plain data properties holding shared functions: cheap to add, one shape for every response.
    const hooked = res as unknown as OutgoingInternals;
    hooked._storeHeader = storeHeaderHook;
    hooked._send = sendHook;
    res.writeContinue = interimHook;
    res.writeProcessing = interimHook;
    res.writeEarlyHints = interimHook;
    res.on('prefinish', onPrefinish);
    res.addTrailers = addTrailersHook;
    res.flushHeaders = flushHeadersHook;
    return res;
  }

  static {
    const of = (res: unknown): NodeExchange => (res as Hooked)[kExchange];
    storeHeaderHook = function _storeHeader(this: ServerResponse & OutgoingInternals, firstLine: string, headers: unknown): void {
      // Node would invent a Content-Length for a lone end(data); we add it ourselves, marked
      // as implicit, so a Connect layer around us can replay that end(data) (see drive.ts).
      this.useChunkedEncodingByDefault = false;
      try {
        storeHeader.call(this, firstLine, headers);
      } catch (err) {
        // A `Trailer` field needs chunked coding in Node's eyes: let it choose as for the wire (a
        // Content-Length beside it still throws, as on node:http); the framing is the server's anyway.
        if ((err as { code?: unknown } | null)?.code !== 'ERR_HTTP_TRAILER_INVALID') throw err;
        this.useChunkedEncodingByDefault = true;
        storeHeader.call(this, firstLine, headers);
      } finally {
        this.useChunkedEncodingByDefault = true;
      }
      this.chunkedEncoding = false; // framing is the server's
      try {
        of(this).#commitHead(this);
      } catch (err) {
        // Nothing was recorded: the listener may try again (an error page). writeHead() has already
        // taken the refused status; its "no body" (1xx) and default reason must not stick to the retry.
        this._header = null;
        this._hasBody = this.req.method !== 'HEAD';
        if (this.statusMessage === (STATUS_CODES[this.statusCode] ?? 'unknown')) this.statusMessage = undefined as unknown as string;
        throw err;
      }
    };
    addTrailersHook = function addTrailersHook(this: ServerResponse, headers: OutgoingHttpHeaders | ReadonlyArray<[string, string]>): void {
      addTrailers.call(this, headers); // Node's validation
      const list = of(this).#trailers;
      if (Array.isArray(headers)) {
        for (const [name, value] of headers as ReadonlyArray<[string, string]>) list.push([name, String(value)]);
        return;
      }
      for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) {
        if (Array.isArray(value)) for (const v of value) list.push([name, String(v)]);
        else if (value !== undefined) list.push([name, String(value)]);
      }
    };
    flushHeadersHook = function flushHeadersHook(this: ServerResponse): void {
      flushHeaders.call(this);
      of(this).#enqueueFlush();
    };
    sendHook = function _send(this: ServerResponse & OutgoingInternals, data: string | Uint8Array, encoding: BufferEncoding | null | undefined, callback?: Callback | null): boolean {
      this._headerSent = true;
      return of(this).#enqueue(data, encoding, callback);
    };
    onPrefinish = function onPrefinish(this: ServerResponse): void {
      const exchange = of(this);
      if (exchange.#prefinished) return;
      exchange.#prefinished = true;
      const decoder = exchange.#decoder;
      if (decoder === undefined) {
        exchange.#finished = true;
        exchange.#wakeUp();
      } else {
        decoder.output.once('end', () => {
          exchange.#finished = true;
          exchange.#wakeUp();
        });
        decoder.input.end();
      }
    };
  }

  /** The hatchway body: starts the handler on the first pull, then yields what it writes. */
  body(start: () => unknown): Body {
    this.#watchAbort();
    return new ExchangeBody(this, start, true);
  }

  /**
   * Starts the handler now and returns the hatchway body. A handler that ended its response
   * before returning (no I/O to wait for: the common route) has it all queued, and the body is
   * the array of its chunks, which the runner sends in one write with a known length;
   * otherwise the body yields what the handler writes, as {@link body}'s does. A handler that
   * throws closes the exchange and the error propagates (the runner's error response). Only a
   * streaming body listens to `environ.signal`: an abort is an event, so none can come before the
   * handler returns, and a complete response is over by then.
   */
  run(start: () => unknown): Body {
    this.#started = true;
    let result: unknown;
    try {
      result = start();
    } catch (err) {
      this.close();
      throw err;
    }
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      (result as PromiseLike<unknown>).then(undefined, (err: unknown) => this.fail(err));
    }
    // As on node:http, only a response whose head gives its length (and whose body has that
    // length) goes out with it: any other keeps the server's framing of a streamed body.
    const sized = !(this.res as ServerResponse & OutgoingInternals)._hasBody || this.#length === this.#queue.queued;
    if (this.#finished && sized && this.#failure === undefined && this.#token === undefined && !this.#closed) {
      this.#complete = true;
      const body = new CompleteBody(this);
      this.#queue.takeAll(body);
      return body;
    }
    this.#watchAbort();
    return new ExchangeBody(this, noStart, true);
  }

  /** The runner has sent a {@link CompleteBody}: the response is over. */
  closeComplete(): void {
    this.#done = true;
    this.close();
  }

  /** True when the app's body is a trailers token response: the exchange is closed through the escape's body. */
  get escaped(): boolean {
    return this.#token !== undefined;
  }

  /** The Content-Length field Node would have invented, if the head has one (see drive.ts). */
  get implicitLength(): Header | undefined {
    return this.#implicitLength;
  }

  /** The body's `next()`; `outer` for the app's own body (which yields a token response instead, if there is one). */
  pull(start: () => unknown, outer: boolean): Promise<IteratorResult<Chunk>> {
    return this.#next(start, outer);
  }

  /** Makes the body fail with `error` (an error response before the commit, an abort after). */
  fail(error: unknown): void {
    if (this.#closed || this.#done || this.#complete) {
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
    if (this.#onAbort !== undefined) this.environ.signal.removeEventListener('abort', this.#onAbort);
    this.#wakeUp();
    if (!this.#done) {
      this.#failure ??= { error: new HatchwayError('ERR_HATCHWAY_ADAPTER_ABORTED') };
      if (!this.socket.destroyed) this.socket.destroy();
      return;
    }
    this.#queue.settle(); // the callbacks of a complete body's chunks: the runner has taken them
    // As node:http after a response: a request body nobody started reading is over.
    const req = this.req as IncomingMessage & IncomingInternals;
    if (this.#owner && !req._consuming && !req.readableEnded) {
      req.complete = true;
      // Only someone listening could tell the stream ended: spare the stream machinery otherwise.
      if (req.listenerCount('end') + req.listenerCount('close') + req.listenerCount('data') + req.listenerCount('readable') > 0) {
        req.push(null);
        req.resume();
      }
    }
    void Promise.resolve(this).then(emitCloseJob);
  }

  /**
   * The environ an inner app sees after middleware ran on `req`: its method, URL and header
   * changes, the rest of the request body, plus `extra` keys. Needs `track: true`.
   */
  innerEnviron(extra: Record<string, unknown> = {}): Environ {
    return environAfter(this.req, this.environ, this.#snapshot!, extra);
  }

  async #next(start: () => unknown, outer: boolean): Promise<IteratorResult<Chunk>> {
    if (!this.#started) {
      this.#started = true;
      const result = start();
      if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
        (result as PromiseLike<unknown>).then(undefined, (err: unknown) => this.fail(err));
      }
    }
    this.#queue.settle();
    for (;;) {
      if (this.#failure !== undefined) throw this.#failure.error;
      if (outer && this.#token !== undefined) {
        // The listener announced trailers and the client takes them: the body is the escape's now.
        const chunk = this.#token.shift();
        return chunk === undefined ? { value: undefined, done: true } : { value: chunk, done: false };
      }
      const chunk = this.#queue.shift();
      if (chunk !== undefined) return { value: chunk, done: false };
      if (this.#finished) {
        this.#done = true;
        return { value: undefined, done: true };
      }
      if (this.#closed) return { value: undefined, done: true };
      await this.#queue.wait();
    }
  }

  #maybeDrain(): void {
    // As node:http's socket 'drain' handler does: clear the flag `writableNeedDrain` reads, emit
    // 'drain'. (OutgoingMessage#_flush() does it too on Node 24, but not on Node 22 when nothing
    // is buffered in the message itself, which is always the case here.)
    const res = this.res;
    if (this.#queue.queued !== 0 || !res.writableNeedDrain || res.writableEnded) return;
    kNeedDrain ??= Object.getOwnPropertySymbols(res).find((s) => s.description === 'kNeedDrain') ?? null;
    if (kNeedDrain === null) {
      (res as unknown as { _flush(): void })._flush();
      return;
    }
    (res as unknown as Record<symbol, boolean>)[kNeedDrain] = false;
    res.emit('drain');
  }

  /** `flushHeaders()`: the head is settled, and the body says so with the one chunk that commits (SPEC §3.4). */
  #enqueueFlush(): void {
    if (this.#closed || this.#failure !== undefined) return;
    this.#queue.push(FLUSH, 0);
  }

  #enqueue(data: string | Uint8Array, encoding: BufferEncoding | null | undefined, callback: Callback | null | undefined): boolean {
    if (this.#closed || this.#failure !== undefined) {
      if (typeof callback === 'function') process.nextTick(callback, new HatchwayError('ERR_HATCHWAY_ADAPTER_DESTROYED'));
      return false;
    }
    const decoder = this.#decoder;
    if (decoder !== undefined) {
      const bytes = typeof data === 'string' ? Buffer.from(data, encoding ?? 'utf8') : data;
      if (bytes.byteLength === 0) {
        if (typeof callback === 'function') process.nextTick(callback);
        return true;
      }
      decoder.input.write(bytes, (err) => callback?.(err ?? null));
      return this.#queue.queued < this.res.writableHighWaterMark;
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
    this.#queue.push(chunk, length, callback);
    return this.#queue.queued < this.res.writableHighWaterMark;
  }

  /** Reads the header block Node built back into a HeaderList and records it. */
  #commitHead(res: ServerResponse & OutgoingInternals): void {
    const block = res._header ?? '';
    const status = res.statusCode;
    const { headers, framed, codings, trailerNames, contentLength } = readHead(block, status);
    if (codings.length > 0 && res._hasBody) this.#decoder = this.#decoderFor(codings);
    if (!framed && res._hasBody && !res._removedContLen && typeof res._contentLength === 'number') {
      const pair: Header = ['Content-Length', String(res._contentLength)];
      this.#implicitLength = pair;
      headers.push(pair);
      this.#length = res._contentLength;
    } else if (contentLength !== undefined && /^\d+$/.test(contentLength)) {
      this.#length = Number(contentLength);
    }
    const reason = res.statusMessage;
    // A number where the reason is Node's default: the same on the wire, and no parsing.
    const statusArg = reason && reason !== STATUS_CODES[status] ? `${status} ${reason}` : status;
    if (trailerNames !== undefined && res._hasBody && typeof this.environ[TRAILERS_KEY] === 'function') {
      // res.addTrailers() rides the trailers escape (SPEC §7.6): the app answers with the token
      // response, and the escape pulls the listener's body, then asks for what addTrailers() got.
      const token = sendWithTrailers(this.environ, this.#startResponse, {
        status: statusArg,
        headers,
        names: trailerNames,
        body: () => new ExchangeBody(this, () => undefined, false),
        trailers: () => this.#trailers,
      });
      this.#token = [...(token as Chunk[])];
      this.#wakeUp();
      return;
    }
    this.#startResponse(statusArg, headers);
  }

  /** Undoes the listener's transfer codings into the queue (see head.ts). */
  #decoderFor(codings: readonly string[]): { input: Transform; output: Transform } {
    const decoder = decoderFor(codings);
    decoder.output.on('data', (chunk: Buffer) => this.#queue.push(chunk, chunk.byteLength));
    for (const stage of decoder.stages) stage.on('error', (err: Error) => this.#fail(err));
    return decoder;
  }

  #wakeUp(): void {
    this.#queue.wakeUp();
  }

  /** Bytes written and not taken by the runner yet: the socket's `writableLength`. */
  get pending(): number {
    return this.#queue.pending;
  }

  /** The socket failed (its first error is what a close reports). */
  socketError(err: unknown): void {
    this.#socketError ??= err;
  }

  /** The socket closed: before the end of the response, that aborts it (and `req`). */
  socketClosed(): void {
    if (!this.#done) this.#fail(this.#socketError ?? new HatchwayError('ERR_HATCHWAY_ADAPTER_DESTROYED'));
    const req = this.req;
    if (this.#owner && !req.destroyed && (!req.readableEnded || !req.complete)) {
      const err = Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
      req.destroy(err);
    }
    this.#emitClose();
  }

  static {
    emitCloseJob = (exchange) => {
      try {
        exchange.#emitClose();
      } catch (err) {
        process.nextTick(rethrow, err); // a 'close' listener that throws: an uncaught exception, as from a tick
      }
    };
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

const noStart = (): void => {};

/**
 * The whole response of a handler that ended it synchronously: an array of its chunks (so the
 * runner sends them at once, with a known length), closed through the exchange. An `Array`
 * subclass rather than an array literal, which V8 may allocate in the old generation, where
 * its pointer to the exchange would keep the request alive past its end.
 */
class CompleteBody extends Array<Chunk> implements MarkedBody {
  readonly #exchange: NodeExchange;
  constructor(exchange: NodeExchange) {
    super();
    this.#exchange = exchange;
  }
  // Copies (`filter`, `map`, `slice`) are plain arrays, not bodies of this exchange.
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }
  close(): void {
    this.#exchange.closeComplete();
  }
  get [IMPLICIT_LENGTH](): Header | undefined {
    return this.#exchange.implicitLength;
  }
}

/**
 * The body of an exchange: its own iterator, closed through the exchange. The app's body
 * (`outer`) yields a trailers token response instead when there is one; the escape's body is
 * then the one that yields the listener's chunks and closes the exchange.
 */
class ExchangeBody implements AsyncIterableIterator<Chunk>, MarkedBody {
  readonly #exchange: NodeExchange;
  readonly #start: () => unknown;
  readonly #outer: boolean;
  constructor(exchange: NodeExchange, start: () => unknown, outer: boolean) {
    this.#exchange = exchange;
    this.#start = start;
    this.#outer = outer;
  }
  [Symbol.asyncIterator](): this {
    return this;
  }
  next(): Promise<IteratorResult<Chunk>> {
    return this.#exchange.pull(this.#start, this.#outer);
  }
  async return(): Promise<IteratorResult<Chunk>> {
    this.close();
    return { done: true, value: undefined };
  }
  close(): void {
    if (this.#outer && this.#exchange.escaped) return;
    this.#exchange.close();
  }
  get [IMPLICIT_LENGTH](): Header | undefined {
    return this.#exchange.implicitLength;
  }
}
