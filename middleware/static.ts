/**
 * `hatchway/middleware/static` — serves the files under one directory: `ETag` and
 * `Last-Modified` with conditional requests (`If-None-Match`, `If-Modified-Since` → 304;
 * `If-Match`, `If-Unmodified-Since` → 412), byte ranges (206, `multipart/byteranges` for
 * several, 416 with `Content-Range: bytes *\/size`), HEAD, MIME types, index files and the
 * redirect of a directory to its slash form, a dotfiles policy and `Cache-Control`.
 *
 * A file (or a single range of one) is answered with `fileBody()`, which the server sends
 * without copying it through JavaScript: `respondWithFile` on HTTP/2, a file stream with
 * backpressure on HTTP/1.1. Because a `FileBody` must be the body the app returns, the
 * lookups (`realpath`, `stat`) are synchronous: microseconds from the page cache, but a
 * root on a slow network filesystem would hold the event loop.
 *
 * Traversal is impossible by construction: a path with a `..` segment, a NUL or a backslash
 * is a 400; the path is never decoded a second time (`%252e%252e` is a file named `%2e%2e`);
 * and the file's real path (symlinks resolved) must lie inside the root's real path, else it
 * is not found — nothing outside the root is ever opened or stat'ed.
 *
 * Escapes: the middleware never wraps the inner app. A request it does not answer (not found
 * with `fallthrough`, a method other than GET and HEAD) goes to the inner app with the same
 * environ and comes back untouched, so token responses behind it are honoured; its own
 * responses are ordinary ones.
 *
 * Runtimes: Node only, and Bun and Deno through their `node:fs` (docs/RUNTIMES.md); a Worker
 * (workerd) has no file system, and this module does not load there.
 *
 * @example
 * ```ts
 * import { serveStatic } from 'hatchway/middleware/static';
 *
 * const app = serveStatic('./public', { maxAge: 3600, dotfiles: 'deny' })(api);
 * ```
 *
 * @module
 */
import { realpathSync, statSync, type Stats } from 'node:fs';
import { extname, join, sep } from 'node:path';
import etag from 'etag';
import fresh from 'fresh';
import { contentType } from 'mime-types';
import parseRange from 'range-parser';
import { fileBody, getHeader, type App, type Body, type Environ, type HeaderList, type Middleware, type StartResponse } from '../src/index.ts';
import type { ConformanceEntry } from '../src/index.ts';

/** Options of {@link serveStatic}. */
export interface StaticOptions {
  /** File names tried, in order, for a path ending in `/` (default `['index.html']`; `false`: none). */
  index?: string[] | false;
  /** Paths with a segment starting with `.`: `'ignore'` (not found, the default), `'deny'` (403), `'allow'`. */
  dotfiles?: 'ignore' | 'deny' | 'allow';
  /** Not found (and methods other than GET/HEAD) go to the inner app (default true); false answers 404 / 405. */
  fallthrough?: boolean;
  /** Redirect a directory to its slash form, keeping the query (default true). */
  redirect?: boolean;
  /** Send a weak `ETag` from size and mtime (default true). */
  etag?: boolean;
  /** Send `Last-Modified` (default true). */
  lastModified?: boolean;
  /** Answer `Range` requests and send `Accept-Ranges: bytes` (default true). */
  acceptRanges?: boolean;
  /** `Cache-Control: public, max-age=<seconds>` (default 0). */
  maxAge?: number;
  /** Add `immutable` to `Cache-Control` (default false). */
  immutable?: boolean;
  /** Extra fields for a file, e.g. a `Content-Security-Policy`; called before the response starts. */
  setHeaders?: (headers: HeaderList, path: string, stats: Stats) => void;
}

type Resolved = Required<Omit<StaticOptions, 'setHeaders' | 'index'>> & Pick<StaticOptions, 'setHeaders'> & { index: string[] };

/** Answers a plain-text status of its own (the static middleware's 400, 403, 404, 405, 412, 416). */
function plain(startResponse: StartResponse, status: number, text: string, extra: HeaderList = []): Body {
  const body = `${text}\n`;
  startResponse(status, [['content-type', 'text/plain; charset=utf-8'], ['x-content-type-options', 'nosniff'], ...extra, ['content-length', String(Buffer.byteLength(body))]]);
  return [body];
}

/** True when `candidate` is `root` or lies below it. */
function inside(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** Stats a path, or `undefined` when it does not exist (or is not reachable). */
function statOf(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** Percent-encodes a decoded path for a `Location`, segment by segment (slashes kept, `//` collapsed: never an open redirect). */
function encodePath(path: string): string {
  return path.replace(/\/{2,}/g, '/').split('/').map(encodeURIComponent).join('/');
}

/** RFC 9110 §13.1.1 and §13.1.4: true when the request's preconditions fail (→ 412). */
function preconditionFailed(environ: Environ, tag: string, modified: number): boolean {
  const match = getHeader(environ.headers, 'if-match');
  if (match !== undefined) {
    if (match.trim() === '*') return false;
    const strong = tag.replace(/^W\//, '');
    return !match.split(',').some((t) => t.trim().replace(/^W\//, '') === strong);
  }
  const since = Date.parse(getHeader(environ.headers, 'if-unmodified-since') ?? '');
  return !Number.isNaN(since) && Math.floor(modified / 1000) * 1000 > since;
}

/** RFC 9110 §13.1.5: a `Range` is honoured only while `If-Range` still names this representation. */
function ifRangeHolds(environ: Environ, tag: string, modified: number): boolean {
  const value = getHeader(environ.headers, 'if-range');
  if (value === undefined) return true;
  if (value.includes('"')) return value.trim() === tag;
  const date = Date.parse(value);
  return !Number.isNaN(date) && Math.floor(modified / 1000) * 1000 <= date;
}

/** `multipart/byteranges` (RFC 9110 §14.6): the parts of one file, read in order. */
function multipart(path: string, ranges: { start: number; end: number }[], size: number, type: string): { length: number; boundary: string; body: Body } {
  const boundary = `hatchway-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
  const heads = ranges.map((r, i) => `${i === 0 ? '' : '\r\n'}--${boundary}\r\ncontent-type: ${type}\r\ncontent-range: bytes ${r.start}-${r.end}/${size}\r\n\r\n`);
  const tail = `\r\n--${boundary}--\r\n`;
  const length = heads.reduce((n, h) => n + Buffer.byteLength(h), 0) + ranges.reduce((n, r) => n + r.end - r.start + 1, 0) + tail.length;
  const body = {
    async *[Symbol.asyncIterator]() {
      for (let i = 0; i < ranges.length; i++) {
        yield heads[i]!;
        yield* fileBody(path, ranges[i]);
      }
      yield tail;
    },
  };
  return { length, boundary, body };
}

/**
 * Serves the files under `root` (resolved, symlinks and all, once, now: a missing root throws).
 *
 * @example
 * ```ts
 * const site = serveStatic('/srv/www', { immutable: true, maxAge: 31536000, fallthrough: false })(notFound);
 * ```
 */
export function serveStatic(root: string, options: StaticOptions = {}): Middleware {
  const rootReal = realpathSync(root);
  const o: Resolved = {
    index: options.index === false ? [] : (options.index ?? ['index.html']),
    dotfiles: options.dotfiles ?? 'ignore',
    fallthrough: options.fallthrough ?? true,
    redirect: options.redirect ?? true,
    etag: options.etag ?? true,
    lastModified: options.lastModified ?? true,
    acceptRanges: options.acceptRanges ?? true,
    maxAge: Math.max(0, Math.floor(options.maxAge ?? 0)),
    immutable: options.immutable ?? false,
    setHeaders: options.setHeaders,
  };
  const cacheControl = `public, max-age=${o.maxAge}${o.immutable ? ', immutable' : ''}`;

  return (app: App): App =>
    function serveStaticApp(environ: Environ, startResponse: StartResponse): Body {
      const notFound = (): Body => (o.fallthrough ? app(environ, startResponse) : plain(startResponse, 404, 'Not Found'));
      if (environ.method !== 'GET' && environ.method !== 'HEAD') {
        return o.fallthrough ? app(environ, startResponse) : plain(startResponse, 405, 'Method Not Allowed', [['allow', 'GET, HEAD']]);
      }
      const path = environ.pathInfo === '' ? '/' : environ.pathInfo;
      // The server already refuses NUL (SPEC §2.2); a foreign host may not.
      if (path.includes('\0') || path.includes('\\') || path.split('/').includes('..') || !path.startsWith('/')) return plain(startResponse, 400, 'Bad Request');
      const segments = path.split('/').filter((s) => s !== '');
      if (o.dotfiles !== 'allow' && segments.some((s) => s.startsWith('.'))) {
        return o.dotfiles === 'deny' ? plain(startResponse, 403, 'Forbidden') : notFound();
      }

      let real: string;
      try {
        real = realpathSync.native(join(rootReal, ...segments));
      } catch {
        return notFound();
      }
      // A symlink that leads out of the root: never stat'ed, never opened.
      if (!inside(rootReal, real)) return notFound();
      let stats = statOf(real);
      if (stats?.isDirectory()) {
        if (!path.endsWith('/')) {
          if (!o.redirect) return notFound();
          const location = encodePath(`${environ.scriptName}${path}/`) + (environ.queryString === '' ? '' : `?${environ.queryString}`);
          return plain(startResponse, 301, 'Moved Permanently', [['location', location]]);
        }
        const dir = real;
        stats = undefined;
        for (const name of o.index) {
          let candidate: string;
          try {
            candidate = realpathSync.native(join(dir, name));
          } catch {
            continue;
          }
          const found = inside(rootReal, candidate) ? statOf(candidate) : undefined;
          if (found?.isFile()) {
            real = candidate;
            stats = found;
            break;
          }
        }
      }
      if (stats === undefined || !stats.isFile()) return notFound();
      return sendFile(environ, startResponse, real, stats);
    };

  function sendFile(environ: Environ, startResponse: StartResponse, path: string, stats: Stats): Body {
    const tag = etag(stats);
    const modified = stats.mtimeMs;
    const type = contentType(extname(path)) || 'application/octet-stream';
    const headers: HeaderList = [];
    if (o.acceptRanges) headers.push(['accept-ranges', 'bytes']);
    headers.push(['cache-control', cacheControl]);
    if (o.lastModified) headers.push(['last-modified', stats.mtime.toUTCString()]);
    if (o.etag) headers.push(['etag', tag]);
    o.setHeaders?.(headers, path, stats);

    if (preconditionFailed(environ, tag, modified)) return plain(startResponse, 412, 'Precondition Failed');
    const validators: Record<string, string> = {};
    if (o.etag) validators['etag'] = tag;
    if (o.lastModified) validators['last-modified'] = stats.mtime.toUTCString();
    const request: Record<string, string | undefined> = {
      'if-none-match': getHeader(environ.headers, 'if-none-match'),
      'if-modified-since': getHeader(environ.headers, 'if-modified-since'),
      'cache-control': getHeader(environ.headers, 'cache-control'),
    };
    if ((request['if-none-match'] !== undefined || request['if-modified-since'] !== undefined) && fresh(request, validators)) {
      startResponse(304, headers.filter(([n]) => n !== 'accept-ranges'));
      return [];
    }

    const size = stats.size;
    const range = getHeader(environ.headers, 'range');
    if (o.acceptRanges && range !== undefined && ifRangeHolds(environ, tag, modified)) {
      const ranges = parseRange(size, range, { combine: true });
      if (ranges === -1) return plain(startResponse, 416, 'Range Not Satisfiable', [['content-range', `bytes */${size}`]]);
      if (ranges !== -2 && ranges.type === 'bytes') {
        if (ranges.length === 1) {
          const { start, end } = ranges[0]!;
          startResponse(206, [['content-type', type], ...headers, ['content-range', `bytes ${start}-${end}/${size}`]]);
          return fileBody(path, { start, end });
        }
        const parts = multipart(path, [...ranges], size, type);
        startResponse(206, [['content-type', `multipart/byteranges; boundary=${parts.boundary}`], ...headers, ['content-length', String(parts.length)]]);
        return parts.body;
      }
    }
    startResponse(200, [['content-type', type], ...headers]);
    return fileBody(path);
  }
}

/** For `npm run conformance` and `hatchway check` (docs/CONFORMANCE.md): this middleware as it is checked. */
export const conformance: ConformanceEntry[] = [{ name: 'static', make: (): Middleware => serveStatic(new URL('.', import.meta.url).pathname) }];
