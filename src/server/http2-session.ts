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
import { constants, type ServerHttp2Session } from 'node:http2';
import { httpError } from '../wire/errors.ts';
import type { H2Sink } from './http2-sink.ts';

/** Per-connection facts every request on the session shares. */
export interface SessionInfo {
  readonly scheme: 'http' | 'https';
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Counts the request's stream as open, and applies the request timeout to it. */
  opened(sink: H2Sink): void;
  /** The request's stream closed. */
  closed(sink: H2Sink): void;
}

/** The time limits the watch enforces, in ms (0 = none). */
export interface SessionLimits {
  sessionIdleTimeout: number;
  headersTimeout: number;
  requestTimeout: number;
}

const noop = (): void => {};

class Watched implements SessionInfo {
  readonly session: ServerHttp2Session;
  readonly scheme: 'http' | 'https';
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Open streams, by their sink, and when each opened. */
  readonly streams = new Map<H2Sink, number>();
  idleSince = Date.now();
  /** Bytes read when the session was last seen idle and quiet; -1: take it at the next sweep. */
  bytesMark = -1;
  /** When bytes started arriving with no stream open; 0 = not receiving. */
  receivingSince = 0;
  /** When the sweep sent GOAWAY to this idle session; 0 = not yet. */
  goawaySince = 0;

  constructor(session: ServerHttp2Session) {
    this.session = session;
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
    this.streams.set(sink, Date.now());
    this.receivingSince = 0;
  }

  closed(sink: H2Sink): void {
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

  add(session: ServerHttp2Session): void {
    // A session without an 'error' listener would crash the process on a peer's protocol error.
    session.on('error', noop);
    const watched = new Watched(session);
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

  /** Sends GOAWAY on every session; each closes once its streams are done. */
  closeAll(): void {
    this.#closing = true;
    for (const session of this.#sessions.keys()) session.close();
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
      for (const [sink, openedAt] of w.streams) {
        const stream = sink.stream;
        if (now - openedAt < requestTimeout || stream.destroyed || stream.closed) continue;
        // Only a request still arriving is late; a slow app is not the client's fault, and a
        // response under way means the app took the exchange on as a stream.
        if (sink.committed || stream.endAfterHeaders || stream.state.remoteClose) continue;
        sink.giveUp(httpError('ERR_HATCHWAY_REQUEST_TIMEOUT'));
      }
    }
  }
}
