/**
 * The deadlines after a request is read (SPEC §5.7), one sweep timer for every exchange of a
 * server (the way `node:http` checks its connections):
 *
 * - **response deadline** (`responseTimeout`): the app must produce the head within it, and
 *   after the commit no stall *between two writes* may last longer. It measures the app, not
 *   the response: a body that streams for an hour, one chunk a minute apart with a 60 s
 *   deadline, keeps going. Past it: a 504 before the commit, an aborted response after it.
 * - **send deadline** (`sendTimeout`, nginx's `send_timeout`): while the server has bytes for
 *   the client that the transport has not taken — a socket that does not drain, an HTTP/2
 *   stream at zero window, a TCP stall under HTTP/2 — the transport must make progress
 *   within it. Past it the response is aborted (connection reset, RST_STREAM).
 *
 * A takeover is the app's own: a websocket stops both clocks (its keep-alive ping and idle
 * timeout bound it instead); an `upgradeTo` handler keeps only the send deadline, so one that
 * streams, or waits for its peer, is never cut off, but one whose peer stopped reading is.
 */

import { LiveList, type Linked } from './live-list.ts';

/** What a clock watches: one response's sink. */
export interface Watched {
  /** A number that changes whenever the transport takes bytes of this response. */
  progress(): number;
  /** True while the server holds bytes for the client that the transport has not taken. */
  pending(): boolean;
  /** A deadline passed: answer (before the commit) or abort (after it). */
  expire(kind: 'response' | 'send'): void;
}

const OFF = 0;
/** Waiting for the app: the response deadline runs. */
const APP = 1;
/** Waiting for the transport: the send deadline runs while bytes are pending. */
const SEND = 2;

/** One response's clock. Cheap: a few fields, no timer of its own. */
export class Clock implements Linked<Clock> {
  readonly #deadlines: Deadlines;
  readonly watched: Watched;
  phase = OFF;
  since = 0;
  mark = 0;
  prev: Clock | undefined = undefined;
  next: Clock | undefined = undefined;
  listed = false;

  constructor(deadlines: Deadlines, watched: Watched) {
    this.#deadlines = deadlines;
    this.watched = watched;
  }

  /** The server now waits for the app (before the head, or between two writes). */
  app(): void {
    if (this.phase === APP) {
      this.since = Date.now();
      return;
    }
    this.#enter(APP);
  }

  /** The server now waits for the transport to take what was written. */
  send(): void {
    if (this.phase === SEND) return;
    this.#enter(SEND);
    this.mark = this.watched.progress();
  }

  /** No deadline applies any more (the response is over, or a websocket took it over). */
  stop(): void {
    if (this.phase === OFF) return;
    this.phase = OFF;
    this.#deadlines.remove(this);
  }

  #enter(phase: number): void {
    const wasOff = this.phase === OFF;
    this.phase = phase;
    this.since = Date.now();
    if (wasOff) this.#deadlines.add(this);
  }
}

/** The limits, in ms (0 = none). */
export interface DeadlineLimits {
  responseTimeout: number;
  sendTimeout: number;
}

/** Every live clock of a server and the one sweep timer that checks them. */
export class Deadlines {
  readonly #clocks = new LiveList<Clock>();
  readonly #limits: DeadlineLimits;
  readonly #period: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(limits: DeadlineLimits) {
    this.#limits = limits;
    const shortest = Math.min(...[limits.responseTimeout, limits.sendTimeout].filter((t) => t > 0), 4_000);
    this.#period = Math.max(25, Math.min(1_000, Math.floor(shortest / 4)));
  }

  get limits(): Readonly<DeadlineLimits> {
    return this.#limits;
  }

  /** A clock for one response; it starts in the app phase. */
  clock(watched: Watched): Clock {
    const clock = new Clock(this, watched);
    if (this.#limits.responseTimeout > 0 || this.#limits.sendTimeout > 0) clock.app();
    return clock;
  }

  add(clock: Clock): void {
    if (this.#limits.responseTimeout === 0 && this.#limits.sendTimeout === 0) return;
    this.#clocks.add(clock);
    this.#timer ??= setInterval(() => this.#sweep(), this.#period).unref();
  }

  remove(clock: Clock): void {
    this.#clocks.delete(clock);
    if (this.#clocks.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Clocks running now (for tests and the soak). */
  get size(): number {
    return this.#clocks.size;
  }

  #sweep(): void {
    const now = Date.now();
    const { responseTimeout, sendTimeout } = this.#limits;
    for (const clock of this.#clocks) {
      if (clock.phase === APP) {
        if (responseTimeout > 0 && now - clock.since >= responseTimeout) this.#expire(clock, 'response');
        continue;
      }
      const watched = clock.watched;
      const progress = watched.progress();
      if (progress !== clock.mark || !watched.pending()) {
        clock.mark = progress;
        clock.since = now;
      } else if (sendTimeout > 0 && now - clock.since >= sendTimeout) {
        this.#expire(clock, 'send');
      }
    }
  }

  #expire(clock: Clock, kind: 'response' | 'send'): void {
    clock.stop();
    try {
      clock.watched.expire(kind);
    } catch {
      // A sink that throws while tearing down must not stop the sweep for the others.
    }
  }
}

/** For front-ends built without deadlines (tests of one front-end): clocks that never run. */
export const NO_DEADLINES = new Deadlines({ responseTimeout: 0, sendTimeout: 0 });
