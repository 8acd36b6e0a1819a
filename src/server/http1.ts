/**
 * The HTTP/1.x front-end on `node:http`: maps an `IncomingMessage` to an environ, and a
 * `ServerResponse` to the runner's {@link ResponseSink}. Framing (keep-alive, chunked,
 * Content-Length) is `node:http`'s; the rules about *what* to send are the runner's.
 */
import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { run, type ResponseSink } from '../gateway/run.ts';
import type { FileBody } from '../gateway/body.ts';
import { errorResponse } from '../gateway/error-response.ts';
import { headerHasToken } from '../protocol/headers.ts';
import type { App, Chunk, Environ, HeaderList, Protocol } from '../gateway/types.ts';
import { StreamBodyReader } from './body-reader.ts';
import { RequestErrors, splitTarget, type LogFn } from './environ.ts';

/** What the HTTP/1 front-end needs from the server that owns it. */
export interface H1Context {
  app: App;
  log: LogFn;
  nextId: () => string;
  /** True once the server is shutting down: responses then close their connection. */
  closing: boolean;
  /** Counts requests in flight for graceful shutdown. */
  track(res: ServerResponse): void;
}

/** Handles one request; `expectContinue` is set for requests that carry `Expect: 100-continue`. */
export function handleH1(ctx: H1Context, req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
  ctx.track(res);
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  const sink = new H1Sink(res, ctx);
  let environ: Environ;
  try {
    environ = environFor(ctx, req, res, expectContinue, controller.signal);
  } catch (err) {
    const e = errorResponse(err);
    sink.head(e.status, undefined, e.headers, undefined);
    sink.end(e.body);
    return;
  }
  const done = run(ctx.app, environ, sink);
  if (done !== undefined) done.catch((err: unknown) => ctx.log(String(err)));
}

function environFor(ctx: H1Context, req: IncomingMessage, res: ServerResponse, expectContinue: boolean, signal: AbortSignal): Environ {
  const raw = req.rawHeaders;
  const headers: HeaderList = new Array(raw.length >> 1);
  let authority = '';
  let contentLength: string | undefined;
  let te: string | undefined;
  for (let i = 0, j = 0; i < raw.length; i += 2, j++) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    headers[j] = [name, value];
    if (name === 'host') authority ||= value;
    else if (name === 'content-length') contentLength = value;
    else if (name === 'te') te = te === undefined ? value : `${te}, ${value}`;
  }
  const method = req.method!;
  const target = req.url!;
  const { pathInfo, queryString } = splitTarget(target, method);
  const socket = req.socket;
  const requestId = ctx.nextId();
  const chunked = req.headers['transfer-encoding'] !== undefined;
  const length = chunked ? undefined : contentLength === undefined ? 0 : Number(contentLength);
  const protocol: Protocol = req.httpVersion === '1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
  return {
    method,
    scheme: (socket as { encrypted?: boolean }).encrypted ? 'https' : 'http',
    target,
    scriptName: '',
    pathInfo,
    queryString,
    protocol,
    authority,
    headers,
    remoteAddress: socket.remoteAddress ?? '',
    remotePort: socket.remotePort ?? 0,
    localAddress: socket.localAddress ?? '',
    localPort: socket.localPort ?? 0,
    requestId,
    streamId: undefined,
    input: new StreamBodyReader(req, length, expectContinue ? () => res.writeContinue() : undefined),
    errors: new RequestErrors(requestId, ctx.log),
    features: {
      push: false,
      trailers: protocol === 'HTTP/1.1' && headerHasToken(te, 'trailers'),
      websocket: false,
      earlyHints: protocol === 'HTTP/1.1',
    },
    signal,
  };
}

/** The runner's view of a `ServerResponse`. */
export class H1Sink implements ResponseSink {
  readonly #res: ServerResponse;
  readonly #ctx: H1Context;
  constructor(res: ServerResponse, ctx: H1Context) {
    this.#res = res;
    this.#ctx = ctx;
  }

  get closed(): boolean {
    return this.#res.destroyed;
  }

  head(status: number, reason: string | undefined, headers: HeaderList, length: number | undefined): void {
    const flat: string[] = [];
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i]!;
      flat.push(h[0], h[1]);
    }
    if (length !== undefined) flat.push('content-length', String(length));
    if (this.#ctx.closing) this.#res.shouldKeepAlive = false;
    if (reason === undefined) this.#res.writeHead(status, flat);
    else this.#res.writeHead(status, reason, flat);
  }

  write(chunk: Chunk): boolean {
    return this.#res.write(chunk);
  }

  drained(): Promise<void> {
    const res = this.#res;
    if (res.destroyed || !res.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }

  end(chunk?: Chunk): void {
    if (chunk === undefined) this.#res.end();
    else this.#res.end(chunk);
  }

  async file(status: number, reason: string | undefined, headers: HeaderList, body: FileBody, size: number, bodyless: boolean): Promise<void> {
    this.head(status, reason, headers, size);
    if (bodyless || size === 0) {
      this.#res.end();
      return;
    }
    await pipeline(createReadStream(body.path, { start: body.start, end: body.start + size - 1 }), this.#res);
  }

  abort(): void {
    this.#res.destroy();
  }
}
