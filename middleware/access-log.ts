/**
 * `hatchway/middleware/access-log` — one line per request in the common or combined log
 * format, or as a JSON line (with the request id, the duration, the protocol and the escape
 * outcome), logging what the client really got.
 *
 * A middleware sees only the response that passes through it: for a websocket that is a 200
 * token response, while the client got a 101 (or a 426 fallback), and for `upgradeTo` the
 * status is the handler's. So the log asks the server, through the report extension
 * (`onResponse`, SPEC §7.9): the server tells it once, after the response, the status and body
 * bytes that went on the wire, the escape decision and whether the response was cut short.
 * On a host without the extension (`onResponse` returns false) it falls back to what it
 * observed itself: the status passed to `startResponse` and the bytes of the body it returned
 * (`source: 'middleware'` in the JSON line).
 *
 * Escapes: with the report extension the middleware wraps nothing, so every response passes
 * exactly as it came. Without it, it wraps `startResponse` only to read the status and wraps the
 * body only to count chunks, passing every chunk unchanged (a file body stays a file body), so
 * a token response is still the token and is honoured; the line then records the status the
 * middleware saw and the escape kind the response claimed, with outcome `unreported`.
 *
 * @example
 * ```ts
 * import { accessLog } from 'hatchway/middleware/access-log';
 *
 * const app = accessLog({ format: 'json', sink: process.stderr, skip: (e) => e.status < 400 })(site);
 * ```
 *
 * @module
 */
import {
  claimedEscapes,
  FileBody,
  bodyForbidden,
  chunkLength,
  getHeader,
  onResponse,
  parseStatus,
  type App,
  type Body,
  type Chunk,
  type Environ,
  type Middleware,
  type ReportedEscape,
  type StartResponse,
} from '../src/index.ts';
import type { ConformanceEntry } from '../src/index.ts';

/** One request, as logged. */
export interface AccessLogEntry {
  /** When the request reached the middleware. */
  time: Date;
  /** The request's id (`environ.requestId`: unique within the process). */
  requestId: string;
  /** The client's IP address (`environ.remoteAddress`, after proxy-headers if it runs first). */
  remoteAddress: string;
  /** The request method. */
  method: string;
  /** The request target as received: path and query (`/a?b=1`). */
  target: string;
  /** The protocol the request came over: `HTTP/1.0`, `HTTP/1.1` or `HTTP/2`. */
  protocol: string;
  /** The status the client received (0: nothing was sent). */
  status: number;
  /** Body bytes sent. */
  bytes: number;
  /** From the middleware's call to the end of the response, in milliseconds. */
  durationMs: number;
  /** The request's `Referer` field, if any. */
  referer: string | undefined;
  /** The request's `User-Agent` field, if any. */
  userAgent: string | undefined;
  /** The authenticated user (the `user` option; `%u` in the log formats), if any. */
  user: string | undefined;
  /** The escape the response asked for and what the server did with it (situation, outcome); `undefined` for a plain response. */
  escape: ReportedEscape | undefined;
  /** The response was torn down, or the client left before it ended. */
  aborted: boolean;
  /** `server`: the report extension told it; `middleware`: what the middleware saw itself. */
  source: 'server' | 'middleware';
}

/** Options of {@link accessLog}. */
export interface AccessLogOptions {
  /** `'common'` (default), `'combined'`, `'json'`, or a function of the entry. */
  format?: 'common' | 'combined' | 'json' | ((entry: AccessLogEntry, time: string) => string);
  /** Where lines go: a function (the line without newline) or a writable stream (with one); default `process.stdout`, or `console.log` where the runtime has no `process.stdout` (workerd). */
  sink?:
    | ((line: string) => void)
    | {
        /** Writes one line, newline included (a `Writable`'s `write`). */
        write(line: string): unknown;
      };
  /** Leaves a request out of the log. */
  skip?: (entry: AccessLogEntry, environ: Environ) => boolean;
  /** `'clf'` (`[10/Oct/2000:13:55:36 +0000]`, the default for common and combined), `'iso'` (the JSON default), `'epoch'` (ms), or a function. */
  time?: 'clf' | 'iso' | 'epoch' | ((date: Date) => string);
  /** The authenticated user for `%u` (default: `environ['auth.user']` when it is a string). */
  user?: (environ: Environ) => string | undefined;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

// The text changes once a second: a server logging thousands of lines a second formats it once.
let clfSecond = NaN;
let clfText = '';

/** The common log format's time: `10/Oct/2000:13:55:36 +0000` (UTC). */
function clfTime(d: Date): string {
  const second = Math.floor(d.getTime() / 1000);
  if (second === clfSecond) return clfText;
  clfSecond = second;
  return (clfText = `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`);
}

/** A value for a quoted field of the log line: `"`, `\` and controls escaped, so a line stays one line. */
function quoted(value: string | undefined): string {
  if (value === undefined) return '"-"';
  // eslint-disable-next-line no-control-regex
  return `"${value.replace(/["\\\x00-\x1f\x7f]/g, (c) => (c === '"' || c === '\\' ? `\\${c}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`))}"`;
}

function common(e: AccessLogEntry, time: string): string {
  const user = e.user === undefined ? '-' : quoted(e.user).slice(1, -1).replace(/ /g, '\\x20');
  return `${e.remoteAddress || '-'} - ${user} [${time}] ${quoted(`${e.method} ${e.target} ${e.protocol}`)} ${e.status} ${e.bytes === 0 ? '-' : e.bytes}`;
}

/** Counts the bytes of a body as they pass, unchanged; `done(bytes)` runs once when it is closed. */
function counted(body: Body, done: (bytes: number) => void): Body {
  let bytes = 0;
  let finished = false;
  const close = () => {
    try {
      body.close?.();
    } finally {
      if (!finished) {
        finished = true;
        done(bytes);
      }
    }
  };
  if (body instanceof FileBody) {
    // Keep it a FileBody, so the server still sends it without copying; its size is the count.
    const file = body;
    return new (class extends FileBody {
      close(): void {
        file.size().then((n) => (bytes = n), () => {}).finally(close);
      }
    })(file.path, { start: file.start, end: file.end });
  }
  if (Array.isArray(body)) {
    const copy = body.slice() as Chunk[] & { close?: () => void };
    for (const chunk of body) bytes += chunkLength(chunk);
    copy.close = close;
    return copy;
  }
  if (typeof (body as AsyncIterable<Chunk>)[Symbol.asyncIterator] === 'function') {
    return {
      async *[Symbol.asyncIterator]() {
        for await (const chunk of body as AsyncIterable<Chunk>) {
          bytes += chunkLength(chunk);
          yield chunk;
        }
      },
      close,
    };
  }
  return {
    *[Symbol.iterator]() {
      for (const chunk of body as Iterable<Chunk>) {
        bytes += chunkLength(chunk);
        yield chunk;
      }
    },
    close,
  };
}

/**
 * Logs every request that passes through it.
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * const app = accessLog({ format: 'combined', sink: (line) => lines.push(line) })(site);
 * ```
 */
export function accessLog(options: AccessLogOptions = {}): Middleware {
  const format = options.format ?? 'common';
  const render =
    typeof format === 'function'
      ? format
      : format === 'json'
        ? (e: AccessLogEntry, time: string) => JSON.stringify({ ...e, time })
        : format === 'combined'
          ? (e: AccessLogEntry, time: string) => `${common(e, time)} ${quoted(e.referer)} ${quoted(e.userAgent)}`
          : common;
  const timeOption = options.time ?? (format === 'json' ? 'iso' : 'clf');
  const formatTime =
    typeof timeOption === 'function' ? timeOption : timeOption === 'iso' ? (d: Date) => d.toISOString() : timeOption === 'epoch' ? (d: Date) => String(d.getTime()) : clfTime;
  const out = options.sink ?? (globalThis as { process?: { stdout?: { write(line: string): unknown } } }).process?.stdout ?? ((line: string) => console.log(line));
  const write = typeof out === 'function' ? out : (line: string) => void out.write(`${line}\n`);
  const userOf = options.user ?? ((environ: Environ) => (typeof environ['auth.user'] === 'string' ? environ['auth.user'] : undefined));
  const skip = options.skip;

  return (app: App): App =>
    function accessLogApp(environ: Environ, startResponse: StartResponse): Body {
      const time = new Date();
      const began = performance.now();
      let logged = false;
      const log = (status: number, bytes: number, escape: ReportedEscape | undefined, aborted: boolean, source: AccessLogEntry['source']) => {
        if (logged) return;
        logged = true;
        const entry: AccessLogEntry = {
          time,
          requestId: environ.requestId,
          remoteAddress: environ.remoteAddress,
          method: environ.method,
          target: environ.target,
          protocol: environ.protocol,
          status,
          bytes,
          durationMs: Math.round((performance.now() - began) * 1000) / 1000,
          referer: getHeader(environ.headers, 'referer'),
          userAgent: getHeader(environ.headers, 'user-agent'),
          user: userOf(environ),
          escape,
          aborted,
          source,
        };
        try {
          if (skip?.(entry, environ)) return;
          write(render(entry, formatTime(time)));
        } catch (err) {
          environ.errors.write(`access log: ${err instanceof Error ? err.message : String(err)}`);
        }
      };

      if (onResponse(environ, (r) => log(r.status, r.bytes, r.escape, r.aborted, 'server'))) return app(environ, startResponse);

      // A foreign host: what this middleware itself sees.
      let status = 0;
      let claimed: string | undefined;
      const body = app(environ, (s, headers, excInfo) => {
        startResponse(s, headers, excInfo);
        status = parseStatus(s).code;
        claimed = claimedEscapes(headers)[0];
      });
      return counted(body, (bytes) => {
        const escape = claimed === undefined ? undefined : { kind: claimed, situation: 'unreported', outcome: 'unreported' };
        log(status, bodyForbidden(environ.method, status) ? 0 : bytes, escape, environ.signal.aborted, 'middleware');
      });
    };
}

/** For `npm run conformance` and `hatchway check` (docs/CONFORMANCE.md): this middleware as it is checked. */
export const conformance: ConformanceEntry[] = [{ name: 'access-log', make: (): Middleware => accessLog({ sink: () => {} }) }];
