/**
 * `hatchway/middleware/errors` — turns what the app throws into a response.
 *
 * An error thrown before the commit (by the app, by its body, or by `startResponse` itself)
 * becomes an error response with `http-errors` semantics: an `HttpError` (or any error with a
 * `status`/`statusCode` of 400–599) keeps its status, its `headers` and its `expose` rule;
 * anything else is a 500 whose message stays on the server. The body is JSON, HTML or plain
 * text, whichever the client's `Accept` prefers (`negotiator`); stack traces are shown only in
 * development mode. Server faults (5xx) are reported to `environ.errors`.
 *
 * After the commit nothing can be said to the client any more: the error is re-thrown so that
 * the runner aborts the response (HTTP/1.1 closes the connection short, HTTP/2 resets the
 * stream) and closes the body, as SPEC §5.3 says.
 *
 * Escape responses: their status, fields and body pass through unchanged (an array body is
 * returned as it is), so a websocket, trailers or `upgradeTo` token response is honoured behind
 * this middleware; only an error thrown instead of a token response becomes an error response.
 *
 * @example
 * ```ts
 * import { compose } from 'hatchway';
 * import { errors } from 'hatchway/middleware/errors';
 *
 * const stack = compose(errors({ development: false }))(app);
 * ```
 *
 * @module
 */
import createError from 'http-errors';
import Negotiator from 'negotiator';
import { chunkLength, getHeader, isHopByHop, type App, type Body, type Chunk, type Environ, type HeaderList, type Middleware, type StartResponse } from '../src/index.ts';
import type { ConformanceEntry } from '../src/index.ts';
import { envVar, formatError } from '../src/host.ts';

/** The media types an error response can take. */
export type ErrorMediaType = 'application/json' | 'text/html' | 'text/plain';

/** Options of {@link errors}. */
export interface ErrorsOptions {
  /** Show messages of unexposed errors and stack traces (default: `NODE_ENV === 'development'`). */
  development?: boolean;
  /** The types offered, in the server's order of preference (default text, JSON, HTML). */
  types?: readonly ErrorMediaType[];
  /** Called with every error turned into a response (after it was reported). */
  onError?: (err: unknown, environ: Environ) => void;
}

interface Resolved {
  development: boolean;
  types: readonly ErrorMediaType[];
  onError: ((err: unknown, environ: Environ) => void) | undefined;
}

/** What an error says about itself, read with http-errors' rules. */
export interface ErrorShape {
  /** The response status: the error's `status` or `statusCode` when it is 400–599, else 500. */
  status: number;
  /** Whether the client may see the error's own message: its `expose`, else true below 500. */
  expose: boolean;
  /** What the client is told: the error's message when exposed, else the status's standard phrase (`Internal Server Error`). */
  message: string;
  /** The error's string `code` (`EBADCSRFTOKEN`, say) when exposed, else `undefined`. */
  code: string | undefined;
  /** The error's own `headers` that are safe to send: valid, not hop-by-hop, not the body's own fields (`content-type`, `etag`…). */
  headers: HeaderList;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const SAFE_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const OWN_FIELDS = new Set(['content-type', 'content-length', 'content-encoding', 'content-range', 'etag', 'last-modified']);

/** Reads `err` as http-errors would: its status (400–599, else 500), `expose`, `headers`. */
export function errorShape(err: unknown): ErrorShape {
  const e = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>;
  const raw = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
  const status = Number.isInteger(raw) && raw >= 400 && raw <= 599 ? raw : 500;
  const known = status !== 500 || raw === 500;
  const expose = known && (typeof e.expose === 'boolean' ? e.expose : status < 500);
  const message = expose && typeof e.message === 'string' ? e.message : createError(status).message;
  const headers: HeaderList = [];
  if (known && typeof e.headers === 'object' && e.headers !== null) {
    for (const [name, value] of Object.entries(e.headers as Record<string, unknown>)) {
      const text = String(value);
      const lower = name.toLowerCase();
      if (TOKEN.test(name) && SAFE_VALUE.test(text) && !isHopByHop(lower) && !OWN_FIELDS.has(lower)) headers.push([lower, text]);
    }
  }
  return { status, expose, message, code: expose && typeof e.code === 'string' ? e.code : undefined, headers };
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function render(type: ErrorMediaType, shape: ErrorShape, err: unknown, development: boolean): string {
  const message = development && err instanceof Error ? err.message : shape.message;
  const stack = development && err instanceof Error ? err.stack : undefined;
  switch (type) {
    case 'application/json':
      return `${JSON.stringify({ error: { status: shape.status, message, ...(shape.code ? { code: shape.code } : {}), ...(stack ? { stack } : {}) } })}\n`;
    case 'text/html':
      return `<!doctype html>\n<html><head><meta charset="utf-8"><title>${shape.status} ${escapeHtml(createError(shape.status).message)}</title></head>\n<body><h1>${shape.status}</h1><p>${escapeHtml(message)}</p>${stack ? `<pre>${escapeHtml(stack)}</pre>` : ''}</body></html>\n`;
    default:
      return `${message}\n${stack ? `\n${stack}\n` : ''}`;
  }
}

/**
 * Error-handling middleware: errors before the commit become negotiated error responses,
 * errors after it abort the response. Put it outermost but for loggers.
 */
export function errors(options: ErrorsOptions = {}): Middleware {
  const resolved: Resolved = {
    development: options.development ?? envVar('NODE_ENV') === 'development',
    types: options.types && options.types.length > 0 ? [...options.types] : ['text/plain', 'application/json', 'text/html'],
    onError: options.onError,
  };
  return (app: App): App =>
    function errorsApp(environ: Environ, startResponse: StartResponse): Body {
      let committed = false;
      const respond = (err: unknown): Chunk[] => {
        const shape = errorShape(err);
        if (shape.status >= 500) environ.errors.write(formatError(err));
        resolved.onError?.(err, environ);
        const accept = getHeader(environ.headers, 'accept');
        const type = (new Negotiator({ headers: accept === undefined ? {} : { accept } }).mediaType(resolved.types) ?? resolved.types[0]!) as ErrorMediaType;
        const body = render(type, shape, err, resolved.development);
        const headers: HeaderList = [
          ['content-type', `${type}; charset=utf-8`],
          ['content-length', String(chunkLength(body))],
          ['x-content-type-options', 'nosniff'],
          ['cache-control', 'no-store'],
          ['vary', 'Accept'],
          ...shape.headers,
        ];
        // With excInfo: replaces whatever was started; re-throws if the response is committed.
        startResponse(shape.status, headers, err);
        return [body];
      };
      let body: Body;
      try {
        body = app(environ, startResponse);
      } catch (err) {
        return respond(err);
      }
      if (Array.isArray(body)) return body;
      const inner = body;
      const isAsync = typeof (inner as AsyncIterable<Chunk>)[Symbol.asyncIterator] === 'function';
      const track = (chunk: Chunk): Chunk => {
        if (!committed && (typeof chunk === 'string' ? chunk.length > 0 : chunk instanceof Uint8Array && chunk.byteLength > 0)) committed = true;
        return chunk;
      };
      const close = (): void => {
        inner.close?.();
      };
      if (!isAsync) {
        return {
          *[Symbol.iterator](): Generator<Chunk> {
            try {
              for (const chunk of inner as Iterable<Chunk>) yield track(chunk);
            } catch (err) {
              if (committed) throw err;
              yield* respond(err);
            }
          },
          close,
        };
      }
      return {
        async *[Symbol.asyncIterator](): AsyncGenerator<Chunk> {
          try {
            for await (const chunk of inner as AsyncIterable<Chunk>) yield track(chunk);
          } catch (err) {
            if (committed) throw err;
            yield* respond(err);
          }
        },
        close,
      };
    };
}

/** For `npm run conformance` and `hatchway check` (docs/CONFORMANCE.md): this middleware as it is checked. */
export const conformance: ConformanceEntry[] = [{ name: 'errors', make: (): Middleware => errors() }];
