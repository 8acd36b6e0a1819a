/**
 * The full HTTP/2 escape (SPEC §7.8): `upgradeTo(http2App)` turns a native-style HTTP/2
 * handler into an ordinary app. Under hatchway's HTTP/2 front-end the handler runs on the real
 * stream (a token registration, honoured only if it comes back unaltered); everywhere else —
 * HTTP/1.1, or a host with no extension at all — it runs on an emulated stream built from
 * `startResponse` and the body: push becomes preload links, trailers follow the trailers
 * escape's degrade rule, and there is no stream id. It never throws "HTTP/2 not available".
 */
import type { App, Body, BodyReader, Chunk, Environ, HeaderList, StartResponse } from '../gateway/types.ts';
import { HatchwayError } from '../gateway/errors.ts';
import { CONTROL_HEADER, type BaseRegistration } from './registry.ts';
import { associate } from './push.ts';
import { TRAILERS_KEY, sendWithTrailers } from './trailers.ts';

/** The environ key of the HTTP/2 extension. */
export const HTTP2_KEY = 'hatchway.http2';

/** Options of {@link Http2AppStream.respond}. */
export interface RespondOptions {
  /** The response has no body: the stream ends with the headers. */
  endStream?: boolean;
  /** Trailers will follow the body (`end(chunk, trailers)`); required for them to be sent. */
  waitForTrailers?: boolean;
  /**
   * The response is useless without its trailers (gRPC): where they cannot be delivered
   * (emulated over HTTP/1.1 without `TE: trailers`) the client gets the trailers escape's
   * clear 400 instead of a body whose status never arrives.
   */
  requireTrailers?: boolean;
}

/** HTTP/2 settings as the handler sees them (the subset both sides report). */
export interface Http2Settings {
  /** SETTINGS_ENABLE_PUSH: the peer accepts PUSH_PROMISE. */
  enablePush?: boolean;
  /** SETTINGS_MAX_CONCURRENT_STREAMS: streams open at once. */
  maxConcurrentStreams?: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE: a new stream's flow-control window, in bytes. */
  initialWindowSize?: number;
  /** SETTINGS_MAX_FRAME_SIZE: the largest frame payload, in bytes. */
  maxFrameSize?: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: the largest uncompressed header list, in bytes. */
  maxHeaderListSize?: number;
  /** SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441): extended CONNECT, for websockets over HTTP/2. */
  enableConnectProtocol?: boolean;
}

/**
 * The stream an HTTP/2 handler works with: thin over `ServerHttp2Stream` on a real HTTP/2
 * connection, emulated elsewhere. Request data comes from `environ` (method, target,
 * headers) and `environ.input` (the body).
 */
export interface Http2AppStream {
  /** The stream id; `undefined` when emulated. */
  readonly id: number | undefined;
  /** True when this is not a real HTTP/2 stream. */
  readonly emulated: boolean;
  /** Whether `push()` can really push (the client allows it). */
  readonly pushAllowed: boolean;
  /** The session's settings, ours and the peer's; `undefined` when emulated. */
  readonly settings:
    | {
        /** What this server announced. */
        local: Http2Settings;
        /** What the peer announced. */
        remote: Http2Settings;
      }
    | undefined;
  /** The request body. */
  readonly body: BodyReader;
  /** Aborted when the client resets the stream or goes away. */
  readonly signal: AbortSignal;
  /** True once `respond()` was called. */
  readonly headersSent: boolean;
  /** Sends the response headers. Header names are lowercase; no pseudo-headers, no connection-specific fields. */
  respond(status: number, headers?: HeaderList, options?: RespondOptions): void;
  /** Writes body data; `false` means wait for {@link drained}. */
  write(chunk: Chunk): boolean;
  /** Resolves when more can be written (or the stream closed). */
  drained(): Promise<void>;
  /** Ends the body, with a last chunk and, after `respond(…, { waitForTrailers: true })`, trailers. */
  end(chunk?: Chunk, trailers?: HeaderList): void;
  /**
   * Pushes a response for `path` (PUSH_PROMISE) and resolves with its stream, or with
   * `undefined` where push is impossible — then, if the response headers are not sent yet,
   * the resource is announced as a preload link instead.
   */
  push(path: string, headers?: HeaderList): Promise<Http2AppStream | undefined>;
  /** Resets the stream (RST_STREAM with `code`, default CANCEL) or, emulated, aborts the response. */
  close(code?: number): void;
}

/** A native-style HTTP/2 handler. It owns the stream until it ends it. */
export type Http2App = (stream: Http2AppStream, environ: Environ) => void | Promise<void>;

/** What the `hatchway.http2` extension registers. */
export interface Http2Registration extends BaseRegistration {
  /** The native handler that owns the stream when the escape is honoured. */
  handler: Http2App;
  /** The environ the handler sees (the one the app saw); default: the server's. */
  environ?: Environ;
  /** Answers instead when the token did not survive the middleware (default: the emulation). */
  fallback?: App;
}

/** The extension a server puts at `environ['hatchway.http2']`. */
export type Http2Extension = (registration: Http2Registration) => string;

/**
 * The default fallback of an HTTP/2 registration: the emulation of its handler (with the
 * environ the app registered it from), as `Http2Registration` documents.
 */
export function http2Fallback(registration: Http2Registration): App {
  const emulated = emulate(registration.handler);
  return (environ, startResponse) => emulated(registration.environ ?? environ, startResponse);
}

/** Options of {@link upgradeTo}. */
export interface UpgradeToOptions {
  /** An ordinary app to answer where the handler cannot run natively, instead of the emulation. */
  fallback?: App;
}

/**
 * Turns an HTTP/2 handler into an ordinary app (Eby's `http2_under_wsgi`).
 *
 * @example
 * ```ts
 * const api = upgradeTo(async (stream, environ) => {
 *   const body = await stream.body.text();
 *   stream.respond(200, [['content-type', 'application/json']], { waitForTrailers: true });
 *   stream.end(JSON.stringify({ echo: body, stream: stream.id }), [['x-done', '1']]);
 * });
 * ```
 */
export function upgradeTo(handler: Http2App, options: UpgradeToOptions = {}): App {
  if (typeof handler !== 'function') throw new HatchwayError('ERR_HATCHWAY_INVALID_REGISTRATION', 'http2');
  const emulated = options.fallback ?? emulate(handler);
  return (environ, startResponse) => {
    const register = environ[HTTP2_KEY] as Http2Extension | undefined;
    if (typeof register !== 'function') return emulated(environ, startResponse);
    const token = register({ handler, fallback: emulated, environ });
    startResponse(200, [[CONTROL_HEADER, `http2 ${token}`]]);
    return [token];
  };
}

/**
 * Wraps every HTTP/2 handler that passes up through this point: `wrap(handler, environ)`
 * returns the handler to run instead. Works both on real streams (by replacing the
 * `hatchway.http2` extension key, SPEC §7.1) and on emulated ones (the emulation runs the
 * wrapped handler too), so a logger, a metrics timer or an auth check sees every handler.
 *
 * @example
 * ```ts
 * const statusLog = interceptHttp2((handler, environ) => (stream, env) => {
 *   const respond = stream.respond.bind(stream);
 *   stream.respond = (status, headers, options) => { log(environ.target, status); respond(status, headers, options); };
 *   return handler(stream, env);
 * });
 * ```
 */
export function interceptHttp2(wrap: (handler: Http2App, environ: Environ) => Http2App): (app: App) => App {
  return (app) => (environ, startResponse) => {
    const register = environ[HTTP2_KEY] as Http2Extension | undefined;
    const inner: Environ = { ...environ };
    // Where the app emulates (no extension, or the fallback of a registration), the emulation
    // reads this hook and runs the wrapped handler.
    const outer = environ[INTERCEPT_KEY] as ((h: Http2App) => Http2App) | undefined;
    // The outer middleware's wrapper stays outermost, as on the native path.
    const hook = (h: Http2App) => (outer ? outer(wrap(h, environ)) : wrap(h, environ));
    inner[INTERCEPT_KEY] = hook;
    if (typeof register === 'function') {
      inner[HTTP2_KEY] = (registration: Http2Registration) =>
        register({
          ...registration,
          handler: wrap(registration.handler, environ),
          fallback: registration.fallback && withHook(registration.fallback, hook),
        });
    }
    return app(inner, startResponse);
  };
}

/** Runs `app` with an interception hook in its environ (for fallbacks run outside the chain). */
function withHook(app: App, hook: (h: Http2App) => Http2App): App {
  return (environ, startResponse) => app({ ...environ, [INTERCEPT_KEY]: hook }, startResponse);
}

/** Where {@link interceptHttp2} leaves its wrappers for the emulation (no extension present). */
export const INTERCEPT_KEY = 'hatchway.http2.intercept';

/**
 * The emulation: an ordinary app that runs `handler` on a stream made of `startResponse` and
 * an async-iterable body, with backpressure from the consumer of that body.
 */
export function emulate(handler: Http2App): App {
  return (environ, startResponse) => {
    const intercept = environ[INTERCEPT_KEY] as ((h: Http2App) => Http2App) | undefined;
    const run = intercept ? intercept(handler) : handler;
    return new EmulatedResponse(run, environ, startResponse).body();
  };
}

const HIGH_WATER = 64 * 1024;

/** The body side of an emulated stream: a queue the handler fills and the server drains. */
class EmulatedResponse {
  readonly #handler: Http2App;
  readonly #environ: Environ;
  readonly #startResponse: StartResponse;
  readonly #controller = new AbortController();
  #queue: Chunk[] = [];
  #queued = 0;
  #ended = false;
  #failed: unknown = undefined;
  #wake: (() => void) | null = null;
  #drain: (() => void) | null = null;
  #status = 0;
  #headers: HeaderList = [];
  #respondOptions: RespondOptions = {};
  /** Paths `push()` asked for before the response: announced with the response (SPEC §7.7). */
  #pushes: string[] = [];
  #trailers: ((t: HeaderList) => void) | null = null;
  #trailersPromise: Promise<HeaderList> | null = null;
  #responded: (() => void) | null = null;
  #closed = false;
  /** The body went to a trailers registration: its release, not this body's close, ends the stream. */
  #registered = false;

  constructor(handler: Http2App, environ: Environ, startResponse: StartResponse) {
    this.#handler = handler;
    this.#environ = environ;
    this.#startResponse = startResponse;
    environ.signal.addEventListener('abort', () => this.#controller.abort(environ.signal.reason));
  }

  body(): Body {
    const self = this;
    return {
      async *[Symbol.asyncIterator](): AsyncGenerator<Chunk> {
        const responded = new Promise<void>((resolve) => (self.#responded = resolve));
        const done = Promise.resolve()
          .then(() => self.#handler(self.#stream(), self.#environ))
          .then(
            () => {
              if (!self.#ended) self.#fail(new Error('the HTTP/2 handler returned without ending its stream'));
            },
            (err: unknown) => self.#fail(err),
          );
        await Promise.race([responded, done]);
        if (self.#failed !== undefined && self.#status === 0) throw self.#failed;
        if (self.#status === 0) return;
        if (self.#respondOptions.waitForTrailers) {
          // Trailers ride the trailers escape: honoured, dropped-and-reported, or a 400 if required.
          // Registered, this body carries only the token and closes at once; the handler's data
          // goes on to the registration's body, so the stream stays open until the registration
          // is released (on every path: sent, degraded, refused, the client gone).
          self.#registered = typeof self.#environ[TRAILERS_KEY] === 'function';
          yield* sendWithTrailers(self.#environ, self.#startResponse, {
            status: self.#status,
            headers: self.#headers,
            body: self.#drainQueue(),
            required: self.#respondOptions.requireTrailers === true,
            trailers: () => self.#trailersPromise ?? Promise.resolve([]),
            onRelease: () => self.#close(),
          }) as Iterable<Chunk>;
          return;
        }
        self.#startResponse(self.#status, self.#headers);
        yield* self.#drainQueue();
      },
      close: () => {
        if (!this.#registered) this.#close();
      },
    };
  }

  /** Nobody reads the body any more: writes go nowhere, a writer waiting to drain goes on. */
  #close(): void {
    this.#closed = true;
    this.#drain?.();
  }

  async *#drainQueue(): AsyncGenerator<Chunk> {
    for (;;) {
      if (this.#queue.length > 0) {
        const chunk = this.#queue.shift()!;
        this.#queued -= typeof chunk === 'string' ? chunk.length : chunk.byteLength;
        if (this.#queued <= HIGH_WATER) {
          const drain = this.#drain;
          this.#drain = null;
          drain?.();
        }
        yield chunk;
        continue;
      }
      if (this.#failed !== undefined) throw this.#failed;
      if (this.#ended) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #fail(err: unknown): void {
    if (this.#failed !== undefined || this.#ended) return;
    this.#failed = err ?? new Error('stream closed');
    this.#notify();
    this.#responded?.();
  }

  #stream(): Http2AppStream {
    const self = this;
    return {
      id: undefined,
      emulated: true,
      pushAllowed: false,
      settings: undefined,
      body: this.#environ.input,
      signal: this.#controller.signal,
      get headersSent() {
        return self.#status !== 0;
      },
      respond(status, headers = [], options = {}) {
        if (self.#status !== 0) throw new HatchwayError('ERR_HATCHWAY_START_RESPONSE_TWICE');
        self.#status = status;
        // Pushed paths ride the push escape: preload links (or a real push) per its degrade row.
        self.#headers = self.#pushes.length === 0 ? headers : [...headers, ...associate(self.#environ, self.#pushes.map((path) => ({ path })), { earlyHints: false })];
        self.#respondOptions = options;
        if (options.waitForTrailers) self.#trailersPromise = new Promise((resolve) => (self.#trailers = resolve));
        if (options.endStream) self.#ended = true;
        self.#responded?.();
      },
      write(chunk) {
        if (self.#ended || self.#closed) return true;
        self.#queue.push(chunk);
        self.#queued += typeof chunk === 'string' ? chunk.length : chunk.byteLength;
        self.#notify();
        return self.#queued <= HIGH_WATER;
      },
      drained() {
        if (self.#queued <= HIGH_WATER || self.#closed) return Promise.resolve();
        return new Promise<void>((resolve) => (self.#drain = resolve));
      },
      end(chunk, trailers) {
        if (chunk !== undefined) this.write(chunk);
        self.#ended = true;
        self.#trailers?.(trailers ?? []);
        self.#notify();
      },
      async push(path) {
        // Emulated: no push stream to hand back; before the headers, the path is announced.
        if (self.#status === 0) self.#pushes.push(path);
        return undefined;
      },
      close() {
        self.#fail(new Error('the HTTP/2 handler closed its stream'));
      },
    };
  }
}
