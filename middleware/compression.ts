/**
 * `hatchway/middleware/compression` — compresses response bodies with zstd, brotli, gzip or
 * deflate (`node:zlib`), chosen by `Accept-Encoding` negotiation (`negotiator`: q-values first,
 * then the server's order among equals).
 *
 * The body is streamed: the inner body is pulled only as fast as the compressor's output is
 * taken by the server, so a slow client never makes it hold more than the compressor's own
 * buffers (about 32 KiB) plus one inner chunk. When an async body stalls (server-sent events),
 * what was compressed so far is flushed. Every response it could have compressed gets
 * `Vary: Accept-Encoding`. It leaves alone: HEAD, 204, 205 and 304 responses, ranged responses
 * (a `Content-Range`, a 206), responses that already have a `Content-Encoding`, responses with
 * `Cache-Control: no-transform`, types that are compressed already (images, audio, video,
 * archives — or whatever `filter` refuses), and bodies of known length under `threshold`.
 * A strong `ETag` becomes weak, since the compressed bytes differ.
 *
 * Escape responses: a response with a body-kind control field (`websocket`, `trailers`,
 * `http2`) is passed on untouched, status, fields and body object included, so the server
 * honours it; compressing its token body would turn the escape into its fallback. A response
 * that only carries `push` control fields is an ordinary response and is compressed like one
 * (SPEC §7.4: push is header-only). A trailers response that the server honours is sent by the
 * server itself, so it is never compressed.
 *
 * Runtimes: Node only, and Bun and Deno through their `node:zlib` (docs/RUNTIMES.md); it does
 * not load on workerd without Node compatibility, unlike the other bundled middleware.
 *
 * @example
 * ```ts
 * import { compose } from 'hatchway';
 * import { compression } from 'hatchway/middleware/compression';
 *
 * const stack = compose(compression({ threshold: '1kb', encodings: ['br', 'gzip'] }))(app);
 * ```
 *
 * @module
 */
import { once } from 'node:events';
import { brotliCompress, constants, createBrotliCompress, createDeflate, createGzip, createZstdCompress, deflate, gzip, zstdCompress, type BrotliOptions, type ZlibOptions, type ZstdOptions, type Zlib } from 'node:zlib';
import { promisify } from 'node:util';
import type { Transform } from 'node:stream';
import bytes from 'bytes';
import Negotiator from 'negotiator';
import { bodyForbidden, claimedEscapes, chunkLength, getHeader, headerHasToken, isBody, parseStatus, toBytes, type App, type Body, type Chunk, type Environ, type HeaderList, type Middleware, type StartResponse } from '../src/index.ts';
import type { ConformanceEntry } from '../src/index.ts';

/** A content coding this middleware can produce. */
export type Encoding = 'zstd' | 'br' | 'gzip' | 'deflate';

/** Options of {@link compression}. */
export interface CompressionOptions {
  /** Codings offered, in the server's order of preference (default zstd, br, gzip, deflate). */
  encodings?: readonly Encoding[];
  /** Bodies of known length under this many bytes are sent as they are (default 1 KiB; `'1kb'` works). */
  threshold?: number | string;
  /** Whether a response of this `Content-Type` is worth compressing (default: {@link compressible}). */
  filter?: (contentType: string, environ: Environ) => boolean;
  /** Options for gzip and deflate (default level 6). */
  zlib?: ZlibOptions;
  /** Options for brotli (default quality 4: level 11 is too slow for streaming). */
  brotli?: BrotliOptions;
  /** Options for zstd (default level 3). */
  zstd?: ZstdOptions;
}

const ALREADY_COMPRESSED = /^(?:image\/(?!svg\+xml)|audio\/|video\/|font\/woff2?$|application\/(?:zip|gzip|x-gzip|zstd|x-bzip2?|x-xz|x-7z-compressed|x-rar-compressed|vnd\.rar|octet-stream|pdf|wasm-compressed)$)/;

/** The default filter: any type but the ones already compressed (images but SVG, audio, video, WOFF, archives, octet-stream). */
export function compressible(contentType: string): boolean {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type !== '' && !ALREADY_COMPRESSED.test(type);
}

/** Adds `token` to a `Vary` list (a header list is copied, never changed). */
export function addVary(headers: HeaderList, token: string): HeaderList {
  const index = headers.findIndex(([n]) => n.toLowerCase() === 'vary');
  if (index === -1) return [...headers, ['vary', token]];
  const value = headers[index]![1];
  if (value.trim() === '*' || headerHasToken(value, token.toLowerCase())) return headers;
  const copy = headers.slice();
  copy[index] = [headers[index]![0], `${value}, ${token}`];
  return copy;
}

/** True when `headers` carry a control field of a kind that replaces the body (not `push`). */
/** The response claims a body-kind escape (its token body must pass untouched); push alone does not. */
function claimsBody(headers: HeaderList): boolean {
  const [kind] = claimedEscapes(headers);
  return kind !== undefined && kind !== 'push';
}

interface Resolved {
  encodings: Encoding[];
  threshold: number;
  filter: (contentType: string, environ: Environ) => boolean;
  create: Record<Encoding, () => Transform & Zlib>;
  /** One-shot compression of a whole body (an array body): no stream, one call into zlib. */
  whole: Record<Encoding, (input: Buffer) => Promise<Buffer>>;
}

/**
 * Response compression middleware, streaming with backpressure.
 */
export function compression(options: CompressionOptions = {}): Middleware {
  const zlib = { level: 6, ...options.zlib };
  const brotli: BrotliOptions = { ...options.brotli, params: { [constants.BROTLI_PARAM_QUALITY]: 4, ...options.brotli?.params } };
  const zstd: ZstdOptions = { ...options.zstd, params: { [constants.ZSTD_c_compressionLevel]: 3, ...options.zstd?.params } };
  const threshold = typeof options.threshold === 'string' ? bytes.parse(options.threshold) : (options.threshold ?? 1024);
  if (threshold === null || !Number.isFinite(threshold) || threshold < 0) throw new TypeError(`compression: invalid threshold ${String(options.threshold)}`);
  const resolved: Resolved = {
    encodings: [...(options.encodings ?? ['zstd', 'br', 'gzip', 'deflate'])],
    threshold,
    filter: options.filter ?? compressible,
    create: {
      zstd: () => createZstdCompress(zstd),
      br: () => createBrotliCompress(brotli),
      gzip: () => createGzip(zlib),
      deflate: () => createDeflate(zlib),
    },
    whole: {
      zstd: (input) => zstdAsync(input, zstd),
      br: (input) => brotliAsync(input, brotli),
      gzip: (input) => gzipAsync(input, zlib),
      deflate: (input) => deflateAsync(input, zlib),
    },
  };
  return (app: App): App =>
    function compressionApp(environ: Environ, startResponse: StartResponse): Body {
      const accept = getHeader(environ.headers, 'accept-encoding');
      const negotiator = new Negotiator({ headers: accept === undefined ? {} : { 'accept-encoding': accept } });
      const chosen = (negotiator as unknown as { encoding(a: string[], o: { preferred: string[] }): string | undefined }).encoding(
        [...resolved.encodings, 'identity'],
        { preferred: [...resolved.encodings, 'identity'] },
      );
      const encoding = chosen === undefined || chosen === 'identity' ? undefined : (chosen as Encoding);
      let mode: Encoding | 'untouched' | 'plain' | undefined; // undefined: startResponse not called yet
      let length: number | undefined; // the inner body's length when it is an array

      const decide = (status: number, headers: HeaderList): [Encoding | 'untouched' | 'plain', HeaderList] => {
        if (claimsBody(headers)) return ['untouched', headers];
        const type = getHeader(headers, 'content-type');
        const cacheControl = getHeader(headers, 'cache-control');
        if (type === undefined || !resolved.filter(type, environ) || headerHasToken(cacheControl, 'no-transform')) return ['plain', headers];
        const varied = addVary(headers, 'Accept-Encoding');
        if (encoding === undefined || bodyForbidden(environ.method, status) || status === 206) return ['plain', varied];
        if (getHeader(headers, 'content-encoding') !== undefined || getHeader(headers, 'content-range') !== undefined) return ['plain', varied];
        const declared = getHeader(headers, 'content-length');
        const known = declared !== undefined ? Number(declared) : length;
        if (known !== undefined && known < resolved.threshold) return ['plain', varied];
        const out = varied
          .filter(([n]) => n.toLowerCase() !== 'content-length')
          .map(([n, v]): [string, string] => (n.toLowerCase() === 'etag' && !v.startsWith('W/') ? [n, `W/${v}`] : [n, v]));
        out.push(['content-encoding', encoding]);
        return [encoding, out];
      };
      const start: StartResponse = (status, headers, excInfo) => {
        const code = typeof status === 'number' ? status : parseStatus(status).code;
        const [m, out] = Array.isArray(headers) ? decide(code, headers) : ['plain' as const, headers];
        startResponse(status, out, excInfo);
        mode = m;
      };
      const inner = app(environ, start);
      if (Array.isArray(inner)) {
        // An array body's startResponse came first; its length is known now.
        if (mode === undefined || mode === 'untouched' || mode === 'plain') return inner;
        length = inner.reduce((n: number, c) => n + chunkLength(c), 0);
        // The whole body is here: compress it in one call (a stream costs more than the work).
        return wholeBody(inner, resolved.whole[mode]);
      }
      if (mode === 'untouched' || mode === 'plain' || !isBody(inner)) return inner;
      return compressedBody(inner, () => mode, resolved.create);
    };
}

/** Pulls `inner`; once the mode is known, passes chunks on or pipes them through a compressor. */
function compressedBody(inner: Body, mode: () => Encoding | 'untouched' | 'plain' | undefined, create: Record<Encoding, () => Transform & Zlib>): Body {
  const isAsync = typeof (inner as AsyncIterable<Chunk>)[Symbol.asyncIterator] === 'function';
  return {
    async *[Symbol.asyncIterator](): AsyncGenerator<Chunk> {
      const iterator = isAsync ? (inner as AsyncIterable<Chunk>)[Symbol.asyncIterator]() : (inner as Iterable<Chunk>)[Symbol.iterator]();
      let done = false; // the inner iterator finished or threw: no return() owed
      const next = async (): Promise<IteratorResult<Chunk>> => {
        try {
          const r = await iterator.next();
          if (r.done) done = true;
          return r;
        } catch (err) {
          done = true;
          throw err;
        }
      };
      let compressor: (Transform & Zlib) | undefined;
      try {
        // Until startResponse, chunks are empty (SPEC §3.4): pass them on.
        let first = await next();
        while (!first.done && mode() === undefined) {
          yield first.value;
          first = await next();
        }
        const m = mode();
        if (m === undefined || m === 'untouched' || m === 'plain') {
          for (let r = first; !r.done; r = await next()) yield r.value;
          return;
        }
        const z = (compressor = create[m]());
        // One queue for the compressor's output and a mark per inner chunk taken in: for every
        // chunk the inner body yields, at least one goes out — an empty one while the
        // compressor is still accumulating (PEP 3333, checklist HW-BODY-02), so the middleware
        // never blocks iteration; a stalled producer gets a flush (HW-BODY-03).
        const queue: (Buffer | typeof TAKEN)[] = [];
        let finished = false;
        let failure: unknown;
        let wake: (() => void) | undefined;
        const notify = (): void => {
          const w = wake;
          wake = undefined;
          w?.();
        };
        z.on('data', (out: Buffer) => {
          queue.push(out);
          if (queue.length > HIGH_WATER) z.pause(); // a slow client: stop compressing, and so stop pulling
          notify();
        });
        z.on('end', () => ((finished = true), notify()));
        z.on('error', (err) => ((failure ??= err), notify()));
        const pump = (async () => {
          for (let r = first; !r.done && !z.destroyed; ) {
            if (chunkLength(r.value) > 0 && !z.write(toBytes(r.value))) await once(z, 'drain');
            queue.push(TAKEN);
            notify();
            const pending = next();
            // A stalled producer (an event stream): flush what is compressed so far.
            if (!(await settlesSoon(pending))) z.flush();
            r = await pending;
          }
          z.end();
        })();
        pump.catch((err: unknown) => {
          failure ??= err;
          z.destroy(err as Error);
          notify();
        });
        let sent = false; // output went out since the last chunk taken in
        for (;;) {
          if (failure !== undefined) throw failure;
          const item = queue.shift();
          if (item === undefined) {
            if (finished) break;
            await new Promise<void>((resolve) => (wake = resolve));
            continue;
          }
          if (queue.length <= LOW_WATER && z.isPaused()) z.resume();
          if (item !== TAKEN) {
            sent = true;
            yield item;
          } else if (!sent) yield EMPTY;
          else sent = false;
        }
      } finally {
        compressor?.destroy();
        if (!done) {
          // Not awaited: an async body stalled on an await settles its return() later (SPEC §4.4).
          const r = iterator.return?.();
          if (r instanceof Promise) r.catch(() => {});
        }
      }
    },
    close: () => inner.close?.(),
  };
}

const gzipAsync = promisify<Buffer, ZlibOptions, Buffer>(gzip);
const deflateAsync = promisify<Buffer, ZlibOptions, Buffer>(deflate);
const brotliAsync = promisify<Buffer, BrotliOptions, Buffer>(brotliCompress);
const zstdAsync = promisify<Buffer, ZstdOptions, Buffer>(zstdCompress);

/** An array body compressed in one zlib call, the inner body closed once. */
function wholeBody(inner: Chunk[] & Body, compress: (input: Buffer) => Promise<Buffer>): Body {
  return {
    async *[Symbol.asyncIterator](): AsyncGenerator<Chunk> {
      yield await compress(inner.length === 1 ? Buffer.from(toBytes(inner[0])) : Buffer.concat(inner.map(toBytes)));
    },
    close: () => inner.close?.(),
  };
}

const TAKEN = Symbol('an inner chunk was taken in');
const EMPTY = new Uint8Array(0);
const HIGH_WATER = 16;
const LOW_WATER = 4;

function settlesSoon(promise: Promise<unknown>): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setImmediate(() => resolve(false));
    promise.then(
      () => {
        clearImmediate(timer);
        resolve(true);
      },
      () => {
        clearImmediate(timer);
        resolve(true);
      },
    );
  });
}

/** For `npm run conformance` and `hatchway check` (docs/CONFORMANCE.md): this middleware as it is checked. */
export const conformance: ConformanceEntry[] = [{ name: 'compression', make: (): Middleware => compression() }];
