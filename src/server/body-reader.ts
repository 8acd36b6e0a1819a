/**
 * The request body as a {@link BodyReader} over a Node `Readable` (an `IncomingMessage` or an
 * HTTP/2 stream). Nothing is read until the app asks: the first read is what answers
 * `Expect: 100-continue`, and an unread body costs no listener at all.
 */
import createError from 'http-errors';
import type { Readable } from 'node:stream';
import type { BodyReader } from '../gateway/types.ts';

const EMPTY = new Uint8Array(0);

export class StreamBodyReader implements BodyReader {
  readonly length: number | undefined;
  #stream: Readable;
  #onFirstRead: (() => void) | undefined;
  #remaining: number;
  #leftover: Uint8Array | null = null;
  #ended = false;
  #error: Error | null = null;
  // Every read waiting for data: reads that overlap (an app racing two reads) must all wake.
  #waiting: (() => void)[] = [];
  #listening = false;
  #onReadable: (() => void) | null = null;
  #complete: (() => boolean) | undefined;

  /**
   * @param length the declared length; the reader simulates end-of-stream there.
   * @param onFirstRead called once, before the first read (sends 100 Continue on HTTP/1.1).
   * @param complete asked when the stream ends: `false` means it ended without its end-of-body
   *   marker (an HTTP/2 stream reset ends the readable side like END_STREAM does), which the
   *   app then sees as an aborted body rather than a short one.
   */
  constructor(stream: Readable, length: number | undefined, onFirstRead?: () => void, complete?: () => boolean) {
    this.#stream = stream;
    this.length = length;
    this.#remaining = length ?? Infinity;
    this.#onFirstRead = onFirstRead;
    this.#complete = complete;
    if (length === 0) this.#ended = true;
  }

  #listen(): void {
    this.#listening = true;
    const wake = () => {
      const waiting = this.#waiting;
      this.#waiting = [];
      for (const w of waiting) w();
    };
    const stream = this.#stream;
    this.#onReadable = wake;
    stream.on('readable', wake);
    stream.on('end', () => {
      this.#ended = true;
      wake();
    });
    stream.on('error', (err: Error) => {
      this.#error ??= createError(400, 'request body: ' + err.message, { code: 'ERR_HATCHWAY_BODY_ABORTED' });
      wake();
    });
    stream.on('close', () => {
      if (!this.#ended && this.#remaining > 0) {
        this.#error ??= createError(400, 'request body ended early: the client went away', { code: 'ERR_HATCHWAY_BODY_ABORTED' });
      }
      wake();
    });
    if (this.#onFirstRead) {
      const first = this.#onFirstRead;
      this.#onFirstRead = undefined;
      first();
    }
  }

  async #pull(): Promise<Uint8Array | null> {
    if (!this.#listening) this.#listen();
    for (;;) {
      if (this.#ended && this.#remaining !== Infinity && this.#remaining > 0 && this.length !== undefined) {
        if (this.#stream.readableLength === 0) {
          this.#error ??= createError(400, 'request body shorter than its Content-Length', { code: 'ERR_HATCHWAY_BODY_ABORTED' });
        }
      }
      const chunk = this.#stream.read() as Uint8Array | null;
      if (chunk !== null) return chunk;
      if (this.#error) throw this.#error;
      if (this.#ended || this.#stream.readableEnded) {
        if (this.#complete !== undefined && !this.#complete()) {
          throw (this.#error = createError(400, 'request body ended early: the stream was reset', { code: 'ERR_HATCHWAY_BODY_ABORTED' }));
        }
        return null;
      }
      await new Promise<void>((resolve) => {
        this.#waiting.push(resolve);
      });
    }
  }

  async read(max?: number): Promise<Uint8Array | null> {
    if (this.#remaining <= 0) return null;
    let chunk = this.#leftover;
    this.#leftover = null;
    if (chunk === null) chunk = await this.#pull();
    if (chunk === null) {
      this.#remaining = 0;
      return null;
    }
    // Simulated end-of-stream at the declared length: never hand the app more.
    if (chunk.byteLength > this.#remaining) chunk = chunk.subarray(0, this.#remaining);
    if (max !== undefined && max >= 0 && chunk.byteLength > max) {
      this.#leftover = chunk.subarray(max);
      chunk = chunk.subarray(0, max);
    }
    this.#remaining -= chunk.byteLength;
    return chunk;
  }

  async bytes(limit = Infinity): Promise<Uint8Array> {
    if (this.length !== undefined && this.length > limit) throw tooLarge(limit);
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let chunk = await this.read(); chunk !== null; chunk = await this.read()) {
      total += chunk.byteLength;
      if (total > limit) throw tooLarge(limit);
      parts.push(chunk);
    }
    if (parts.length === 0) return EMPTY;
    if (parts.length === 1) return parts[0]!;
    return Buffer.concat(parts, total);
  }

  async text(limit?: number): Promise<string> {
    return new TextDecoder().decode(await this.bytes(limit));
  }

  /**
   * Gives up on the rest of the body: further reads end, and what the client still sends
   * flows away unread. The front-end calls it when the response is done but the app stopped
   * reading part-way — a paused request would otherwise stall the connection, since node:http
   * drains only bodies that nobody started to read.
   */
  discard(): void {
    this.#remaining = 0;
    this.#leftover = null;
    const stream = this.#stream;
    if (this.#onReadable !== null) {
      stream.off('readable', this.#onReadable);
      this.#onReadable = null;
    }
    // A stream with a 'readable' listener does not flow; the listener count is re-read on the
    // next tick, so resume then.
    process.nextTick(() => {
      if (!stream.destroyed && !stream.readableEnded) stream.resume();
    });
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (let chunk = await this.read(); chunk !== null; chunk = await this.read()) yield chunk;
  }
}

function tooLarge(limit: number) {
  return createError(413, `request body larger than ${limit} bytes`, { code: 'ERR_HATCHWAY_BODY_TOO_LARGE' });
}
