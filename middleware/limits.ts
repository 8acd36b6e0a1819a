/**
 * `hatchway/middleware/limits` — a request body cap, a header-count cap and a per-request
 * deadline.
 *
 * - **body**: a request whose declared `Content-Length` is over the cap is answered `413` at
 *   once, without calling the app and without reading a byte (so an `Expect: 100-continue`
 *   client is never invited to send it). Otherwise `environ.input` is wrapped: a read that would
 *   go past the cap — a chunked HTTP/1.1 body, an HTTP/2 body of unknown length — rejects with
 *   a 413 `HttpError` (`ERR_HATCHWAY_BODY_TOO_LARGE`) having read at most one byte beyond it.
 * - **headers**: more request header fields than the cap is answered `431`.
 * - **timeout**: a deadline in milliseconds from the request's arrival here. If it passes
 *   before the response is committed, the inner body is closed and a `503` is sent instead
 *   (`environ.signal` as the app sees it is aborted, so work waiting on it stops); after the
 *   commit the response is aborted cleanly — the runner tears it down and closes the body.
 *
 * Escape responses: a token response passes untouched (an array body is returned as it is), so
 * escapes behind it are honoured; the deadline covers producing the response, not what an
 * escape does after it was honoured (a websocket's lifetime, a trailers body the server sends).
 * The 413, 431 and 503 it answers itself replace the escape, as any answer does (`answered`).
 *
 * @example
 * ```ts
 * import { compose } from 'hatchway';
 * import { limits } from 'hatchway/middleware/limits';
 *
 * const stack = compose(limits({ body: '1mb', headers: 100, timeout: 30_000 }))(app);
 * ```
 *
 * @module
 */
import bytes from 'bytes';
import createError from 'http-errors';
import { PullBodyReader, errorResponse, type App, type Body, type BodyReader, type Chunk, type Environ, type Middleware, type StartResponse } from '../src/index.ts';
import type { ConformanceEntry } from '../src/index.ts';
import { httpError } from '../src/host.ts';

/** Options of {@link limits}; each limit is off unless given. */
export interface LimitsOptions {
  /** The largest request body, in bytes or as `bytes` text (`'1mb'`). */
  body?: number | string;
  /** The most request header fields (each pair counts once). */
  headers?: number;
  /** Milliseconds to produce the whole response. */
  timeout?: number;
}

interface Resolved {
  body: number | undefined;
  headers: number | undefined;
  timeout: number | undefined;
}

/** A reader that refuses to read past `cap` bytes, over any other {@link BodyReader}. */
export class CappedBodyReader extends PullBodyReader {
  readonly #inner: BodyReader;
  readonly #cap: number;
  #total = 0;

  constructor(inner: BodyReader, cap: number) {
    super(inner.length);
    this.#inner = inner;
    this.#cap = cap;
  }

  protected async pull(): Promise<Uint8Array | null> {
    // One byte past the cap is enough to know the body is too large.
    const chunk = await this.#inner.read(this.#cap - this.#total + 1);
    if (chunk === null) return null;
    this.#total += chunk.byteLength;
    if (this.#total > this.#cap) throw httpError('ERR_HATCHWAY_BODY_TOO_LARGE', this.#cap);
    return chunk;
  }
}

function answer(err: unknown, startResponse: StartResponse): Body {
  const response = errorResponse(err);
  startResponse(response.status, response.headers);
  return [response.body];
}

function positive(name: string, value: number | undefined): number | undefined {
  if (value !== undefined && !(Number.isFinite(value) && value >= 0)) throw new TypeError(`limits: ${name} must be a non-negative number, not ${value}`);
  return value;
}

/** Request limits middleware: body cap (413), header-count cap (431), deadline (503 or abort). */
export function limits(options: LimitsOptions = {}): Middleware {
  const body = typeof options.body === 'string' ? bytes.parse(options.body) : options.body;
  if (body === null) throw new TypeError(`limits: invalid body size ${String(options.body)}`);
  const resolved: Resolved = {
    body: positive('body', body),
    headers: positive('headers', options.headers),
    timeout: positive('timeout', options.timeout),
  };
  return (app: App): App =>
    function limitsApp(environ: Environ, startResponse: StartResponse): Body {
      if (resolved.headers !== undefined && environ.headers.length > resolved.headers) {
        return answer(httpError('ERR_HATCHWAY_HEADERS_TOO_LARGE'), startResponse);
      }
      let inner = environ;
      if (resolved.body !== undefined) {
        const declared = environ.input.length;
        if (declared !== undefined && declared > resolved.body) return answer(httpError('ERR_HATCHWAY_BODY_TOO_LARGE', resolved.body), startResponse);
        inner = { ...inner, input: new CappedBodyReader(environ.input, resolved.body) };
      }
      if (resolved.timeout === undefined) return app(inner, startResponse);
      return withDeadline(app, inner, startResponse, resolved.timeout);
    };
}

function withDeadline(app: App, environ: Environ, startResponse: StartResponse, ms: number): Body {
  const controller = new AbortController();
  const expired = createError(503, `response not produced within ${ms} ms`, { expose: false, code: 'ERR_LIMITS_DEADLINE' });
  let fire!: () => void;
  const deadline = new Promise<'deadline'>((resolve) => (fire = () => resolve('deadline')));
  const timer = setTimeout(() => {
    controller.abort(expired);
    fire();
  }, ms);
  if (typeof timer === 'object') timer.unref(); // a number on Deno and workerd, which have no unref
  const inner = app({ ...environ, signal: AbortSignal.any([environ.signal, controller.signal]) }, startResponse);
  if (Array.isArray(inner)) {
    // Complete already: nothing left to time.
    clearTimeout(timer);
    return inner;
  }
  const isAsync = typeof (inner as AsyncIterable<Chunk>)[Symbol.asyncIterator] === 'function';
  let closed = false;
  const close = (): void => {
    clearTimeout(timer);
    if (closed) return;
    closed = true;
    inner.close?.();
  };
  return {
    async *[Symbol.asyncIterator](): AsyncGenerator<Chunk> {
      const iterator = isAsync ? (inner as AsyncIterable<Chunk>)[Symbol.asyncIterator]() : (inner as Iterable<Chunk>)[Symbol.iterator]();
      let committed = false;
      let exhausted = false; // the inner iterator finished or threw: no return() owed
      let late = false;
      const next = async (): Promise<IteratorResult<Chunk>> => {
        try {
          const r = await iterator.next();
          if (r.done) exhausted = true;
          return r;
        } catch (err) {
          exhausted = true;
          throw err;
        }
      };
      try {
        for (;;) {
          const step = next();
          const result = await Promise.race([step, deadline]);
          if (result === 'deadline') {
            late = true;
            step.catch(() => {});
            environ.errors.write(`[ERR_LIMITS_DEADLINE] ${expired.message}`);
            if (committed) throw expired; // the runner aborts the response
            // Before the commit the 503 replaces the response (excInfo, SPEC §3.3).
            const response = errorResponse(expired);
            startResponse(response.status, [...response.headers, ['retry-after', String(Math.max(1, Math.ceil(ms / 1000)))]], expired);
            yield response.body;
            return;
          }
          if (result.done) return;
          const chunk = result.value;
          if (!committed && (typeof chunk === 'string' ? chunk.length > 0 : chunk instanceof Uint8Array && chunk.byteLength > 0)) committed = true;
          yield chunk;
        }
      } finally {
        clearTimeout(timer);
        if (!exhausted) {
          // Not awaited: a body stalled on an await settles its return() later (SPEC §4.4).
          const r = iterator.return?.();
          if (r instanceof Promise) r.catch(() => {});
        }
        if (late) close();
      }
    },
    close,
  };
}

/** For `npm run conformance` and `hatchway check` (docs/CONFORMANCE.md): this middleware as it is checked. */
export const conformance: ConformanceEntry[] = [{ name: 'limits', make: (): Middleware => limits({ body: '1mb', headers: 100, timeout: 10_000 }) }];
