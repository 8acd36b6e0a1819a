/**
 * Fetch handlers ↔ hatchway apps: `(request: Request) => Response | Promise<Response>`, the
 * shape of Hono, itty-router, Remix/React Router, SvelteKit's adapters, Deno and Bun servers.
 *
 * Both directions stream: a request body is a `ReadableStream` that pulls from
 * `environ.input` only when the handler reads it (so `Expect: 100-continue` is answered only
 * then), and a response body is pulled chunk by chunk — never buffered whole. The global
 * `Request`/`Response` are used as they are, never replaced.
 *
 * Fidelity and limits: `docs/ADAPTERS.md`.
 *
 * @module
 */
import { FileBody, HatchwayError, bodyForbidden, errorResponse, isServerManaged, run, toBytes } from '../src/index.ts';
import { PullBodyReader, formatError, httpError, nextRequestId, splitTarget, type EscapeCapableSink } from '../src/host.ts';
import type { App, Chunk, Environ, ErrorStream, HeaderList, ResponseSink } from '../src/index.ts';
import { relativeUrl } from './node-objects/url.ts';

/** The environ key holding the `Request` a {@link toFetch} handler received. */
export const FETCH_REQUEST = 'fetch.request';

/**
 * A fetch handler. The environ is passed as the second argument, where Hono and similar
 * frameworks put their "bindings" (`c.env` in Hono), so a handler can reach server extensions.
 */
export type FetchHandler = (request: Request, environ: Environ) => Response | Promise<Response>;

/** The methods whose requests carry no body in the fetch API. */
const NO_BODY = new Set(['GET', 'HEAD']);

/** The `Request` for an environ: URL below the mount point, headers in order, body streamed from `environ.input`. */
function requestFromEnviron(environ: Environ): Request {
  let path = relativeUrl(environ);
  if (path[0] !== '/') path = '/'; // asterisk- and authority-form have no fetch equivalent
  const host = environ.authority || `${environ.localAddress.includes(':') ? `[${environ.localAddress}]` : environ.localAddress}:${environ.localPort}`;
  const headers = new Headers();
  for (const [name, value] of environ.headers) headers.append(name, value);
  const init: RequestInit & { duplex?: 'half' } = { method: environ.method, headers, signal: environ.signal };
  const input = environ.input;
  if (!NO_BODY.has(environ.method) && input.length !== 0) {
    // highWaterMark 0: nothing is read (and no 100 Continue sent) until the handler reads.
    init.body = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const chunk = await input.read();
          if (chunk === null) controller.close();
          else controller.enqueue(chunk);
        },
      },
      { highWaterMark: 0 },
    );
    init.duplex = 'half';
  }
  return new Request(`${environ.scheme}://${host}${path}`, init);
}

// After pending I/O callbacks: setImmediate where the runtime has it, else a 0 ms timer (workerd).
const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
const afterIo = (resolve: () => void): unknown => (immediate === undefined ? setTimeout(resolve, 0) : immediate(resolve));

/** Resolves with the stream's next read if it is already settled (nothing more to wait for), else `undefined`. */
function settledNow<T>(promise: Promise<T>): Promise<T | undefined> {
  return Promise.race([promise, new Promise<undefined>((resolve) => afterIo(() => resolve(undefined)))]);
}

/**
 * Hosts a fetch handler as a hatchway app.
 *
 * The handler is called when the server first pulls the body, with a `Request` whose URL is
 * `scheme://authority` + the path below `scriptName` (raw) + the query, whose `signal` aborts
 * with `environ.signal`, and with the environ as second argument. The `Response`'s headers
 * (minus connection-level fields) and status are passed to `startResponse`; its body is pulled
 * one chunk at a time. When the body is already complete after its first chunk (a string or
 * buffer body), the response gets a Content-Length, as Node servers give one.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { serve } from 'hatchway/server';
 * import { fromFetch } from 'hatchway/adapters/fetch';
 *
 * const hono = new Hono();
 * hono.get('/hello/:name', (c) => c.text(`Hello, ${c.req.param('name')}`));
 * await serve(fromFetch(hono.fetch), { port: 8000 });
 * ```
 */
export function fromFetch(handler: FetchHandler): App {
  if (typeof handler !== 'function') throw new HatchwayError('ERR_HATCHWAY_ADAPTER_INVALID_ARGUMENT', 'fromFetch(handler): a function (request) => Response');
  return function fetchApp(environ, startResponse) {
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    let closed = false;
    const release = (): void => {
      const r = reader;
      reader = undefined;
      r?.cancel().catch(() => {});
    };
    async function* body(): AsyncGenerator<Chunk> {
      const response = await handler(requestFromEnviron(environ), environ);
      if (!(response instanceof Response)) throw new HatchwayError('ERR_HATCHWAY_ADAPTER_INVALID_RESPONSE', response);
      const headers: HeaderList = [];
      let hasLength = false;
      for (const [name, value] of response.headers) {
        if (isServerManaged(name, response.status)) continue;
        if (name === 'content-length') hasLength = true;
        headers.push([name, value]);
      }
      const status = response.statusText ? `${response.status} ${response.statusText}` : response.status;
      if (response.body === null || bodyForbidden(environ.method, response.status)) {
        void response.body?.cancel().catch(() => {});
        startResponse(status, headers);
        return;
      }
      reader = response.body.getReader();
      if (closed) return release();
      try {
        const first = await reader.read();
        if (first.done) {
          startResponse(status, headers);
          return;
        }
        let pending = reader.read();
        const second = await settledNow(pending);
        if (second?.done) {
          // The whole body is here: give it a length, as a Node server would for a string body.
          if (!hasLength) headers.push(['content-length', String(first.value.byteLength)]);
          startResponse(status, headers);
          yield first.value;
          return;
        }
        startResponse(status, headers);
        yield first.value;
        if (second !== undefined) {
          yield second.value;
          pending = reader.read();
        }
        for (let result = await pending; !result.done; result = await reader.read()) yield result.value;
      } finally {
        release();
      }
    }
    const iterable = body();
    return {
      [Symbol.asyncIterator]: () => iterable,
      close() {
        closed = true;
        release(); // a pending read resolves as done, so the generator can finish
      },
    };
  };
}

/** Options of {@link toFetch}; `A` are the handler's arguments after the `Request`. */
export interface ToFetchOptions<A extends unknown[] = []> {
  /** Where the app's error lines go (default: `console.error`). */
  errors?: ErrorStream;
  /**
   * Extra environ keys for each request, from the `Request` and the handler's further
   * arguments (a Worker's `env` and `ctx`: `hatchway/host/workerd`). A key the environ already
   * has (SPEC §2.1, `fetch.request`) is not replaced.
   */
  environ?: (request: Request, ...args: A) => Record<string, unknown>;
}

/**
 * Turns a hatchway app into a fetch handler. The environ comes from the `Request`: `target`
 * is the URL's path and query as sent, `authority` its host, `environ['fetch.request']` the
 * request itself, `signal` the request's signal, addresses empty and every feature `false`,
 * plus the keys `options.environ` returns (from the handler's further arguments: a Worker's
 * `env` and `ctx`).
 * The `Response` is created when the app commits; its body is a `ReadableStream` that pulls
 * from the app's body with backpressure.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { toFetch } from 'hatchway/adapters/fetch';
 *
 * const hono = new Hono();
 * hono.mount('/legacy', toFetch(hatchwayApp));
 * ```
 */
export function toFetch<A extends unknown[] = []>(app: App, options: ToFetchOptions<A> = {}): (request: Request, ...args: A) => Promise<Response> {
  checkApp(app, 'toFetch(app)');
  const errors = errorStream(options);
  const extend = options.environ;
  return function hatchwayFetch(request: Request, ...args: A): Promise<Response> {
    return exchange(app, request, errors, undefined, extend && (() => extend(request, ...args))) as Promise<Response>;
  };
}

/**
 * One request as a host over the fetch adapter sees it before the app runs (SPEC §11): the
 * environ `toFetch` built, which the host may complete (addresses, `protocol`, `features`, a
 * `signal` of its own), and the adapter's sink, whose `head()` settles the handler with a
 * streaming `Response`.
 */
export interface FetchExchange {
  /** The request being served. */
  readonly request: Request;
  /** Its environ; every field may be set before the app runs. */
  readonly environ: Environ;
  /**
   * The adapter's sink. A host gives it the optional capabilities its runtime has
   * (`acceptWebSocket`, `earlyHints`, …) before handing it to `installEscapes`.
   */
  readonly sink: EscapeCapableSink;
  /**
   * Settles the handler with `value` instead of a `Response` from `head()`: the runtime's own
   * answer to an upgrade (`undefined` after Bun's `server.upgrade()`, the `101` of
   * `Deno.upgradeWebSocket()`). The sink reports itself closed from then on.
   */
  respond(value: Response | undefined): void;
  /**
   * Calls `listener` once when the response is over for the adapter: its body ended, was
   * aborted or cancelled by the runtime, or {@link respond} answered. Where a host releases
   * the request's escape registrations.
   */
  onFinished(listener: () => void): void;
}

/**
 * A host over the fetch adapter: per request, completes the exchange and returns the sink the
 * runner writes to — the exchange's own, or the `EscapeSink` that `installEscapes` made over it.
 */
export interface FetchHost<C> {
  /**
   * The environ's `signal` for this request (default: `request.signal`). A host may give one
   * that follows the request's lazily: Deno spends an op on every request whose signal is read.
   */
  signal?(request: Request, context: C): AbortSignal;
  /** Called once per request, before the app; a throw answers that request 500. */
  serve(exchange: FetchExchange, context: C): ResponseSink;
}

/**
 * {@link toFetch} for a host that gives the app more than a plain fetch handler can: the
 * Bun and Deno hosts (`hatchway/host/bun`, `hatchway/host/deno`) install the escapes their
 * runtime has through `host.serve()`. The handler takes the runtime's per-request context
 * (Bun's `server`, Deno's `info`) as its second argument and settles with the `Response`, or
 * with whatever the host passed to {@link FetchExchange.respond}.
 *
 * @example
 * ```ts
 * import { hostFetch } from 'hatchway/adapters/fetch';
 *
 * // A host that only fills in the peer's address from its runtime's context.
 * const handler = hostFetch(app, {
 *   serve(exchange, peer: { address: string; port: number }) {
 *     exchange.environ.remoteAddress = peer.address;
 *     exchange.environ.remotePort = peer.port;
 *     return exchange.sink;
 *   },
 * });
 * const response = await handler(new Request('http://localhost/'), { address: '127.0.0.1', port: 5000 });
 * ```
 */
export function hostFetch<C>(app: App, host: FetchHost<C>, options: ToFetchOptions = {}): (request: Request, context: C) => Promise<Response | undefined> {
  checkApp(app, 'hostFetch(app, host)');
  if (typeof host?.serve !== 'function') throw new HatchwayError('ERR_HATCHWAY_ADAPTER_INVALID_ARGUMENT', 'hostFetch(app, host): host.serve(exchange, context) => sink');
  const errors = errorStream(options);
  return function hostedFetch(request: Request, context: C): Promise<Response | undefined> {
    return exchange(app, request, errors, { serve: (x) => host.serve(x, context), signal: host.signal && (() => host.signal!(request, context)) });
  };
}

function checkApp(app: App, call: string): void {
  if (typeof app !== 'function') throw new HatchwayError('ERR_HATCHWAY_ADAPTER_INVALID_ARGUMENT', `${call}: a function (environ, startResponse) => body`);
}

function errorStream(options: { errors?: ErrorStream | undefined }): ErrorStream {
  return options.errors ?? { write: (message: string) => console.error(message) };
}

/** A host bound to one request's context. */
interface Bound {
  serve(exchange: FetchExchange): ResponseSink;
  signal: (() => AbortSignal) | undefined;
}

/** Runs `app` for `request`; a host picks the signal and the sink. Settles once the app committed, or the host responded. */
function exchange(app: App, request: Request, errors: ErrorStream, host: Bound | undefined, extra?: () => Record<string, unknown>): Promise<Response | undefined> {
  return new Promise((resolve) => {
    let environ: Environ;
    try {
      environ = environFromRequest(request, errors, host?.signal?.());
      if (extra !== undefined) addKeys(environ, extra());
    } catch (err) {
      // a target that does not decode: the 400 the server answers
      resolve(errorAnswer(err));
      return;
    }
    const sink = new FetchSink(environ.method, resolve);
    let target: ResponseSink = sink;
    if (host !== undefined) {
      try {
        target = host.serve({ request, environ, sink, respond: (value) => sink.respond(value), onFinished: (listener) => sink.onFinished(listener) });
      } catch (err) {
        environ.errors.write(formatError(err));
        sink.respond(errorAnswer(err));
        return;
      }
    }
    const done = run(app, environ, target);
    if (done !== undefined) done.catch((err: unknown) => environ.errors.write(String(err))).finally(() => sink.settle(environ.signal.aborted));
  });
}

function errorAnswer(err: unknown): Response {
  const { status, headers, body } = errorResponse(err);
  return new Response(body, { status, headers });
}

/** Adds `extra`'s keys that `environ` does not have. */
function addKeys(environ: Environ, extra: Record<string, unknown>): void {
  for (const key of Object.keys(extra)) if (!(key in environ)) environ[key] = extra[key];
}

/** The environ for a fetch `Request`. */
function environFromRequest(request: Request, errors: ErrorStream, signal: AbortSignal = request.signal): Environ {
  const url = request.url;
  // `request.url` is already a serialized URL (no credentials, default port dropped): slice it.
  const start = url.indexOf('//') + 2;
  const authorityEnd = url.indexOf('/', start);
  let target = authorityEnd === -1 ? '/' : url.slice(authorityEnd);
  const hash = target.indexOf('#');
  if (hash !== -1) target = target.slice(0, hash);
  const { pathInfo, queryString } = splitTarget(target, request.method); // throws a 400 HttpError
  const headers: HeaderList = [];
  for (const [name, value] of request.headers) headers.push([name, value]);
  const declared = request.headers.get('content-length');
  const length = declared !== null && /^\d+$/.test(declared) ? Number(declared) : undefined;
  const requestId = nextRequestId();
  return {
    method: request.method,
    scheme: url.startsWith('https:') ? 'https' : 'http',
    target,
    scriptName: '',
    pathInfo,
    queryString,
    protocol: 'HTTP/1.1',
    authority: url.slice(start, authorityEnd === -1 ? undefined : authorityEnd),
    headers,
    remoteAddress: '',
    remotePort: 0,
    localAddress: '',
    localPort: 0,
    requestId,
    streamId: undefined,
    input: new WebBodyReader(request.body, length),
    errors: { write: (message) => errors.write(`[hatchway ${requestId}] ${message}`) },
    features: { push: false, trailers: false, websocket: false, earlyHints: false },
    signal,
    [FETCH_REQUEST]: request,
  };
}

/** The runner's view of a `Response` being built: resolves it at the commit, then feeds its stream. */
class FetchSink implements EscapeCapableSink {
  readonly #method: string;
  readonly #resolve: (response: Response | undefined) => void;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  /** A committed head whose Response is not made yet (until the write or end right after it). */
  #init: ResponseInit | undefined;
  #pulled: (() => void) | null = null;
  #cancelled = false;
  #finished: (() => void)[] = [];
  #over = false;

  #settled = false;

  constructor(method: string, resolve: (response: Response | undefined) => void) {
    this.#method = method;
    this.#resolve = (response) => {
      this.#settled = true;
      resolve(response);
    };
  }

  /**
   * The runner is done. It stops without a word to the sink when the client left before the
   * commit (`environ.signal` aborted): the handler still settles — with a 503 no client will
   * read — and the host hears the response is over. (Otherwise the sink has heard, or an escape
   * is still answering: a fallback, a body without its trailers.)
   */
  settle(clientGone: boolean): void {
    if (!clientGone) return;
    if (!this.#settled) this.#resolve(new Response(null, { status: 503 }));
    this.#done();
  }

  get closed(): boolean {
    return this.#cancelled;
  }

  /** A host's own answer (FetchExchange.respond): nothing more goes to the client from here. */
  respond(value: Response | undefined): void {
    this.#cancelled = true;
    this.#resolve(value);
    this.#done();
  }

  onFinished(listener: () => void): void {
    if (this.#over) listener();
    else this.#finished.push(listener);
  }

  /** The response is over for the adapter: tells the host once. */
  #done(): void {
    if (this.#over) return;
    this.#over = true;
    for (const listener of this.#finished.splice(0)) listener();
  }

  head(status: number, reason: string | undefined, headers: HeaderList, length: number | undefined): void {
    const fields: [string, string][] = length === undefined ? headers.slice() : [...headers, ['content-length', String(length)]];
    const init: ResponseInit = reason === undefined ? { status, headers: fields } : { status, statusText: reason, headers: fields };
    if (bodyForbidden(this.#method, status)) this.#resolve(new Response(null, init));
    else this.#init = init; // the Response is made by the write or end that follows at once
  }

  /** The streaming Response, at the first write: its body is fed by the runner with backpressure. */
  #open(): ReadableStreamDefaultController<Uint8Array> | undefined {
    const init = this.#init;
    if (init === undefined) return this.#controller;
    this.#init = undefined;
    const stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => this.#wake(),
        cancel: () => {
          this.#cancelled = true;
          this.#wake();
          this.#done();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }),
    );
    this.#resolve(new Response(stream, init));
    return this.#controller;
  }

  #wake(): void {
    const wake = this.#pulled;
    this.#pulled = null;
    wake?.();
  }

  write(chunk: Chunk): boolean {
    const controller = this.#open();
    if (controller === undefined || this.#cancelled) return true;
    controller.enqueue(toBytes(chunk));
    return (controller.desiredSize ?? 0) > 0;
  }

  drained(): Promise<void> {
    const controller = this.#controller;
    if (controller === undefined || this.#cancelled || (controller.desiredSize ?? 0) > 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#pulled = resolve;
    });
  }

  end(chunk?: Chunk): void {
    const init = this.#init;
    if (init !== undefined) {
      // The whole body at once (the common case): a Response over the bytes, which runtimes
      // send on their fast path (Deno's and Bun's static bodies), not a stream.
      this.#init = undefined;
      this.#resolve(new Response(chunk === undefined ? new Uint8Array(0) : toBytes(chunk), init));
    } else if (this.#controller !== undefined && !this.#cancelled) {
      if (chunk !== undefined) this.#controller.enqueue(toBytes(chunk));
      this.#controller.close();
    }
    this.#done();
  }

  async file(status: number, reason: string | undefined, headers: HeaderList, body: FileBody, size: number, bodyless: boolean): Promise<void> {
    this.head(status, reason, headers, size);
    if (bodyless || size === 0) {
      this.end();
      return;
    }
    // The range the head announced, read through FileBody (node:fs, loaded when first used).
    for await (const chunk of new FileBody(body.path, { start: body.start, end: body.start + size - 1 })) {
      if (this.#cancelled) return this.#done();
      if (!this.write(chunk)) await this.drained();
    }
    this.end();
  }

  abort(error: unknown): void {
    // Before any head (a host's switch that failed): the handler still settles, with the error response.
    if (this.#controller === undefined && this.#init === undefined && !this.#cancelled) this.#resolve(errorAnswer(error));
    this.#open(); // a committed head: the client sees a response torn down, never a complete one
    if (this.#controller !== undefined && !this.#cancelled) {
      this.#controller.error(error);
      this.#cancelled = true;
    }
    this.#done();
  }
}

/**
 * A {@link BodyReader} over a WHATWG `ReadableStream` (a fetch `Request`'s body): the server's
 * contract from the public `PullBodyReader` (declared-length end, `read(max)`, `bytes(limit)`
 * with its 413, `text()`, iteration) over one `pull()`.
 */
class WebBodyReader extends PullBodyReader {
  #stream: ReadableStream<Uint8Array> | null;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;

  constructor(stream: ReadableStream<Uint8Array> | null, length: number | undefined) {
    super(stream === null ? 0 : length);
    this.#stream = stream;
  }

  protected async pull(): Promise<Uint8Array | null> {
    if (this.#stream === null) return null;
    this.#reader ??= this.#stream.getReader();
    let result: Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>;
    try {
      result = await this.#reader.read();
    } catch (err) {
      throw httpError('ERR_HATCHWAY_BODY_ABORTED', `: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!result.done) return result.value;
    if (this.length !== undefined && this.remaining > 0) {
      throw httpError('ERR_HATCHWAY_BODY_ABORTED', 'shorter than its Content-Length');
    }
    return null;
  }

  /** The body is over: let go of the stream's lock. */
  protected override finished(): void {
    this.#reader?.releaseLock();
  }
}
