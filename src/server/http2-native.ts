/**
 * The honoured `upgradeTo` escape: an `Http2AppStream` that is a thin layer over a real
 * `ServerHttp2Stream` (SPEC §7.8). Headers are validated before they reach `respond()`
 * (which would put CR/LF on the wire); headers the middleware added around the token
 * response (Set-Cookie, CORS) are merged into the handler's response headers.
 */
import { constants, type ServerHttp2Stream } from 'node:http2';
import type { BodyReader, Chunk, Environ, HeaderList } from '../gateway/types.ts';
import { errorResponse, formatError } from '../gateway/error-response.ts';
import { validateHeaders } from '../protocol/headers.ts';
import { toHeaderObject } from '../protocol/fields.ts';
import { validateTrailers } from '../protocol/trailers.ts';
import { preloadLink } from '../escapes/push.ts';
import { degrade } from '../escapes/degrade.ts';
import type { Http2App, Http2AppStream, Http2Settings, RespondOptions } from '../escapes/http2-app.ts';
import { whenDrained } from './drain.ts';

/** Opens push streams (the front-end's sink of the request stream). */
export interface Pusher {
  /** Sends a PUSH_PROMISE for `path`; resolves with the pushed stream, `undefined` where push is refused. */
  openPush(path: string, headers: HeaderList): Promise<ServerHttp2Stream | undefined>;
}

/** What the native stream needs from the front-end to push. */
export interface NativeContext {
  environ: Environ;
  /** Headers the middleware added around the token response. */
  extraHeaders: HeaderList;
  /** What opens push streams for the handler; absent, push degrades to preload links. */
  pusher?: Pusher | undefined;
  /** Told when the handler's response is whole on our side (SPEC §2.7: then only a reset aborts it). */
  owner?: { responseEnded(): void } | undefined;
  /**
   * The request's own signal (the front-end's, `RequestLifecycle.signal`), which already aborts
   * when this stream closes before the handler ended it, or is reset (SPEC §2.7). Absent (a
   * pushed stream), the stream makes its own from its 'close' and `environ.signal`.
   */
  signal?: AbortSignal;
}

const NO_LINKS: HeaderList = [];

/**
 * A `ServerHttp2Stream` as an {@link Http2AppStream}. One class, its methods on the prototype: a call costs one object, not a closure per method
 * (as node:http2's own stream, the methods are called on the stream: `stream.end(…)`).
 */
class NativeStream implements Http2AppStream {
  readonly #stream: ServerHttp2Stream;
  readonly #ctx: NativeContext;
  #signal: AbortSignal | undefined;
  /** Preload links of pushes refused before the response (none until the first). */
  #links: HeaderList = NO_LINKS;
  #pendingTrailers: HeaderList | undefined;
  #wantsTrailers = false;
  #responded = false;
  readonly id: number | undefined;
  readonly emulated = false;

  constructor(stream: ServerHttp2Stream, ctx: NativeContext) {
    this.#stream = stream;
    this.#ctx = ctx;
    this.id = stream.id;
  }

  get pushAllowed(): boolean {
    return this.#stream.pushAllowed && this.#ctx.pusher !== undefined;
  }

  get settings(): { local: Http2Settings; remote: Http2Settings } | undefined {
    const session = this.#stream.session;
    return session ? { local: session.localSettings as Http2Settings, remote: session.remoteSettings as Http2Settings } : undefined;
  }

  get body(): BodyReader {
    return this.#ctx.environ.input;
  }

  get signal(): AbortSignal {
    return (this.#signal ??= streamSignal(this.#stream, this.#ctx));
  }

  get headersSent(): boolean {
    return this.#responded;
  }

  respond(status: number, headers: HeaderList = [], options: RespondOptions = {}): void {
    validateHeaders(headers, status);
    const extra = this.#ctx.extraHeaders;
    const links = this.#links;
    const all = extra.length === 0 && links.length === 0 ? headers : [...extra, ...links, ...headers];
    const object = toHeaderObject(all, { ':status': status });
    const stream = this.#stream;
    this.#responded = true;
    const wantsTrailers = (this.#wantsTrailers = options.waitForTrailers === true);
    // Listened for only when trailers were announced, and once: node:http2 keeps a closed stream
    // reachable until a full GC (live-list.ts), and a listener left on it would keep this call's
    // whole graph with it.
    if (wantsTrailers) stream.once('wantTrailers', () => this.#sendTrailers());
    stream.respond(object, { endStream: options.endStream === true, waitForTrailers: wantsTrailers });
    // node:http2 ends a HEAD, 204 or 304 response (and an endStream one) with its headers.
    if (stream.writableEnded) this.#ctx.owner?.responseEnded();
  }

  #sendTrailers(): void {
    const trailers = this.#pendingTrailers ?? [];
    this.#pendingTrailers = undefined;
    const stream = this.#stream;
    try {
      validateTrailers(trailers);
      stream.sendTrailers(toHeaderObject(trailers));
    } catch (err) {
      this.#ctx.environ.errors.write(formatError(err));
      stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    }
  }

  write(chunk: Chunk): boolean {
    const stream = this.#stream;
    // A zero-length write makes node:http2 send stale memory as DATA (see H2Sink.write).
    if (stream.destroyed || (typeof chunk === 'string' ? chunk.length : chunk.byteLength) === 0) return true;
    return stream.write(chunk);
  }

  drained(): Promise<void> {
    return whenDrained(this.#stream);
  }

  end(chunk?: Chunk, trailers?: HeaderList): void {
    const stream = this.#stream;
    if (stream.destroyed) return;
    // Only the handler's own end counts: node:http2 ends the writable side of a stream the
    // client reset too, so `writableEnded` at 'close' does not say the response was whole.
    this.#ctx.owner?.responseEnded();
    if (stream.writableEnded) return;
    this.#pendingTrailers = this.#wantsTrailers ? (trailers ?? []) : undefined;
    if (chunk === undefined) stream.end();
    else stream.end(chunk);
  }

  async push(path: string, headers: HeaderList = []): Promise<Http2AppStream | undefined> {
    const ctx = this.#ctx;
    const situation = this.#stream.pushAllowed && ctx.pusher !== undefined ? 'honoured' : 'ineligible';
    if (degrade('push', 'HTTP/2', situation) === 'preload') {
      if (!this.#responded) (this.#links === NO_LINKS ? (this.#links = []) : this.#links).push(['link', preloadLink({ path })]);
      return undefined;
    }
    const pushed = await ctx.pusher!.openPush(path, headers);
    return pushed === undefined ? undefined : new NativeStream(pushed, { environ: ctx.environ, extraHeaders: NO_LINKS, pusher: ctx.pusher });
  }

  close(code: number = constants.NGHTTP2_CANCEL): void {
    const stream = this.#stream;
    if (stream.destroyed) return;
    // node:http2's close(code) ends an open response first (an empty DATA with END_STREAM),
    // so a cut-off response would look complete. destroy() sends only the RST_STREAM; its
    // code is then INTERNAL_ERROR, the one node:http2 lets us choose without ending first.
    if (code === constants.NGHTTP2_NO_ERROR || stream.writableEnded) {
      if (code === constants.NGHTTP2_NO_ERROR) this.#ctx.owner?.responseEnded(); // close(NO_ERROR) ends the response first
      stream.close(code);
    } else stream.destroy(new Error(`the HTTP/2 handler reset its stream (code ${code})`));
  }
}

/**
 * The handler's `stream.signal`: aborted when the client resets the stream or goes away before
 * the handler ended it — never after a call that completed (SPEC §2.7). The request's own
 * signal is exactly that, and costs nothing more, unless a middleware gave the handler's
 * environ another signal (then either aborts it).
 */
function streamSignal(stream: ServerHttp2Stream, ctx: NativeContext): AbortSignal {
  const own = ctx.signal;
  if (own !== undefined) return ctx.environ.signal === own ? own : AbortSignal.any([own, ctx.environ.signal]);
  const controller = new AbortController();
  ctx.environ.signal.addEventListener('abort', () => controller.abort(), { once: true });
  stream.once('close', () => {
    if (!stream.writableEnded || stream.rstCode !== constants.NGHTTP2_NO_ERROR) controller.abort();
  });
  return controller.signal;
}

/**
 * Runs an HTTP/2 handler on its stream; settles when the handler did. A handler that throws
 * before responding gets the error response of what it threw (an http-errors status, headers
 * and `expose` rule, as for any app); after responding, the stream is reset — a truncated
 * response never looks complete.
 */
export async function runNative(handler: Http2App, stream: ServerHttp2Stream, ctx: NativeContext): Promise<void> {
  const appStream = new NativeStream(stream, ctx);
  // The handler starts on a later microtask, as an app's body does: never inside the escape
  // sink's own call.
  await undefined;
  try {
    await handler(appStream, ctx.environ);
  } catch (err) {
    failed(err, stream, appStream, ctx);
    return;
  }
  if (!stream.destroyed && !stream.writableEnded) {
    ctx.environ.errors.write('an HTTP/2 handler returned without ending its stream: reset');
    // destroy(), not close(code): close() on an open response ends it (END_STREAM) first.
    stream.destroy(new Error('HTTP/2 handler did not end its stream'));
  }
}

function failed(err: unknown, stream: ServerHttp2Stream, appStream: NativeStream, ctx: NativeContext): void {
  const e = errorResponse(err);
  if (e.log) ctx.environ.errors.write(formatError(err));
  if (stream.destroyed) return;
  if (!appStream.headersSent) {
    stream.respond(toHeaderObject([...ctx.extraHeaders, ...e.headers], { ':status': e.status }), { endStream: ctx.environ.method === 'HEAD' });
    if (ctx.environ.method !== 'HEAD') stream.end(e.body);
    ctx.owner?.responseEnded(); // the error response is whole
  } else stream.destroy(err instanceof Error ? err : new Error('HTTP/2 handler failed')); // RST_STREAM, not END_STREAM
}
