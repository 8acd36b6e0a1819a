/**
 * The runner's {@link ResponseSink} over a `ServerHttp2Stream` (core API, RFC 9113 §8.1).
 *
 * The head is held until the first write or the end, so a response without content is one
 * HEADERS frame with END_STREAM rather than HEADERS and an empty DATA frame (which a client
 * may reject after a 204 or 304). Backpressure is the stream's own: `write()` returns `false`
 * once nghttp2's flow-control window and the stream's buffer are full.
 */
import { constants, type ServerHttp2Stream } from 'node:http2';
import type { FileBody } from '../gateway/body.ts';
import { errorResponse } from '../gateway/error-response.ts';
import type { EscapeCapableSink } from '../escapes/sink.ts';
import type { Chunk, Environ, HeaderList } from '../gateway/types.ts';
import { responseHead, trailerFields } from '../protocol/http2-headers.ts';
import type { LogFn } from './environ.ts';
import { whenDrained } from './drain.ts';
import { httpError } from '../wire/errors.ts';
import { NO_DEADLINES, type Clock, type Deadlines, type Watched } from './deadline.ts';
import type { Linked } from './live-list.ts';

const { NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR } = constants;

/**
 * The response side of one HTTP/2 stream. The escapes that need the real stream (websocket
 * over RFC 8441, push, `upgradeTo`) are the methods of its subclass `H2EscapeSink`
 * (`http2-escapes.ts`); on this class (a pushed stream, or a front-end without them) the
 * optional {@link EscapeCapableSink} methods are absent and those escapes degrade by the table.
 */
export class H2Sink implements EscapeCapableSink, Watched, Linked<H2Sink> {
  readonly #stream: ServerHttp2Stream;
  readonly #log: LogFn;
  /** The response and send deadlines of this stream (`deadline.ts`). */
  readonly clock: Clock;
  /** Told when a deadline passed, after the sink answered or aborted. */
  onExpire: ((kind: 'response' | 'send') => void) | undefined;
  /** Writes handed to the stream, and those nghttp2 has taken (their callbacks ran). */
  #written = 0;
  #flushed = 0;
  readonly #onFlushed = (): void => {
    this.#flushed++;
  };
  /** An `upgradeTo` handler owns the stream: progress is read off the stream's own buffer. */
  #native = false;
  /** A websocket or a tunnel took the stream over: the request moved, it cannot be aborted. */
  #moved = false;
  #pending: string[] | undefined;
  /** Trailers announced at the head: set when `end()` brings them, sent on 'wantTrailers'. */
  #trailers: HeaderList | undefined;
  #wantTrailers = false;
  #done = false;
  #replaced = false;
  #gaveUp = false;

  /** The request this stream answers, once the front-end built its environ. */
  environ: Environ | undefined = undefined;

  // The session's list of open streams (http2-session.ts): when this one opened, and its links.
  openedAt = 0;
  prev: H2Sink | undefined = undefined;
  next: H2Sink | undefined = undefined;
  listed = false;

  constructor(stream: ServerHttp2Stream, log: LogFn, deadlines: Deadlines = NO_DEADLINES) {
    this.#stream = stream;
    this.#log = log;
    this.clock = deadlines.clock(this);
  }

  // Watched (deadline.ts). A write's callback runs once nghttp2 took its bytes, which it
  // does not at zero window, nor while the connection's socket is stalled.
  progress(): number {
    return this.#native ? this.#stream.writableLength : this.#flushed;
  }

  pending(): boolean {
    const stream = this.#stream;
    if (stream.destroyed || stream.closed) return false;
    return this.#native ? stream.writableLength > 0 : this.#flushed < this.#written;
  }

  expire(kind: 'response' | 'send'): void {
    if (kind === 'response' && !this.committed && !this.closed) this.giveUp(httpError('ERR_HATCHWAY_RESPONSE_TIMEOUT'));
    else this.abort();
    this.onExpire?.(kind);
  }

  /**
   * A takeover: a websocket stops the clock (its keep-alive bounds it); an `upgradeTo`
   * handler keeps the send deadline only, measured on the stream's own buffer.
   */
  takenOver(native: boolean): void {
    if (!native) {
      this.#moved = true;
      this.clock.stop();
      return;
    }
    this.#native = true;
    this.clock.send();
  }

  get closed(): boolean {
    return this.#replaced || this.#stream.destroyed || this.#stream.closed;
  }

  /** The stream this sink answers on. */
  get stream(): ServerHttp2Stream {
    return this.#stream;
  }

  /** True once the response was handed over whole (end, or the whole file sent). */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Read at the stream's 'close': did the response complete (SPEC §2.7)? It did when it was
   * handed over whole ({@link done}: by the runner, or by an `upgradeTo` handler that ended it,
   * {@link responseEnded}) and the stream closed without a reset; after a websocket or tunnel
   * takeover it always did (the request moved; the connection's own events tell its end, as on
   * HTTP/1.1).
   */
  get completed(): boolean {
    return this.#moved || (this.#done && this.#stream.rstCode === NGHTTP2_NO_ERROR);
  }

  /** An `upgradeTo` handler ended its response (the native stream tells its owner). */
  responseEnded(): void {
    this.#done = true;
  }

  /** True once the server gave up on the request ({@link giveUp}). */
  get gaveUp(): boolean {
    return this.#gaveUp;
  }

  /** True once status and headers were recorded by the runner (they may still be held). */
  get committed(): boolean {
    return this.#pending !== undefined || this.#stream.headersSent;
  }

  /** Sends a 103 Early Hints (RFC 8297) with these `Link` values before the final response. */
  earlyHints(links: string[]): void {
    const stream = this.#stream;
    if (this.closed || stream.headersSent || links.length === 0) return;
    try {
      stream.additionalHeaders({ ':status': 103, link: links });
    } catch (err) {
      this.#log(`[hatchway] HTTP/2 stream ${stream.id}: cannot send 103: ${(err as Error).message}`);
    }
  }

  head(status: number, _reason: string | undefined, headers: HeaderList, length: number | undefined, trailers?: boolean): void {
    // HTTP/2 has no reason phrase (RFC 9113 §8.3.2).
    this.#pending = responseHead(status, headers, length);
    this.#wantTrailers = trailers === true;
    this.clock.app();
  }

  /** Sends the held head; `false` when the stream is gone or refused it. */
  #flush(endStream: boolean): boolean {
    const head = this.#pending;
    if (head === undefined) return !this.closed;
    this.#pending = undefined;
    const stream = this.#stream;
    if (this.closed) return false;
    const waitForTrailers = this.#wantTrailers;
    try {
      stream.respond(head, { endStream: endStream && !waitForTrailers, waitForTrailers });
    } catch (err) {
      // Headers are validated before they get here; this is a bug or a stream lost in a race.
      this.#log(`[hatchway] HTTP/2 stream ${stream.id}: respond failed: ${(err as Error).message}`);
      this.abort();
      return false;
    }
    if (waitForTrailers) {
      // RFC 9113 §8.1: END_STREAM rides on the trailing HEADERS frame (gRPC needs exactly that).
      stream.once('wantTrailers', () => {
        try {
          stream.sendTrailers(trailerFields(this.#trailers ?? []));
        } catch (err) {
          this.#log(`[hatchway] HTTP/2 stream ${stream.id}: trailers failed: ${(err as Error).message}`);
          this.abort();
        }
      });
    }
    return true;
  }

  write(chunk: Chunk): boolean {
    if (!this.#flush(false)) return true;
    // A zero-length write as the last before end() makes node:http2 (Node 24) send stale memory
    // as the DATA of the end — bytes of other responses — or leave the stream unfinished,
    // holding the request's registrations. Nothing to write: write nothing.
    if ((typeof chunk === 'string' ? chunk.length : chunk.byteLength) === 0) return true;
    this.#written++;
    const accepted = this.#stream.write(chunk, this.#onFlushed);
    if (accepted) this.clock.app();
    else this.clock.send();
    return accepted;
  }

  async drained(): Promise<void> {
    if (this.closed) return;
    await whenDrained(this.#stream);
    this.clock.app();
  }

  end(chunk?: Chunk, trailers?: HeaderList): void {
    this.#done = true;
    // From here only the transport is waited for: the send deadline, while bytes are pending.
    this.clock.send();
    if (trailers !== undefined) this.#trailers = trailers;
    const empty = chunk === undefined || (typeof chunk === 'string' ? chunk.length === 0 : chunk.byteLength === 0);
    if (this.#pending !== undefined) {
      if (!this.#flush(empty)) return;
      if (empty && !this.#wantTrailers) return;
    }
    const stream = this.#stream;
    // node:http2 ends HEAD, 204 and 304 responses itself when it sends their head.
    if (this.closed || stream.writableEnded) return;
    this.#written++;
    if (empty) stream.end(this.#onFlushed);
    else stream.end(chunk, this.#onFlushed);
  }

  async file(status: number, _reason: string | undefined, headers: HeaderList, body: FileBody, size: number, bodyless: boolean): Promise<void> {
    this.head(status, undefined, headers, size);
    if (bodyless || size === 0) {
      this.end();
      return;
    }
    const head = this.#pending!;
    this.#pending = undefined;
    const stream = this.#stream;
    // nghttp2 reads the file itself: no write of ours to watch (SECURITY.md: the session limits bound it).
    this.clock.stop();
    if (this.closed) return;
    await new Promise<void>((resolve, reject) => {
      const onClose = (): void => resolve();
      stream.once('close', onClose);
      try {
        // Zero-copy: nghttp2 reads the file itself; JavaScript never sees the bytes.
        stream.respondWithFile(body.path, rawToObject(head), {
          offset: body.start,
          length: size,
          onError: (err) => {
            stream.off('close', onClose);
            reject(err);
          },
        });
        this.#done = true;
      } catch (err) {
        stream.off('close', onClose);
        reject(err);
      }
    });
  }

  /**
   * The server gives up on a request it is still waiting for (a timeout): an error response
   * goes out in place of the app's, and the runner then sees the sink closed.
   */
  giveUp(err: unknown): void {
    if (this.closed || this.committed) return;
    this.#gaveUp = true;
    this.#replaced = true;
    respondWithError(this.#stream, err);
  }

  /**
   * Resets the stream: RST_STREAM with INTERNAL_ERROR (RFC 9113 §6.4), so a truncated response
   * never looks complete. Not `stream.close(code)`: on a stream whose response is still open,
   * node:http2 ends it first (an empty DATA frame with END_STREAM) and the reset never goes
   * out. `destroy()` sends the RST_STREAM without ending.
   */
  abort(): void {
    const stream = this.#stream;
    if (!stream.destroyed && !stream.closed) stream.destroy(new Error('response aborted'));
  }
}

/** `respondWithFile()` takes a headers object: repeated fields become arrays. */
function rawToObject(raw: string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [prev, value];
  }
  return out;
}

/** Answers a request the app never saw (or gave up on) with an error response. */
export function respondWithError(stream: ServerHttp2Stream, err: unknown): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  const res = errorResponse(err);
  const raw: string[] = [':status', String(res.status)];
  for (const [name, value] of res.headers) raw.push(name, value);
  try {
    stream.respond(raw);
    // node:http2 has already ended the stream if the request was a HEAD.
    if (!stream.writableEnded) stream.end(res.body);
    // RFC 9113 §8.1: once the response is complete, RST_STREAM (NO_ERROR) tells a client
    // still sending its request to stop; node:http2 sends it after the last frame.
    stream.close(constants.NGHTTP2_NO_ERROR);
  } catch {
    stream.close(NGHTTP2_INTERNAL_ERROR);
  }
}
