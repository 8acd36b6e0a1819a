/**
 * Keeps HTTP/2 sessions inside their time limits, with one sweep timer for all of them
 * (the way `node:http` checks its connections), and closes them for graceful shutdown.
 *
 * `node:http2`'s own session timeout counts any byte as activity, so a client that dribbles
 * a header block (or pings) holds a session forever. Here:
 * - a session with no open stream for `sessionIdleTimeout` gets GOAWAY, whatever it sends;
 * - a session with no open stream that has been receiving bytes for `headersTimeout`
 *   without completing a request header block (slowloris, RFC 9113 §10.5) is closed;
 * - a stream whose request has not fully arrived within `requestTimeout`, while the app still
 *   waits for it (nothing committed), gets a 408. Once a response has begun the stream is the
 *   app's: gRPC bidirectional streams and RFC 8441 websockets keep their request side open.
 */
import { constants, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { httpError } from '../wire/errors.ts';
import type { H2Sink } from './http2-sink.ts';
import { LiveList } from './live-list.ts';

/** Per-connection facts every request on the session shares. */
export interface SessionInfo {
  readonly scheme: 'http' | 'https';
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Counts the request's stream as open, and applies the request timeout to it. */
  opened(sink: H2Sink): void;
  /** The request's stream closed (counts a reset as {@link settled} does). */
  closed(sink: H2Sink): void;
  /**
   * A stream that never opened a request (refused, or answered before the app) closed: a
   * peer's RST_STREAM counts against the session's reset budget all the same.
   */
  settled(stream: ServerHttp2Stream): void;
  /**
   * May this stream reach the app? Not once the session is destroyed (Node emits 'stream' a
   * tick late, so streams of a session it already tore down still arrive), nor above the
   * last-stream-id of a GOAWAY this server sent (RFC 9113 §6.8: the client may retry those
   * elsewhere, so running them here could run them twice).
   */
  admits(stream: ServerHttp2Stream): boolean;
}

/** The time limits the watch enforces, in ms (0 = none). */
export interface SessionLimits {
  sessionIdleTimeout: number;
  headersTimeout: number;
  requestTimeout: number;
}

const noop = (): void => {};
const MAX_STREAM_ID = 2 ** 31 - 1;
/** Peer resets a session may burst, and how many a second refill (nghttp2: 1000 and 33). */
const RESET_BURST = 400;
const RESET_RATE = 33;

class Watched implements SessionInfo {
  readonly session: ServerHttp2Session;
  readonly scheme: 'http' | 'https';
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Open streams, by their sink (each knows when it opened). */
  readonly streams = new LiveList<H2Sink>();
  idleSince = Date.now();
  /** Bytes read when the session was last seen idle and quiet; -1: take it at the next sweep. */
  bytesMark = -1;
  /** When bytes started arriving with no stream open; 0 = not receiving. */
  receivingSince = 0;
  /** When the sweep sent GOAWAY to this idle session; 0 = not yet. */
  goawaySince = 0;
  /** The last-stream-id of the rapid-reset GOAWAY this session got; streams above never run. */
  lastStreamId = MAX_STREAM_ID;
  /** The highest stream id that reached the app. */
  highestAdmitted = 0;
  /** Reset tokens left (a bucket of RESET_BURST refilled at RESET_RATE a second) and when counted. */
  resetTokens = RESET_BURST;
  resetStamp = Date.now();

  /** The connection under the session (its `socket` property is a proxy that refuses writes). */
  readonly socket: Socket | undefined;
  /** The held protocol-error destroy ({@link keepOnStreamError}), told of PROTOCOL_ERROR resets. */
  readonly guard: ProtoGuard;

  constructor(session: ServerHttp2Session, connection: Socket | undefined) {
    this.session = session;
    this.guard = keepOnStreamError(session);
    this.socket = connection;
    const socket = session.socket;
    // The connection says whether TLS carried it; `:scheme` is the client's claim.
    this.scheme = session.encrypted ? 'https' : 'http';
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = socket.localAddress ?? '';
    this.localPort = socket.localPort ?? 0;
  }

  bytesRead(): number {
    return this.session.socket?.bytesRead ?? 0;
  }

  opened(sink: H2Sink): void {
    sink.openedAt = Date.now();
    this.streams.add(sink);
    this.receivingSince = 0;
  }

  admits(stream: ServerHttp2Stream): boolean {
    const id = stream.id ?? 0;
    if (this.session.destroyed || stream.destroyed || id > this.lastStreamId) return false;
    if (id > this.highestAdmitted) this.highestAdmitted = id;
    return true;
  }

  /**
   * A stream closed with RST_STREAM. Rapid reset (CVE-2023-44487): nghttp2 has a bucket of
   * its own (1000, 33/s), but the GOAWAY it queues names the last stream it had *received*,
   * and the streams it goes on accepting until that GOAWAY is written still reach the app.
   * This bucket is smaller and refills as fast, so it runs out first; then the GOAWAY names
   * the last stream the app saw, and {@link admits} holds every stream above it back.
   */
  reset(): void {
    const now = Date.now();
    this.resetTokens = Math.min(RESET_BURST, this.resetTokens + ((now - this.resetStamp) / 1000) * RESET_RATE);
    this.resetStamp = now;
    if (--this.resetTokens >= 0 || this.lastStreamId !== MAX_STREAM_ID || this.session.destroyed) return;
    this.lastStreamId = this.highestAdmitted;
    this.session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM, this.highestAdmitted);
    // Nothing a rapid-reset client still has in flight is worth keeping the connection for.
    // The connection goes, not the session: session.destroy() would send a GOAWAY of its own
    // naming the last stream nghttp2 processed, higher than ours (§6.8: it must not increase).
    setTimeout(() => (this.socket ?? this.session).destroy(), 100).unref();
  }

  settled(stream: ServerHttp2Stream): void {
    const code = stream.rstCode;
    if (code === undefined || code === constants.NGHTTP2_NO_ERROR) return;
    this.guard.reset(code);
    this.reset();
  }

  closed(sink: H2Sink): void {
    this.settled(sink.stream);
    this.streams.delete(sink);
    if (this.streams.size === 0) {
      this.idleSince = Date.now();
      // Frames that trail a response (WINDOW_UPDATE, RST_STREAM) are not a new request.
      this.bytesMark = -1;
      this.receivingSince = 0;
    }
  }
}

/** The set of live sessions and their sweep timer. */
export class SessionWatch {
  readonly #sessions = new Map<ServerHttp2Session, Watched>();
  readonly #limits: SessionLimits;
  readonly #period: number;
  #timer: NodeJS.Timeout | undefined;
  #closing = false;

  constructor(limits: SessionLimits) {
    this.#limits = limits;
    const shortest = Math.min(...[limits.sessionIdleTimeout, limits.headersTimeout, limits.requestTimeout].filter((t) => t > 0), 4_000);
    this.#period = Math.max(25, Math.min(1_000, Math.floor(shortest / 4)));
  }

  get size(): number {
    return this.#sessions.size;
  }

  get(session: ServerHttp2Session): SessionInfo | undefined {
    return this.#sessions.get(session);
  }

  add(session: ServerHttp2Session, socket?: Socket): void {
    // A session without an 'error' listener would crash the process on a peer's protocol error.
    session.on('error', noop);
    // A stream's close reaches the watch through the front-end (closed, settled), which finds
    // the watch through `stream.session`. A stream destroyed before Node emits it (a
    // content-length mismatch in the same read as its headers: RST_STREAM PROTOCOL_ERROR) has
    // no session any more, so its reset is counted here — only then is a listener added.
    const watched = new Watched(session, socket);
    session.on('stream', (stream: ServerHttp2Stream) => {
      if (stream.session === undefined) stream.once('close', () => watched.settled(stream));
    });
    this.#sessions.set(session, watched);
    session.once('close', () => {
      this.#sessions.delete(session);
      if (this.#sessions.size === 0 && this.#timer !== undefined) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    });
    // PING and SETTINGS are liveness, not a header block in progress.
    const quiet = (): void => {
      if (watched.streams.size === 0) {
        watched.bytesMark = -1;
        watched.receivingSince = 0;
      }
    };
    session.on('ping', quiet);
    session.on('remoteSettings', quiet);
    if (this.#closing) {
      session.close();
      return;
    }
    this.#timer ??= setInterval(() => this.#sweep(), this.#period).unref();
  }

  /**
   * Graceful shutdown in two phases (RFC 9113 §6.8): a GOAWAY with last-stream-id 2^31−1 and
   * a PING first; once the PING comes back, every stream the client opened before it saw the
   * first GOAWAY has arrived, and `close()` sends the real GOAWAY (node:http2 names the last
   * stream nghttp2 processed) and closes the session once those streams are done.
   */
  closeAll(): void {
    this.#closing = true;
    for (const w of this.#sessions.values()) shutDown(w);
  }

  destroyAll(): void {
    for (const session of this.#sessions.keys()) session.destroy();
  }

  #sweep(): void {
    const now = Date.now();
    const { sessionIdleTimeout, headersTimeout, requestTimeout } = this.#limits;
    for (const w of this.#sessions.values()) {
      const session = w.session;
      if (session.destroyed) continue;
      if (session.closed) {
        // A GOAWAYed session whose socket does not drain (a TCP stall: the client stopped
        // reading) would never finish closing: it goes after one more idle period.
        if (w.goawaySince !== 0 && w.streams.size === 0 && now - w.goawaySince >= Math.max(1_000, sessionIdleTimeout)) session.destroy();
        continue;
      }
      if (w.streams.size === 0) {
        if (sessionIdleTimeout > 0 && now - w.idleSince >= sessionIdleTimeout) {
          w.goawaySince = now;
          session.close();
          continue;
        }
        const read = w.bytesRead();
        if (w.bytesMark === -1) w.bytesMark = read;
        else if (read !== w.bytesMark) {
          w.bytesMark = read;
          if (w.receivingSince === 0) w.receivingSince = now;
        }
        if (headersTimeout > 0 && w.receivingSince !== 0 && now - w.receivingSince >= headersTimeout) {
          // GOAWAY with ENHANCE_YOUR_CALM, then the connection goes: nothing is in flight.
          session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
          session.destroy();
        }
        continue;
      }
      if (requestTimeout <= 0) continue;
      for (const sink of w.streams) {
        const stream = sink.stream;
        if (now - sink.openedAt < requestTimeout || stream.destroyed || stream.closed) continue;
        // Only a request still arriving is late; a slow app is not the client's fault, and a
        // response under way means the app took the exchange on as a stream.
        if (sink.committed || stream.endAfterHeaders || stream.state.remoteClose) continue;
        sink.giveUp(httpError('ERR_HATCHWAY_REQUEST_TIMEOUT'));
      }
    }
  }
}

/** nghttp2's NGHTTP2_ERR_PROTO, as Node's `NghttpError` carries it in `errno`. */
const NGHTTP2_ERR_PROTO = -505;
/** How long a session's protocol error waits to be claimed by one of its streams' resets. */
const PROTO_HOLD_MS = 20;

/**
 * Node 24 destroys the whole session (GOAWAY INTERNAL_ERROR, every sibling stream reset) on
 * any NGHTTP2_ERR_PROTO that nghttp2 reports, even one nghttp2 handled as a stream error with
 * its own RST_STREAM PROTOCOL_ERROR — a content-length mismatch (RFC 9113 §8.1.1: "malformed",
 * a stream error, §8.1.1 and §5.4.2). So that destroy is held for a moment: if a stream of
 * the session closes with PROTOCOL_ERROR meanwhile, the error was that stream's and the
 * session lives on; otherwise (a connection error: nghttp2 already sent its GOAWAY) the
 * session is destroyed as Node would have.
 */
interface ProtoGuard {
  /** A stream of the session closed with RST_STREAM `code`. */
  reset(code: number): void;
}

function keepOnStreamError(session: ServerHttp2Session): ProtoGuard {
  const destroy = session.destroy.bind(session);
  let held: NodeJS.Timeout | undefined;
  let claimed = false;
  const guarded = (err?: Error, code?: number): ServerHttp2Session => {
    if (err == null || (err as NodeJS.ErrnoException).errno !== NGHTTP2_ERR_PROTO || session.destroyed) {
      if (held !== undefined) clearTimeout(held);
      held = undefined;
      destroy(err, code);
      return session;
    }
    if (held !== undefined) return session;
    claimed = false;
    held = setTimeout(() => {
      held = undefined;
      if (!claimed && !session.destroyed) destroy(err, code);
    }, PROTO_HOLD_MS);
    held.unref();
    return session;
  };
  Object.defineProperty(session, 'destroy', { value: guarded, configurable: true, writable: true });
  return {
    reset(code) {
      if (held !== undefined && code === constants.NGHTTP2_PROTOCOL_ERROR) claimed = true;
    },
  };
}

/** How long the second GOAWAY waits for the shutdown notice's PING to come back. */
const NOTICE_PING_TIMEOUT = 1_000;

/**
 * The shutdown notice (nghttp2's `nghttp2_submit_shutdown_notice`, which Node does not expose):
 * a GOAWAY frame with NO_ERROR and last-stream-id 2^31−1. `session.goaway()` cannot send it:
 * nghttp2 takes any GOAWAY it submits as final and silently drops every stream opened after
 * it — the streams in flight that §6.8's first GOAWAY exists to save. Written straight to the
 * connection between nghttp2's writes (each a run of whole frames, queued in order on the
 * same libuv stream), nghttp2 never learns of it and goes on accepting streams until the real
 * GOAWAY. Cleartext (h2c) only; see {@link shutDown}.
 */
const SHUTDOWN_NOTICE = Buffer.from([0, 0, 8, 0x7, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

function shutDown(w: Watched): void {
  const { session, socket } = w;
  if (session.closed || session.destroyed) return;
  // Over TLS a second writer would break TLSWrap's one-write-at-a-time rule (a native abort
  // was seen here): TLS sessions get the single GOAWAY.
  if (socket === undefined || session.encrypted || !socket.writable || socket.destroyed) {
    session.close();
    return;
  }
  socket.write(SHUTDOWN_NOTICE);
  let done = false;
  const close = (): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    if (!session.closed && !session.destroyed) session.close();
  };
  const timer = setTimeout(close, NOTICE_PING_TIMEOUT).unref();
  try {
    if (!session.ping(close)) close();
  } catch {
    close();
  }
}
