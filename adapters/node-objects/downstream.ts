/**
 * The rest of an Express/Connect chain as a hatchway app, for a hatchway *middleware* mounted
 * in Express (`toConnect(middleware)`): calling the inner app calls Express's `next()`, and
 * what the downstream handlers write to `res` becomes the inner app's response instead of
 * going to the client — so the hatchway middleware sees it, and may change it, before it is
 * written to the real response.
 *
 * Done the way `compression` does it: while the downstream runs, `res.writeHead`, `write`,
 * `end` and `flushHeaders` are own-property interceptors; the sink writes the outer response
 * with the methods that were in place before (so middleware *upstream* of us, which patched
 * them earlier, still sees everything). Once the downstream head is captured, `res.headersSent`
 * is true for the downstream (as on Node) until the real head is written.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { bodyForbidden } from '../../src/index.ts';
import type { Body, Chunk, Environ, StartResponse } from '../../src/index.ts';
import { headersOf, nodeHeaders } from './headers.ts';
import type { HostSink } from './host.ts';
import { relativeUrl } from './url.ts';
import { ChunkQueue, type Callback } from './queue.ts';

/** Stands in for `res._header` between the downstream's head and the real one. */
const CAPTURED = 'HTTP/1.1 000 captured by hatchway\r\n\r\n';


interface Internals {
  _header: string | null;
}

function codeError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** The inner app's body: runs Express's `next()` on the first pull and yields what the downstream writes. */
export function downstreamBody(req: IncomingMessage, res: ServerResponse, outer: Environ, inner: Environ, startResponse: StartResponse, next: () => void, sink: HostSink): Body {
  let needDrain = false;
  const queue = new ChunkQueue(() => {
    if (needDrain) {
      needDrain = false;
      res.emit('drain');
    }
  });
  let started = false;
  let captured = false;
  let ended = false;
  let closed = false;
  let autoLength: number | undefined;
  let endCallback: Callback | undefined;
  const wakeUp = () => queue.wakeUp();
  const internals = res as unknown as Internals;

  const capture = (): void => {
    const status = res.statusCode;
    const headers = headersOf(res, status);
    if (autoLength !== undefined && !res.hasHeader('content-length') && !bodyForbidden(req.method ?? 'GET', status)) headers.push(['Content-Length', String(autoLength)]);
    const reason = res.statusMessage && res.statusMessage !== STATUS_CODES[status] ? res.statusMessage : undefined;
    startResponse(reason === undefined ? status : `${status} ${reason}`, headers);
    captured = true;
    sink.mode = 'replace'; // the hatchway middleware's response now includes everything set so far
    if (!internals._header) internals._header = CAPTURED;
  };

  const enqueue = (chunk: unknown, encoding: BufferEncoding | undefined, callback: Callback | undefined): boolean => {
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) throw codeError('ERR_INVALID_ARG_TYPE', 'The "chunk" argument must be of type string or an instance of Buffer or Uint8Array');
    const data: Chunk = typeof chunk === 'string' && encoding && encoding !== 'utf8' && encoding !== 'utf-8' ? Buffer.from(chunk, encoding) : chunk;
    const length = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (closed || length === 0 || bodyForbidden(req.method ?? 'GET', res.statusCode)) {
      if (callback) process.nextTick(callback);
      return true;
    }
    queue.push(data, length, callback);
    if (queue.queued >= res.writableHighWaterMark) needDrain = true;
    return !needDrain;
  };

  const interceptors = {
    writeHead(this: ServerResponse, statusCode: number, reason?: unknown, headers?: unknown): ServerResponse {
      if (captured) throw codeError('ERR_HTTP_HEADERS_SENT', 'Cannot write headers after they are sent to the client');
      let fields = headers;
      if (typeof reason === 'string') this.statusMessage = reason;
      else fields = reason;
      if (Array.isArray(fields)) {
        const flat: unknown[] = fields.length > 0 && Array.isArray(fields[0]) ? (fields as unknown[][]).flat() : fields;
        for (let i = 0; i < flat.length; i += 2) this.removeHeader(String(flat[i]));
        for (let i = 0; i < flat.length; i += 2) this.appendHeader(String(flat[i]), flat[i + 1] as string);
      } else if (fields !== null && typeof fields === 'object') {
        for (const [name, value] of Object.entries(fields)) this.setHeader(name, value as string);
      }
      this.statusCode = statusCode;
      capture();
      return this;
    },
    write(this: ServerResponse, chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
      const cb = (typeof encoding === 'function' ? encoding : callback) as Callback | undefined;
      if (ended) {
        if (cb) process.nextTick(cb, codeError('ERR_STREAM_WRITE_AFTER_END', 'write after end'));
        return false;
      }
      if (!captured) this.writeHead(this.statusCode);
      return enqueue(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined, cb);
    },
    end(this: ServerResponse, chunk?: unknown, encoding?: unknown, callback?: unknown): ServerResponse {
      let data = chunk;
      let enc = encoding;
      let cb = callback;
      if (typeof data === 'function') {
        cb = data;
        data = undefined;
      } else if (typeof enc === 'function') {
        cb = enc;
        enc = undefined;
      }
      if (ended) {
        if (typeof cb === 'function') process.nextTick(cb as Callback);
        return this;
      }
      const hasData = data !== undefined && data !== null && data !== '';
      if (!captured) {
        autoLength = hasData ? (typeof data === 'string' ? Buffer.byteLength(data, (enc as BufferEncoding) || 'utf8') : (data as Uint8Array).byteLength) : 0;
        this.writeHead(this.statusCode);
      }
      if (hasData) enqueue(data, typeof enc === 'string' ? (enc as BufferEncoding) : undefined, undefined);
      ended = true;
      endCallback = typeof cb === 'function' ? (cb as Callback) : undefined;
      wakeUp();
      return this;
    },
    flushHeaders(this: ServerResponse): void {
      if (!captured) this.writeHead(this.statusCode);
    },
  };

  const start = (): void => {
    applyEnviron(req, outer, inner);
    sink.methods = { writeHead: res.writeHead, write: res.write, end: res.end } as HostSink['methods'];
    sink.onHead = () => {
      if (internals._header === CAPTURED) internals._header = null;
    };
    for (const [name, value] of Object.entries(interceptors)) Object.defineProperty(res, name, { value, configurable: true, writable: true, enumerable: false });
    next();
  };

  const done: IteratorResult<Chunk> = { done: true, value: undefined };
  const close = (): void => {
    closed = true;
    queue.clear();
  };
  const iterator: AsyncIterator<Chunk> = {
    async next() {
      if (!started) {
        started = true;
        start();
      }
      queue.settle();
      for (;;) {
        if (closed) return done;
        const chunk = queue.shift();
        if (chunk !== undefined) return { done: false, value: chunk };
        if (ended) {
          const cb = endCallback;
          endCallback = undefined;
          cb?.(null);
          return done;
        }
        await queue.wait();
      }
    },
    async return() {
      close();
      return done;
    },
  };
  return { [Symbol.asyncIterator]: () => iterator, close };
}

/** Puts the inner environ's changes (method, URL, headers) on the host request before `next()`. */
function applyEnviron(req: IncomingMessage, outer: Environ, inner: Environ): void {
  if (inner.method !== outer.method) req.method = inner.method;
  if (inner.target !== outer.target || inner.scriptName !== outer.scriptName || inner.pathInfo !== outer.pathInfo || inner.queryString !== outer.queryString) {
    req.url = relativeUrl(inner);
  }
  if (inner.headers !== outer.headers) {
    const raw: string[] = [];
    for (const [name, value] of inner.headers) raw.push(name, value);
    req.rawHeaders = raw;
    req.headers = nodeHeaders(inner.headers);
  }
}
