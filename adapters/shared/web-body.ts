/**
 * A {@link BodyReader} over a WHATWG `ReadableStream` (a fetch `Request`'s body), with the
 * same contract as the server's reader: nothing is read until the app asks, reads stop at the
 * declared length, `bytes(limit)` refuses more than `limit` with a 413.
 */
import createError from 'http-errors';
import type { BodyReader } from '../../src/index.ts';

const EMPTY = new Uint8Array(0);

export class WebBodyReader implements BodyReader {
  readonly length: number | undefined;
  #stream: ReadableStream<Uint8Array> | null;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #leftover: Uint8Array | null = null;
  #remaining: number;

  constructor(stream: ReadableStream<Uint8Array> | null, length: number | undefined) {
    this.#stream = stream;
    this.length = stream === null ? 0 : length;
    this.#remaining = stream === null ? 0 : (length ?? Infinity);
  }

  async read(max?: number): Promise<Uint8Array | null> {
    if (this.#remaining <= 0) return null;
    let chunk: Uint8Array | null = this.#leftover;
    this.#leftover = null;
    if (chunk === null) {
      this.#reader ??= this.#stream!.getReader();
      let result: Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>;
      try {
        result = await this.#reader.read();
      } catch (err) {
        throw createError(400, `request body: ${err instanceof Error ? err.message : String(err)}`, { code: 'ERR_HATCHWAY_BODY_ABORTED' });
      }
      if (result.done) {
        const short = this.length !== undefined && this.#remaining > 0;
        this.#remaining = 0;
        if (short) throw createError(400, 'request body shorter than its Content-Length', { code: 'ERR_HATCHWAY_BODY_ABORTED' });
        return null;
      }
      chunk = result.value;
    }
    if (chunk === null) return null;
    if (chunk.byteLength > this.#remaining) chunk = chunk.subarray(0, this.#remaining);
    if (max !== undefined && max >= 0 && chunk.byteLength > max) {
      this.#leftover = chunk.subarray(max);
      chunk = chunk.subarray(0, max);
    }
    this.#remaining -= chunk.byteLength;
    if (this.#remaining <= 0) this.#reader?.releaseLock();
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

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (let chunk = await this.read(); chunk !== null; chunk = await this.read()) yield chunk;
  }
}

function tooLarge(limit: number) {
  return createError(413, `request body larger than ${limit} bytes`, { code: 'ERR_HATCHWAY_BODY_TOO_LARGE' });
}
