/**
 * The HTTP/2 front-end on `node:http2`'s core API (the `'stream'` event, never the
 * compatibility layer): maps a stream and its header block to an environ of the same shape
 * as HTTP/1.1's, runs the app into an {@link H2Sink}, and keeps every session inside safe
 * limits (`http2-session.ts`).
 *
 * Connections arrive from the one-port listener, TLS (ALPN `h2`) or cleartext (preface
 * sniffed and unshifted); `node:http2`'s server object is used only as a protocol engine.
 */
import { constants, createServer as createH2Server, type Http2Server, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { httpError } from '../wire/errors.ts';
import { isWebSocketH2 } from '../protocol/websocket.ts';
import { requestedH2 } from '../protocol/upgrade.ts';
import type { Environ } from '../gateway/types.ts';
import { splitRequestHead, type H2RequestHead } from '../protocol/http2-headers.ts';
import { StreamBodyReader } from './body-reader.ts';
import { buildEnviron } from './environ.ts';
import { RequestLifecycle, installOptions, type RequestHost } from './lifecycle.ts';
import { H2Sink, respondWithError } from './http2-sink.ts';
import { H2EscapeSink, type H2EscapeDeps } from './http2-escapes.ts';
import { SessionWatch, type SessionInfo } from './http2-session.ts';

const { NGHTTP2_REFUSED_STREAM } = constants;

/** The limits of the HTTP/2 front-end (see `ServerOptions` for the defaults). */
export interface H2Limits {
  maxConcurrentStreams: number;
  maxHeaderListSize: number;
  maxSessionMemory: number;
  sessionIdleTimeout: number;
  headersTimeout: number;
  requestTimeout: number;
}

/** What the HTTP/2 front-end needs from the server that owns it. */
export interface H2Context extends RequestHost {
  /**
   * The server's dependencies for the escapes that need the real stream: given, each request
   * stream's sink is an {@link H2EscapeSink}, which completes RFC 8441 websockets, pushes and
   * runs `upgradeTo` handlers. Without them those escapes degrade by the table.
   */
  escapes?: H2EscapeDeps | undefined;
  /**
   * Advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3), so that an extended CONNECT with
   * `:protocol` `websocket` reaches the app with `features.websocket` true (and, with
   * `escapes`, one with any other `:protocol` reaches it for the upgrade escape). Set it
   * together with `escapes`, which completes the handshake. Off, nghttp2 resets such streams.
   */
  enableConnectProtocol?: boolean | undefined;
}

/** The HTTP/2 front-end: give it connections with {@link accept}. */
export class H2FrontEnd {
  readonly #engine: Http2Server;
  readonly #ctx: H2Context;
  readonly #limits: H2Limits;
  readonly #watch: SessionWatch;
  #accepting: Socket | undefined;

  constructor(ctx: H2Context, limits: H2Limits) {
    this.#ctx = ctx;
    this.#limits = limits;
    this.#watch = new SessionWatch(limits);
    const engine = createH2Server({
      // nghttp2 counts memory per session in MB; beyond it, new streams get ENHANCE_YOUR_CALM.
      maxSessionMemory: limits.maxSessionMemory,
      settings: {
        // Node's default is 2^32-1; nghttp2 refuses streams over this even before the ACK.
        maxConcurrentStreams: limits.maxConcurrentStreams,
        // Advertised here, but only binding once the client ACKs our SETTINGS (RFC 9113
        // §6.5.3); #onStream enforces it for the first requests too.
        maxHeaderListSize: limits.maxHeaderListSize,
        enableConnectProtocol: ctx.enableConnectProtocol === true,
      },
    });
    engine.on('session', (session: ServerHttp2Session) => this.#watch.add(session, this.#accepting));
    // node:http2 re-emits session errors here; a peer's protocol error is not ours to throw.
    engine.on('sessionError', () => {});
    engine.on('stream', (stream: ServerHttp2Stream, _headers: unknown, _flags: number, raw: string[]) => this.#onStream(stream, raw));
    this.#engine = engine;
  }

  /** Takes an HTTP/2 connection (cleartext with the preface unshifted, or TLS with ALPN h2). */
  accept(socket: Socket): void {
    // node:http2 makes the session synchronously; the watch keeps the real socket, which the
    // session's own `socket` proxy hides, for the shutdown notice (SessionWatch.closeAll).
    this.#accepting = socket;
    try {
      this.#engine.emit('connection', socket);
    } finally {
      this.#accepting = undefined;
    }
  }

  /** Open sessions. */
  get sessions(): number {
    return this.#watch.size;
  }

  /**
   * Graceful shutdown (RFC 9113 §6.8): GOAWAY on every session, so clients open no new
   * streams here; streams in flight finish, then each session closes itself.
   */
  close(): void {
    this.#watch.closeAll();
  }

  /** Destroys every session still open (after the graceful timeout). */
  destroy(): void {
    this.#watch.destroyAll();
  }

  #onStream(stream: ServerHttp2Stream, raw: string[]): void {
    // A stream without an 'error' listener crashes the process on a peer's protocol error.
    stream.on('error', noop);
    const session = stream.session as ServerHttp2Session | undefined;
    const info = session === undefined ? undefined : this.#watch.get(session);
    if (info === undefined || !info.admits(stream)) {
      if (info !== undefined) stream.on('close', () => info.settled(stream));
      stream.close(NGHTTP2_REFUSED_STREAM);
      return;
    }
    this.#ctx.track(stream);
    const head = splitRequestHead(raw);
    const refusal = this.#refusal(head);
    if (refusal !== undefined) {
      stream.on('close', () => info.settled(stream));
      respondWithError(stream, refusal);
      return;
    }
    const ctx = this.#ctx;
    const lifecycle = new RequestLifecycle();
    const sink = ctx.escapes === undefined ? new H2Sink(stream, ctx.log, ctx.deadlines) : new H2EscapeSink(stream, ctx.escapes);
    sink.onExpire = (kind) => lifecycle.expired(kind);
    info.opened(sink);
    // One 'close' listener does all the per-request bookkeeping: it runs for every request.
    // It takes itself off: node:http2 keeps closed streams reachable from its own session Map's
    // retired hash tables until a full GC (live-list.ts), and a listener left on the stream would
    // keep this request's whole graph (sink, environ, lifecycle) alive with it.
    const onClose = (): void => {
      stream.removeListener('close', onClose);
      sink.clock.stop();
      info.closed(sink);
      lifecycle.closed(sink.completed);
    };
    stream.on('close', onClose);
    let environ: Environ;
    try {
      environ = this.#environ(stream, head, info, sink, lifecycle.signal);
    } catch (err) {
      respondWithError(stream, err);
      return;
    }
    sink.environ = environ;
    const features = environ.features;
    const options = installOptions('HTTP/2', features.websocket, true, features.push, features.earlyHints);
    // A CONNECT tunnel, or an extended CONNECT for another protocol (SPEC §7.10).
    const protocols = head.method === 'CONNECT' && ctx.escapes !== undefined ? requestedH2(head.method, head.protocol) : [];
    lifecycle.serve(ctx, environ, sink, protocols.length === 0 ? options : { ...options, eligible: { ...options.eligible, upgrade: protocols } });
  }

  /** A request the app never sees: oversized, malformed or an unsupported CONNECT. */
  #refusal(head: H2RequestHead): Error | undefined {
    if (head.size > this.#limits.maxHeaderListSize) {
      // RFC 9113 §10.5.1; also covers requests that came before the client ACKed our SETTINGS.
      return httpError('ERR_HATCHWAY_HEADERS_TOO_LARGE');
    }
    if (head.method === 'CONNECT' && this.#ctx.escapes === undefined) {
      // Without the escapes nothing here can take a stream over: no tunnel (RFC 9113 §8.5), and
      // an extended CONNECT (RFC 8441 §4) only for the websocket the table then degrades. With
      // them a CONNECT reaches the app, whose upgrade escape may open the tunnel (SPEC §7.10).
      if (head.protocol === undefined) return httpError('ERR_HATCHWAY_CONNECT', 'CONNECT');
      if (head.protocol !== 'websocket') {
        return httpError('ERR_HATCHWAY_CONNECT', `extended CONNECT for ${JSON.stringify(head.protocol)}`);
      }
    }
    // RFC 9113 §8.3.1: http(s) requests carry an authority, and `host` may not contradict it.
    if (head.authority === undefined) return httpError('ERR_HATCHWAY_NO_AUTHORITY', 'request without :authority or host');
    if (head.authorityMismatch) return httpError('ERR_HATCHWAY_NO_AUTHORITY', ':authority and host disagree');
    return undefined;
  }

  #environ(stream: ServerHttp2Stream, head: H2RequestHead, info: SessionInfo, sink: H2Sink, signal: AbortSignal): Environ {
    const method = head.method;
    const contentLength = head.contentLength;
    // nghttp2 has already checked Content-Length against the DATA frames (RFC 9113 §8.1.1).
    const length = contentLength !== undefined ? Number(contentLength) : stream.endAfterHeaders ? 0 : undefined;
    return buildEnviron(this.#ctx, info, {
      method,
      scheme: info.scheme,
      target: head.path ?? head.authority!,
      protocol: 'HTTP/2',
      authority: head.authority!,
      headers: head.headers,
      streamId: stream.id,
      // A reset ends the readable side as END_STREAM does: the reader must tell them apart.
      input: new StreamBodyReader(stream, length, head.expectContinue ? () => sendContinue(stream) : undefined, () => bodyComplete(stream, sink)),
      features: {
        // The client's SETTINGS_ENABLE_PUSH (RFC 9113 §6.5.2); curl and browsers send 0.
        push: stream.pushAllowed,
        trailers: true,
        websocket: this.#ctx.enableConnectProtocol === true && isWebSocketH2(method, head.protocol, head.headers),
        earlyHints: true,
      },
      signal,
    });
  }
}

function noop(): void {}

/**
 * Did the request body end with END_STREAM? Node closes the stream (setting `aborted` or
 * `rstCode`) before it ends the readable side of a reset stream, so this holds at 'end'.
 */
function bodyComplete(stream: ServerHttp2Stream, sink: H2Sink): boolean {
  return !stream.aborted && !((stream.rstCode ?? 0) > 0) && !sink.gaveUp;
}

// RFC 9110 §10.1.1: the first read of the body answers `expect: 100-continue`.
function sendContinue(stream: ServerHttp2Stream): void {
  if (!stream.headersSent && !stream.destroyed) {
    try {
      stream.additionalHeaders({ ':status': 100 });
    } catch {
      // The stream went away in between; the body read reports it.
    }
  }
}
