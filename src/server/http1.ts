/**
 * The HTTP/1.x front-end on `node:http`: maps an `IncomingMessage` to an environ, and a
 * `ServerResponse` to the runner's {@link ResponseSink}. Framing (keep-alive, chunked,
 * Content-Length) is `node:http`'s; the rules about *what* to send are the runner's.
 */
import { createReadStream } from 'node:fs';
import { STATUS_CODES, ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { ResponseSink } from '../gateway/run.ts';
import type { FileBody } from '../gateway/body.ts';
import { errorResponse, formatError } from '../gateway/error-response.ts';
import { headerHasToken, isValidHost } from '../protocol/headers.ts';
import { isWebSocketH1 } from '../protocol/websocket.ts';
import type { EscapeCapableSink } from '../escapes/sink.ts';
import type { WebSocketRegistration } from '../escapes/websocket.ts';
import type { WebSocketEngine } from './websocket.ts';
import type { Chunk, Environ, ErrorStream, HeaderList, Protocol } from '../gateway/types.ts';
import { StreamBodyReader } from './body-reader.ts';
import { whenDrained } from './drain.ts';
import { buildEnviron } from './environ.ts';
import { RequestLifecycle, installOptions, type RequestHost } from './lifecycle.ts';
import type { InstallOptions } from '../escapes/install.ts';
import type { UpgradeRegistration } from '../escapes/upgrade.ts';
import { requestedH1 } from '../protocol/upgrade.ts';
import { CONNECTION_SPECIFIC } from '../protocol/fields.ts';
import type { Duplex } from 'node:stream';
import type { TunnelEngine } from './tunnel.ts';
import { NO_DEADLINES, type Clock, type Watched } from './deadline.ts';
import { httpError } from '../wire/errors.ts';

// scheme "://" [ userinfo "@" ] authority — the authority ends at the path, query or fragment.
const ABSOLUTE_AUTHORITY = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#@]*@)?([^/?#]*)/i;

// RFC 3986 §3.2.2 host (IP-literal or reg-name, percent-encoding allowed) and an optional port.

/** What the HTTP/1 front-end needs from the server that owns it. */
export interface H1Context extends RequestHost {
  /** True once the server is shutting down: responses then close their connection. */
  closing: boolean;
  /** The websocket engine (created on the first upgrade). */
  websockets(): WebSocketEngine;
  /** The upgraded connections (created on the first switch, SPEC §7.10). */
  tunnels(): TunnelEngine;
}

/** An HTTP/1.1 request that arrived on node:http's `'upgrade'` or `'connect'` event. */
interface UpgradeContext {
  socket: Socket;
  head: Buffer;
  upgraded: boolean;
  /** The client ended its side before the switch (a client that left, or half-closed early). */
  ended: boolean;
  /** Stops reading ahead; returns `head` and every byte that came after it, to be replayed. */
  take(): Buffer;
}

// Bytes read ahead of the switch, at most (then the socket is paused: backpressure).
const READ_AHEAD = 64 * 1024;

/**
 * Reads the socket until the switch, so that a client that leaves before it is seen (its
 * FIN); what it sent meanwhile is kept and replayed first after the switch.
 */
function readAhead(socket: Socket, head: Buffer): UpgradeContext {
  const parts = [head];
  let size = head.byteLength;
  const onData = (chunk: Buffer): void => {
    parts.push(chunk);
    size += chunk.byteLength;
    if (size > READ_AHEAD) socket.pause();
  };
  const onEnd = (): void => {
    ctx.ended = true;
  };
  socket.on('data', onData);
  socket.once('end', onEnd);
  const ctx: UpgradeContext = {
    socket,
    head,
    upgraded: false,
    ended: false,
    take() {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    },
  };
  return ctx;
}

/**
 * Handles a request that asked to upgrade, or a CONNECT (node:http's `'upgrade'` and
 * `'connect'` events). It runs through the same pipeline as any other (so auth middleware can
 * answer 401 or 407); the socket is node:http's no more, so the response is written through a
 * ServerResponse of our own and the connection closes after it — unless a websocket or
 * upgrade escape is honoured, which takes the socket over.
 */
export function handleH1Upgrade(ctx: H1Context, req: IncomingMessage, socket: Socket, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const res = new ServerResponse(req);
  res.assignSocket(socket);
  res.shouldKeepAlive = false;
  res.on('finish', () => socket.end());
  handleH1(ctx, req, res, false, readAhead(socket, head));
}

/** Handles one request; `expectContinue` is set for requests that carry `Expect: 100-continue`. */
export function handleH1(ctx: H1Context, req: IncomingMessage, res: ServerResponse, expectContinue: boolean, upgrade?: UpgradeContext): void {
  ctx.track(res);
  const lifecycle = new RequestLifecycle();
  const sink = new H1Sink(res, ctx, req, upgrade);
  let environ: Environ;
  try {
    environ = environFor(ctx, req, res, expectContinue, lifecycle.signal);
  } catch (err) {
    res.once('close', () => sink.clock.stop());
    // A refused request's body is not read (its framing may be what was refused): close after.
    res.shouldKeepAlive = false;
    const e = errorResponse(err);
    sink.head(e.status, undefined, e.headers, undefined);
    sink.end(e.body);
    return;
  }
  sink.errors = environ.errors;
  sink.onExpire = (kind) => lifecycle.expired(kind);
  const input = environ.input as StreamBodyReader;
  res.once('finish', () => {
    if (!req.complete) input.discard();
  });
  const features = environ.features;
  const websocket = upgrade !== undefined && isWebSocketH1(environ.method, environ.headers);
  features.websocket = websocket;
  // What else it asks to switch to (SPEC §7.10): an Upgrade token, or a CONNECT tunnel.
  const protocols = upgrade !== undefined && !websocket ? requestedH1(environ.method, environ.headers) : [];
  const options = installOptions('HTTP/1', websocket, features.trailers, false, features.earlyHints);
  const install = protocols.length === 0 ? options : withUpgrade(options, protocols);
  // Pipelined requests of one connection run the app MAX_PIPELINE at a time (nginx and gunicorn
  // answer them one by one): node:http dispatches every request it has parsed at once, so a
  // client that writes thousands and never reads would run the app thousands of times.
  const pipeline = upgrade === undefined ? pipelineOf(req.socket) : undefined;
  // Set only while the request waits its turn: the one closure a waiting request costs.
  let waiting: (() => void) | undefined;
  res.on('close', () => {
    sink.clock.stop();
    // A websocket takeover releases once onSocket ran (SPEC §7.2); the socket's end is the
    // backstop should the handshake never complete. The request was not aborted: it moved.
    if (upgrade?.upgraded) upgrade.socket.once('close', () => lifecycle.release());
    else lifecycle.closed(res.writableFinished);
    if (pipeline === undefined) return;
    if (waiting !== undefined) pipeline.waiting.delete(waiting); // it never started
    else {
      pipeline.active--;
      admitWaiting(req.socket, pipeline);
    }
  });
  if (pipeline === undefined || pipeline.active < MAX_PIPELINE) {
    if (pipeline !== undefined) pipeline.active++;
    lifecycle.serve(ctx, environ, sink, install);
    return;
  }
  waiting = () => {
    waiting = undefined;
    pipeline.active++;
    lifecycle.serve(ctx, environ, sink, install);
  };
  pipeline.waiting.add(waiting);
}

/** Requests of one connection the app runs at once; the rest of a pipeline waits its turn. */
const MAX_PIPELINE = 16;
const PIPELINE = Symbol('hatchway.h1.pipeline');

interface Pipeline {
  active: number;
  waiting: Set<() => void>;
  /** Waiting for the socket's 'drain' to start more. */
  draining: boolean;
}

function pipelineOf(socket: Socket & { [PIPELINE]?: Pipeline }): Pipeline {
  return (socket[PIPELINE] ??= { active: 0, waiting: new Set(), draining: false });
}

/**
 * Starts waiting requests of a pipeline while there is room. A connection that went away takes
 * its waiting requests with it; one whose client does not read (its answers pile up in the
 * socket's buffer) starts the next only once that buffer drains, so the app is not run ahead
 * of a reader that takes nothing.
 */
function admitWaiting(socket: Socket, pipeline: Pipeline): void {
  if (socket.destroyed) return void pipeline.waiting.clear();
  if (socket.writableNeedDrain) {
    if (!pipeline.draining) {
      pipeline.draining = true;
      socket.once('drain', () => {
        pipeline.draining = false;
        admitWaiting(socket, pipeline);
      });
    }
    return;
  }
  for (const next of pipeline.waiting) {
    if (pipeline.active >= MAX_PIPELINE) break;
    pipeline.waiting.delete(next);
    next();
  }
}

function environFor(ctx: H1Context, req: IncomingMessage, res: ServerResponse, expectContinue: boolean, signal: AbortSignal): Environ {
  const raw = req.rawHeaders;
  const headers: HeaderList = new Array(raw.length >> 1);
  let authority = '';
  let contentLength: string | undefined;
  let te: string | undefined;
  let chunked = false;
  let hosts = 0;
  // One walk over rawHeaders: touching req.headers would make node:http build its own object too.
  for (let i = 0, j = 0; i < raw.length; i += 2, j++) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    headers[j] = [name, value];
    if (name === 'host') {
      authority = value;
      hosts++;
    } else if (name === 'content-length') contentLength = value;
    else if (name === 'te') te = te === undefined ? value : `${te}, ${value}`;
    else if (name === 'transfer-encoding') {
      // node:http takes `identity` or `xchunked` as no coding at all; nginx answers 501 (RFC
      // 9112 §6.1: a coding the server does not understand). Only `chunked` is understood.
      if (value.trim().toLowerCase() !== 'chunked') throw httpError('ERR_HATCHWAY_TRANSFER_CODING', value);
      chunked = true;
    }
  }
  // RFC 9112 §3.2: a request with more than one Host, or an invalid one, gets a 400.
  if (hosts > 1) throw httpError('ERR_HATCHWAY_BAD_HOST', 'more than one Host field');
  if (hosts === 1 && !isValidHost(authority)) throw httpError('ERR_HATCHWAY_BAD_HOST', 'invalid Host');
  const method = req.method!;
  const target = req.url!;
  // RFC 9112 §3.2.2: with an absolute-form target the authority is the target's, not Host's.
  const absolute = target[0] !== '/' && method !== 'CONNECT' ? ABSOLUTE_AUTHORITY.exec(target) : null;
  if (absolute !== null) authority = absolute[1]!;
  const socket = req.socket;
  const length = chunked ? undefined : contentLength === undefined ? 0 : Number(contentLength);
  const protocol: Protocol = req.httpVersion === '1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
  return buildEnviron(ctx, socket, {
    method,
    scheme: (socket as { encrypted?: boolean }).encrypted ? 'https' : 'http',
    target,
    protocol,
    authority,
    headers,
    streamId: undefined,
    // No 100 once the final head is out (RFC 9110 §10.1.1): node:http would throw, and the
    // client reads the final response instead.
    input: new StreamBodyReader(req, length, expectContinue ? () => res.headersSent || res.writeContinue() : undefined),
    features: {
      push: false,
      trailers: protocol === 'HTTP/1.1' && headerHasToken(te, 'trailers'),
      websocket: false,
      earlyHints: protocol === 'HTTP/1.1',
    },
    signal,
  });
}

/** The eligibility of a request that asks to switch to `protocols` (rare: one object for it). */
function withUpgrade(options: InstallOptions, protocols: readonly string[]): InstallOptions {
  return { ...options, eligible: { ...options.eligible, upgrade: protocols } };
}

// Fields a switching response never carries: the connection's own, and framing (RFC 9110
// §9.3.6: no Content-Length or Transfer-Encoding in a 2xx to CONNECT; a 101 has no content).
const NOT_ON_SWITCH: ReadonlySet<string> = new Set([...CONNECTION_SPECIFIC, 'content-length', 'trailer']);

/** The head of a switch: `101` + `Upgrade: <protocol>` (RFC 9110 §15.2.2), or a CONNECT's `200` (`protocol` undefined). */
function switchHead(protocol: string | undefined, headers: HeaderList): string {
  let head = protocol === undefined ? 'HTTP/1.1 200 Connection Established\r\n' : `HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: ${protocol}\r\n`;
  for (const [name, value] of headers) if (!NOT_ON_SWITCH.has(name.toLowerCase())) head += `${name}: ${value}\r\n`;
  return head + '\r\n';
}

/** The runner's view of a `ServerResponse`. */
export class H1Sink implements ResponseSink, EscapeCapableSink, Watched {
  readonly #res: ServerResponse;
  /** The response and send deadlines of this response (`deadline.ts`). */
  readonly clock: Clock;
  /** Told when a deadline passed, after the sink answered or aborted. */
  onExpire: ((kind: 'response' | 'send') => void) | undefined;
  #committed = false;
  readonly #ctx: H1Context;
  readonly #req: IncomingMessage;
  readonly #upgrade: UpgradeContext | undefined;
  /** The request's error stream, once the environ exists. */
  errors: ErrorStream | undefined;
  /** node:http refused the head and a 500 went out instead: the runner's response is void. */
  #refused = false;
  constructor(res: ServerResponse, ctx: H1Context, req: IncomingMessage, upgrade?: UpgradeContext) {
    this.#res = res;
    this.#ctx = ctx;
    this.#req = req;
    this.#upgrade = upgrade;
    this.clock = (ctx.deadlines ?? NO_DEADLINES).clock(this);
  }

  // Watched (deadline.ts): the bytes the kernel took are those written minus those still queued.
  progress(): number {
    const socket = this.#res.socket;
    return socket ? (socket.bytesWritten ?? 0) - socket.writableLength : 0;
  }

  pending(): boolean {
    const socket = this.#res.socket;
    return socket !== null && !socket.destroyed && (socket.writableLength > 0 || this.#res.writableLength > 0);
  }

  expire(kind: 'response' | 'send'): void {
    if (kind === 'response' && !this.#committed && !this.#res.headersSent && !this.closed) this.#giveUp(httpError('ERR_HATCHWAY_RESPONSE_TIMEOUT'));
    else this.abort();
    this.onExpire?.(kind);
  }

  /** Answers in the app's place (nothing was committed): the error response, then the connection closes. */
  #giveUp(err: unknown): void {
    this.#refused = true;
    const res = this.#res;
    res.shouldKeepAlive = false;
    const e = errorResponse(err);
    res.writeHead(e.status, STATUS_CODES[e.status] ?? 'Error', e.headers.flat());
    res.end(this.#req.method === 'HEAD' ? undefined : e.body);
  }

  /**
   * Completes the websocket handshake on the upgraded socket. Usable only on requests that
   * arrived as upgrades (SPEC §7.5): the escape sink offers it where `eligible.websocket` is set.
   */
  acceptWebSocket(headers: HeaderList, registration: WebSocketRegistration, environ: Environ, onSocket: (ws: WebSocket) => void): void {
    const upgrade = this.#upgrade!;
    upgrade.upgraded = true;
    // The websocket's keep-alive and idle timeout bound it from here (websocket.ts).
    this.clock.stop();
    this.#res.detachSocket(upgrade.socket);
    // The response object is done with: let shutdown tracking see it end.
    this.#res.emit('close');
    try {
      this.#ctx.websockets().upgrade(this.#req, upgrade.socket, upgrade.take(), { headers, registration, environ }, onSocket);
      // ws attached its reader (synchronously); the read-ahead left the socket paused.
      upgrade.socket.resume();
    } catch (err) {
      // The socket is ours alone now: a failure must answer and close it, not leave it open.
      if (!upgrade.socket.destroyed) upgrade.socket.end('HTTP/1.1 500 Internal Server Error\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      throw err;
    }
  }

  /**
   * Switches the upgraded socket (SPEC §7.10): a `101` with `Upgrade: <protocol>`, or the
   * `200` of a CONNECT, with the middleware's fields; then the socket, with the bytes that
   * came after the request head first, goes to `onConnection`. A client that left before
   * the switch gets nothing, and `onConnection` never runs.
   */
  acceptUpgrade(headers: HeaderList, protocol: string, _registration: UpgradeRegistration, environ: Environ, onConnection: (duplex: Duplex) => void): void {
    const upgrade = this.#upgrade!;
    const socket = upgrade.socket;
    upgrade.upgraded = true;
    // The tunnel's idle timeout and send-queue cap bound it from here (tunnel.ts).
    this.clock.stop();
    this.#res.detachSocket(socket);
    this.#res.emit('close');
    const head = upgrade.take();
    // A client that ended its side before the switch has left (or will send nothing): no switch.
    if (socket.destroyed || !socket.writable || upgrade.ended) {
      socket.destroy();
      return;
    }
    socket.write(switchHead(this.#req.method === 'CONNECT' ? undefined : protocol, headers));
    onConnection(this.#ctx.tunnels().fromSocket(socket, head, environ));
  }

  earlyHints(links: string[]): void {
    // RFC 8297; node:http writes `HTTP/1.1 103 Early Hints` with the links.
    if (!this.#res.headersSent && !this.#res.destroyed) this.#res.writeEarlyHints({ link: links });
  }

  get closed(): boolean {
    return this.#refused || this.#res.destroyed;
  }

  head(status: number, reason: string | undefined, headers: HeaderList, length: number | undefined): void {
    const flat: string[] = [];
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i]!;
      flat.push(h[0], h[1]);
    }
    if (length !== undefined) flat.push('content-length', String(length));
    this.#committed = true;
    this.clock.app();
    if (this.#ctx.closing) this.#res.shouldKeepAlive = false;
    try {
      if (reason === undefined) this.#res.writeHead(status, flat);
      else this.#res.writeHead(status, reason, flat);
    } catch (err) {
      this.#refuse(err);
    }
  }

  /**
   * node:http checks header bytes more strictly than the runner's rules: it also refuses
   * control characters and characters above U+00FF in values and in the reason phrase
   * (ERR_INVALID_CHAR). Nothing is on the wire yet, so the client gets a 500, and the sink
   * reports itself closed so the runner stops and closes the body.
   */
  #refuse(err: unknown): void {
    this.#refused = true;
    const line = formatError(err);
    if (this.errors) this.errors.write(line);
    else this.#ctx.log(line);
    const res = this.#res;
    // A refused writeHead may have stored the headers before the bad one.
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    const e = errorResponse(err);
    // The refused reason phrase, if that was the bad part, is still on `res`: replace it.
    res.writeHead(e.status, STATUS_CODES[e.status] ?? 'Error', e.headers.flat());
    res.end(e.body);
  }

  write(chunk: Chunk): boolean {
    if (this.#refused) return true;
    const accepted = this.#res.write(chunk);
    if (accepted) this.clock.app();
    else this.clock.send();
    return accepted;
  }

  async drained(): Promise<void> {
    await whenDrained(this.#res);
    this.clock.app();
  }

  end(chunk?: Chunk, trailers?: HeaderList): void {
    if (this.#refused) return;
    this.clock.send();
    if (trailers !== undefined && trailers.length > 0) this.#res.addTrailers(trailers);
    if (chunk === undefined) this.#res.end();
    else this.#res.end(chunk);
  }

  async file(status: number, reason: string | undefined, headers: HeaderList, body: FileBody, size: number, bodyless: boolean): Promise<void> {
    this.head(status, reason, headers, size);
    if (this.#refused) return;
    this.clock.send();
    if (bodyless || size === 0) {
      this.#res.end();
      return;
    }
    // pipe(), not stream.pipeline(): pipeline makes an AbortController (and its DOMException)
    // per file, a measurable share of a small file's cost; the two outcomes it handled are here.
    const res = this.#res;
    await new Promise<void>((resolve, reject) => {
      const file = createReadStream(body.path, { start: body.start, end: body.start + size - 1 });
      const done = (): void => {
        res.off('finish', done);
        res.off('close', done);
        // The client went away (close before finish): the same quiet end as a streamed body
        // whose sink closed, not a server error to log.
        if (!file.destroyed) file.destroy();
        resolve();
      };
      file.once('error', (err) => {
        res.off('finish', done);
        res.off('close', done);
        reject(err); // a failing file read rejects: the runner aborts the response
      });
      res.once('finish', done);
      res.once('close', done);
      file.pipe(res);
    });
  }

  abort(): void {
    if (this.#refused) return;
    // node:http corks the socket until the next tick: flush what was written before the
    // reset, so the client sees a truncated response (no last chunk, or fewer bytes than
    // Content-Length) with the bytes it was sent, not an empty reply.
    const socket = this.#res.socket;
    if (socket) while (socket.writableCorked > 0) socket.uncork();
    this.#res.destroy();
  }
}
