/**
 * A {@link BodyReader} over a WHATWG `ReadableStream` (a fetch `Request`'s body), with the
 * same contract as the server's reader — it extends the same public `PullBodyReader`, which
 * supplies the declared-length end, `read(max)`, `bytes(limit)` (413), `text()` and iteration.
 */
import { PullBodyReader, httpError } from '../../src/host.ts';

export class WebBodyReader extends PullBodyReader {
  #stream: ReadableStream<Uint8Array> | null;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;

  constructor(stream: ReadableStream<Uint8Array> | null, length: number | undefined) {
    super(stream === null ? 0 : length);
    this.#stream = stream;
  }

  protected async pull(): Promise<Uint8Array | null> {
    if (this.#stream === null) return null;
    this.#reader ??= this.#stream.getReader();
    let result: Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>;
    try {
      result = await this.#reader.read();
    } catch (err) {
      throw httpError('ERR_HATCHWAY_BODY_ABORTED', `: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!result.done) return result.value;
    if (this.length !== undefined && this.remaining > 0) {
      throw httpError('ERR_HATCHWAY_BODY_ABORTED', 'shorter than its Content-Length');
    }
    return null;
  }

  /** The body is over: let go of the stream's lock. */
  protected override finished(): void {
    this.#reader?.releaseLock();
  }
}
