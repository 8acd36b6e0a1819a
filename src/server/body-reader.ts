/**
 * The request body as a {@link BodyReader} over a Node `Readable` (an `IncomingMessage` or an
 * HTTP/2 stream). Nothing is read until the app asks: the first read is what answers
 * `Expect: 100-continue`, and an unread body costs no listener at all.
 */
import { httpError } from '../wire/errors.ts';
import type { Readable } from 'node:stream';
import { PullBodyReader } from '../gateway/body-reader.ts';

export class StreamBodyReader extends PullBodyReader {
  #stream: Readable;
  #onFirstRead: (() => void) | undefined;
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
    super(length);
    this.#stream = stream;
    this.#onFirstRead = onFirstRead;
    this.#complete = complete;
    if (length === 0) this.#ended = true;
  }

  #listen(): void {
    this.#listening = true;
    const wake = () => {
      const waiting = this.#waiting;
      if (waiting.length === 0) return;
      this.#waiting = [];
      for (const w of waiting) w();
    };
    const stream = this.#stream;
    const onEnd = () => {
      this.#ended = true;
      wake();
    };
    const onError = (err: Error) => {
      this.#error ??= httpError('ERR_HATCHWAY_BODY_ABORTED', ': ' + err.message);
      wake();
    };
    // The listeners come off at 'close', the stream's last event: node:http2 keeps a closed
    // stream reachable until a full GC (live-list.ts), and with them this reader, and through
    // its `complete` the request's whole graph, would survive every scavenge until then.
    const onClose = () => {
      stream.off('readable', wake);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
      this.#onReadable = null;
      if (!this.#ended && this.remaining > 0) {
        this.#error ??= httpError('ERR_HATCHWAY_BODY_ABORTED', 'ended early: the client went away');
      }
      wake();
    };
    this.#onReadable = wake;
    stream.on('readable', wake);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
    if (this.#onFirstRead) {
      const first = this.#onFirstRead;
      this.#onFirstRead = undefined;
      first();
    }
  }

  protected async pull(): Promise<Uint8Array | null> {
    if (!this.#listening) this.#listen();
    for (;;) {
      if (this.#ended && this.remaining !== Infinity && this.remaining > 0 && this.length !== undefined) {
        if (this.#stream.readableLength === 0) {
          this.#error ??= httpError('ERR_HATCHWAY_BODY_ABORTED', 'shorter than its Content-Length');
        }
      }
      const chunk = this.#stream.read() as Uint8Array | null;
      if (chunk !== null) return chunk;
      if (this.#error) throw this.#error;
      if (this.#ended || this.#stream.readableEnded) {
        if (this.#complete !== undefined && !this.#complete()) {
          throw (this.#error = httpError('ERR_HATCHWAY_BODY_ABORTED', 'ended early: the stream was reset'));
        }
        return null;
      }
      await new Promise<void>((resolve) => {
        this.#waiting.push(resolve);
      });
    }
  }

  /**
   * Gives up on the rest of the body: further reads end, and what the client still sends
   * flows away unread. The front-end calls it when the response is done but the app stopped
   * reading part-way — a paused request would otherwise stall the connection, since node:http
   * drains only bodies that nobody started to read.
   */
  discard(): void {
    this.stop();
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
}
