/**
 * One request's lifecycle, the same on every front-end (HTTP/1.x, HTTP/2 streams, pushed
 * requests): the abort signal, the escapes installed in the environ, the app run into the
 * escape sink, the never-throws guard, and — once the front-end says its transport closed —
 * the registrations released exactly once and the signal aborted if the response did not
 * finish (SPEC §6, §7.2). A front-end keeps only what is its protocol's: mapping its request
 * to the environ fields, its sink, and telling the lifecycle when the transport closed.
 *
 * @example
 * ```ts
 * const lifecycle = new RequestLifecycle();
 * const environ = buildEnviron(host, socket, { …, signal: lifecycle.signal });
 * res.on('close', () => lifecycle.closed(res.writableFinished));
 * lifecycle.serve(host, environ, sink, installOptions('HTTP/1', false, true, false, true));
 * ```
 */
import { run } from '../gateway/run.ts';
import { formatError } from '../gateway/error-response.ts';
import type { App, Environ } from '../gateway/types.ts';
import { installEscapes, type InstallOptions } from '../escapes/install.ts';
import type { ProtocolFamily } from '../escapes/degrade.ts';
import type { EscapeRegistry } from '../escapes/registry.ts';
import type { EscapeCapableSink } from '../escapes/sink.ts';
import type { EventEmitter } from 'node:events';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { EnvironHost, LogFn } from './environ.ts';
import type { Deadlines } from './deadline.ts';

// The request each piece of app code runs for, so a stray throw (a timer callback, a promise
// nobody awaits) can be logged with its request id (SPEC §9). One frame per request on Node 24:
// entered only once a stray-throw policy asked for it (`hatchway serve`), not by an embedded Server.
const requestContext = new AsyncLocalStorage<string>();
let tracking = false;

/** Makes every request from now on run in its id's async context, for {@link currentRequestId}. */
export function trackRequestIds(): void {
  tracking = true;
}

/** The id of the request whose app code is running now, if any (with {@link trackRequestIds} on). */
export function currentRequestId(): string | undefined {
  return requestContext.getStore();
}

/** What a lifecycle needs from the server: the app and the log. */
export interface LifecycleHost {
  app: App;
  log: LogFn;
}

/** What every front-end needs from the server that owns it (the base of their contexts). */
export interface RequestHost extends LifecycleHost, EnvironHost {
  /** Counts an exchange in flight for graceful shutdown ({@link InFlight.track}). */
  track(exchange: EventEmitter): void;
  /** The response and send deadlines (`deadline.ts`); absent, none apply. */
  deadlines?: Deadlines | undefined;
}

function serveIn(lifecycle: RequestLifecycle, host: LifecycleHost, environ: Environ, sink: EscapeCapableSink, options: InstallOptions): void {
  lifecycle.serveNow(host, environ, sink, options);
}

/** The state of one request from its head to its transport's close. */
export class RequestLifecycle {
  readonly #controller = new AbortController();
  #registry: EscapeRegistry | undefined;
  #environ: Environ | undefined;

  /** The environ's `signal`: aborted when the transport closes before the response finished. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * Installs the escapes in `environ` and runs the app into `sink` through the escape sink.
   * Never throws: `run()` does not by contract, and were a sink call to throw anyway it fails
   * this request only (logged, the response aborted), never the emitter that delivered it.
   * A rejected run is reported to the server's log.
   */
  serve(host: LifecycleHost, environ: Environ, sink: EscapeCapableSink, options: InstallOptions): void {
    this.#environ = environ;
    if (tracking) requestContext.run(environ.requestId, serveIn, this, host, environ, sink, options);
    else this.serveNow(host, environ, sink, options);
  }

  /** @internal {@link serve} inside the request's async context. */
  serveNow(host: LifecycleHost, environ: Environ, sink: EscapeCapableSink, options: InstallOptions): void {
    try {
      const escapes = installEscapes(environ, sink, options);
      this.#registry = escapes.registry;
      const done = run(host.app, environ, escapes.sink);
      if (done !== undefined) done.catch((err: unknown) => host.log(formatError(err)));
    } catch (err) {
      environ.errors.write(formatError(err));
      sink.abort(err);
    }
  }

  /**
   * A deadline passed and the sink answered (504) or aborted the response: reports it and
   * aborts the signal, so the runner closes the body even if the app never yields again.
   */
  expired(kind: 'response' | 'send'): void {
    const what = kind === 'response' ? 'response deadline: the app produced nothing in time' : 'send deadline: the client took no bytes in time';
    try {
      this.#environ?.errors.write(`[hatchway] ${what}; the response was ${kind === 'response' ? 'answered 504 or aborted' : 'aborted'}`);
    } catch {
      // An error stream that throws must not keep the body open.
    }
    this.#controller.abort(abortReason());
  }

  /** Releases the request's registrations (once; later calls do nothing). */
  release(): void {
    this.#registry?.release();
  }

  /** The transport closed: releases, and aborts the signal unless the response `finished`. */
  closed(finished: boolean): void {
    this.#registry?.release();
    if (!finished) this.#controller.abort(abortReason());
  }
}

/**
 * The `AbortError` a request's signal is aborted with — the one `abort()` would make, less its
 * stack trace: capturing one (of hatchway's internals, useless to an app) made every reset a
 * client sends cost a few microseconds more than the reset itself.
 */
function abortReason(): DOMException {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new DOMException('This operation was aborted', 'AbortError');
  } finally {
    Error.stackTraceLimit = limit;
  }
}

// Install options are read-only and few: one frozen object per combination, none per request.
function optionsTable(protocol: ProtocolFamily): readonly InstallOptions[] {
  return Array.from({ length: 16 }, (_, bits) =>
    Object.freeze({
      protocol,
      eligible: Object.freeze({ websocket: (bits & 1) !== 0, trailers: (bits & 2) !== 0, push: (bits & 4) !== 0 }),
      earlyHints: (bits & 8) !== 0,
    }),
  );
}
const H1_OPTIONS = optionsTable('HTTP/1');
const H2_OPTIONS = optionsTable('HTTP/2');

/** The {@link installEscapes} options for a request: what it is eligible for, on which protocol. */
export function installOptions(protocol: ProtocolFamily, websocket: boolean, trailers: boolean, push: boolean, earlyHints: boolean): InstallOptions {
  const bits = (websocket ? 1 : 0) | (trailers ? 2 : 0) | (push ? 4 : 0) | (earlyHints ? 8 : 0);
  return (protocol === 'HTTP/1' ? H1_OPTIONS : H2_OPTIONS)[bits]!;
}

/**
 * The exchanges in flight (HTTP/1.x responses, HTTP/2 streams, pushed streams), for graceful
 * shutdown. Every exchange is tracked from its head, answered by the app or refused before it,
 * until its 'close'. A count, not a `Set` of them (see `live-list.ts` for what a set of
 * requests costs the garbage collector); one listener function serves every exchange (the
 * emitter is `this`) and takes itself off at 'close', so each is counted out once.
 */
export class InFlight {
  #size = 0;
  #idle: (() => void) | undefined;
  readonly #untrack: (this: EventEmitter) => void;

  constructor() {
    const self = this;
    this.#untrack = function untrack(this: EventEmitter): void {
      this.removeListener('close', self.#untrack);
      if (--self.#size === 0) self.#idle?.();
    };
  }

  /** Counts `exchange` until its 'close'. */
  track(exchange: EventEmitter): void {
    this.#size++;
    exchange.on('close', this.#untrack);
  }

  get size(): number {
    return this.#size;
  }

  /** Resolves once no exchange is in flight. */
  idle(): Promise<void> {
    if (this.#size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle = resolve;
    });
  }
}
