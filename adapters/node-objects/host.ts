/**
 * A hatchway app inside a foreign Node server: the environ built from the host's request
 * (`node:http` or the `node:http2` compatibility API), and a {@link ResponseSink} that drives
 * the host's response. The host has no escape hatches, so every feature is `false` (SPEC §2.6:
 * advertise only what works).
 */
import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { pipeline } from 'node:stream/promises';
import type { Chunk, Environ, ErrorStream, FileBody, HeaderList, Protocol, ResponseSink } from '../../src/index.ts';
import { StreamBodyReader, decodePath, errorResponse, nextRequestId, splitTarget, toHeaderObject, whenDrained } from '../../src/host.ts';
import { mergeHeaders, replaceHeaders } from './headers.ts';

/** A request from `node:http` or from the `node:http2` compatibility API. */
export type HostRequest = IncomingMessage | Http2ServerRequest;
/** A response from `node:http` or from the `node:http2` compatibility API. */
export type HostResponse = ServerResponse | Http2ServerResponse;

/** Options shared by the adapters that host an app in a foreign server. */
export interface HostOptions {
  /** Where the app's error lines go (default: `console.error`). */
  errors?: ErrorStream;
}

const consoleErrors: ErrorStream = { write: (message) => console.error(message) };

/** Where the app is mounted in the host, when the host strips a prefix (Express's `req.baseUrl`). */
export interface Mount {
  /** The raw target the client sent (`req.originalUrl`). */
  target: string;
  /** The decoded mount path (`req.baseUrl`). */
  scriptName: string;
  /** The URL below the mount point (`req.url`). */
  url: string;
}

/**
 * Where a framework mounted us, from the URLs it keeps: Express's `req.originalUrl` and
 * `req.baseUrl`, Connect's `req.originalUrl`, Koa's `ctx.originalUrl` (and koa-mount's
 * `ctx.mountPath`). `undefined` when not mounted below a prefix.
 */
export function mountOf(req: { url?: string | undefined; originalUrl?: unknown; baseUrl?: unknown }, original = req.originalUrl, base = req.baseUrl): Mount | undefined {
  const url = req.url ?? '/';
  if (typeof original !== 'string' || original === url) return undefined;
  let prefix = typeof base === 'string' ? base : undefined;
  if (prefix === undefined) {
    // originalUrl = mount path + url
    const path = url.split('?')[0]!;
    const originalPath = original.split('?')[0]!;
    prefix = originalPath.endsWith(path) ? originalPath.slice(0, originalPath.length - path.length) : '';
  }
  return { target: original, scriptName: decodePath(prefix) ?? prefix, url };
}

/**
 * Builds the environ for a host request; `signal` aborts when the host's response closes early.
 * Throws the 400 `HttpError` the server would answer for a target that does not decode.
 */
export function environFromHost(req: HostRequest, res: HostResponse, options: HostOptions, mount?: Mount): Environ {
  const h2 = req.httpVersionMajor === 2;
  const raw = req.rawHeaders;
  const headers: HeaderList = [];
  let host: string | undefined;
  let contentLength: string | undefined;
  let chunked = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name[0] === ':') continue; // HTTP/2 pseudo-headers are environ fields, not headers
    const value = raw[i + 1]!;
    headers.push([name, value]);
    if (name === 'host') host ??= value;
    else if (name === 'content-length') contentLength = value;
    else if (name === 'transfer-encoding') chunked = true;
  }
  const method = req.method ?? 'GET';
  const url = mount?.url ?? req.url ?? '/';
  // A foreign host has its own error handling for a target that does not decode: a 400 HttpError for it.
  const { pathInfo, queryString } = splitTarget(url, method, { badPath: 'throw' });
  const socket = req.socket as { encrypted?: boolean; remoteAddress?: string; remotePort?: number; localAddress?: string; localPort?: number } | undefined;
  const h2req = req as Http2ServerRequest;
  const scheme = h2 ? (h2req.scheme === 'https' ? 'https' : 'http') : socket?.encrypted ? 'https' : 'http';
  const protocol: Protocol = h2 ? 'HTTP/2' : req.httpVersion === '1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  const length = chunked ? undefined : contentLength !== undefined ? Number(contentLength) : h2 ? undefined : 0;
  const requestId = nextRequestId();
  const errors = options.errors ?? consoleErrors;
  return {
    method,
    scheme,
    target: mount?.target ?? url,
    scriptName: mount?.scriptName ?? '',
    pathInfo,
    queryString,
    protocol,
    authority: (h2 ? h2req.authority : undefined) ?? host ?? '',
    headers,
    remoteAddress: socket?.remoteAddress ?? '',
    remotePort: socket?.remotePort ?? 0,
    localAddress: socket?.localAddress ?? '',
    localPort: socket?.localPort ?? 0,
    requestId,
    streamId: h2 ? h2req.stream.id : undefined,
    input: new StreamBodyReader(req, Number.isSafeInteger(length) ? length : undefined),
    errors: { write: (message) => errors.write(`[hatchway ${requestId}] ${message}`) },
    features: { push: false, trailers: false, websocket: false, earlyHints: false },
    signal: controller.signal,
  };
}

/** Answers a request that never reached the app (a target that does not decode) with its error response. */
export function refuse(res: HostResponse, err: unknown): void {
  const { status, headers, body } = errorResponse(err);
  (res as ServerResponse).writeHead(status, Object.fromEntries(headers));
  res.end(body);
}

/** The methods the sink calls on the host response; an adapter that patched the response passes the originals. */
export interface ResponseMethods {
  writeHead: (this: unknown, status: number, ...rest: unknown[]) => unknown;
  write: (this: unknown, chunk: Chunk) => boolean;
  end: (this: unknown, chunk?: Chunk) => unknown;
}

/** Options of {@link HostSink}. */
export interface HostSinkOptions {
  /** Call these instead of the response's current methods. */
  methods?: ResponseMethods | undefined;
  /**
   * How the head is written: `'flat'` passes the list to `writeHead()` (exact order and
   * duplicates; right for a bare server); `'merge'`/`'replace'` put the fields into the header
   * map first — merged with what middleware already set, or replacing it — and then call
   * `writeHead(status)`, so middleware that patched `writeHead` (on-headers) sees every field.
   */
  headers?: 'flat' | 'merge' | 'replace';
}

/** The runner's view of a host response (`node:http` or HTTP/2 compatibility). */
export class HostSink implements ResponseSink {
  readonly #res: HostResponse;
  readonly #h2: boolean;
  /** See {@link HostSinkOptions.headers}. */
  mode: 'flat' | 'merge' | 'replace';
  methods: ResponseMethods | undefined;
  /** Set when the response was handed to someone else (an Express `next(err)`): the sink then sends nothing. */
  detached = false;
  /** Called right before the head is written (to restore a patched response). */
  onHead: (() => void) | undefined = undefined;
  /** A length the runner knows but the app did not declare; set on the first write() (see head()). */
  #pendingLength: number | undefined = undefined;

  constructor(res: HostResponse, options: HostSinkOptions = {}) {
    this.#res = res;
    this.#h2 = 'stream' in res;
    this.methods = options.methods;
    this.mode = options.headers ?? 'flat';
  }

  get closed(): boolean {
    if (this.detached) return true;
    return this.#h2 ? (this.#res as Http2ServerResponse).stream.destroyed : (this.#res as ServerResponse).destroyed;
  }

  head(status: number, reason: string | undefined, headers: HeaderList, length: number | undefined): void {
    if (this.detached) return;
    this.onHead?.();
    const res = this.#res as ServerResponse;
    const writeHead = this.methods?.writeHead ?? (res.writeHead as ResponseMethods['writeHead']);
    if (this.mode !== 'flat') {
      if (this.mode === 'replace') replaceHeaders(res, headers);
      else mergeHeaders(res, headers);
      if (this.methods !== undefined) {
        // The response is patched by us (a downstream capture): write the head now, past the patches.
        if (length !== undefined) res.setHeader('Content-Length', length);
        if (reason === undefined || this.#h2) writeHead.call(res, status);
        else writeHead.call(res, status, reason);
        return;
      }
      // As a route does: status and fields on the response, the head left to the first
      // write()/end(), so middleware that patched them decides as it would for a route
      // (compression drops the length; a lone end(data) gets Node's own Content-Length).
      res.statusCode = status;
      if (reason !== undefined && !this.#h2) res.statusMessage = reason;
      this.#pendingLength = length;
      return;
    }
    if (this.#h2) {
      // node:http2 refuses a single-value field twice: one object, the last value winning.
      const object = toHeaderObject<Record<string, string | string[]>>(headers);
      if (length !== undefined) object['content-length'] = String(length);
      writeHead.call(res, status, object);
      return;
    }
    const flat: string[] = [];
    for (const [name, value] of headers) flat.push(name, value);
    if (length !== undefined) flat.push('content-length', String(length));
    if (reason === undefined) writeHead.call(res, status, flat);
    else writeHead.call(res, status, reason, flat);
  }

  write(chunk: Chunk): boolean {
    if (this.detached) return true;
    const res = this.#res as ServerResponse;
    if (this.#pendingLength !== undefined) {
      // More than one write of a known length: declare it, as the runner would.
      if (!res.headersSent && !res.hasHeader('content-length')) res.setHeader('Content-Length', this.#pendingLength);
      this.#pendingLength = undefined;
    }
    return (this.methods?.write ?? (res.write as ResponseMethods['write'])).call(res, chunk);
  }

  drained(): Promise<void> {
    if (this.detached || this.closed) return Promise.resolve();
    return whenDrained(this.#res as ServerResponse);
  }

  end(chunk?: Chunk): void {
    if (this.detached) return;
    const res = this.#res as ServerResponse;
    const end = this.methods?.end ?? (res.end as ResponseMethods['end']);
    if (chunk === undefined) end.call(res);
    else end.call(res, chunk);
  }

  async file(status: number, reason: string | undefined, headers: HeaderList, body: FileBody, size: number, bodyless: boolean): Promise<void> {
    this.head(status, reason, headers, size);
    if (bodyless || size === 0) {
      this.end();
      return;
    }
    if (this.methods !== undefined) {
      // A patched response (middleware around us) gets the bytes through its own write().
      for await (const chunk of body) if (!this.write(chunk)) await this.drained();
      this.end();
      return;
    }
    await pipeline(createReadStream(body.path, { start: body.start, end: body.start + size - 1 }), this.#res as ServerResponse);
  }

  abort(error: unknown): void {
    if (this.detached) return;
    this.#res.destroy(error instanceof Error ? error : undefined);
  }
}
