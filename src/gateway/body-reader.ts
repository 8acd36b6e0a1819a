/**
 * The {@link BodyReader} contract on top of one primitive, `pull()`: the next chunk from the
 * source, or `null` at its end. This class supplies the rest, identically for every source
 * (a Node stream, a WHATWG stream): the simulated end-of-stream at the declared length, reads
 * of at most `max` bytes, `bytes(limit)` refusing more than `limit` with a 413 `HttpError`,
 * `text()` and async iteration (SPEC §2.4).
 */
import { httpError } from '../wire/errors.ts';
import { concat } from '../wire/bytes.ts';
import type { BodyReader } from './types.ts';

const EMPTY = new Uint8Array(0);

/** Extend it with `pull()` to read a request body from any source. */
export abstract class PullBodyReader implements BodyReader {
  readonly length: number | undefined;
  #remaining: number;
  #leftover: Uint8Array | null = null;

  /** @param length the declared length; reads end there whatever the source still holds. */
  constructor(length: number | undefined) {
    this.length = length;
    this.#remaining = length ?? Infinity;
  }

  /** The next chunk from the source, or `null` at its end; rejects with a 4xx `HttpError`. */
  protected abstract pull(): Promise<Uint8Array | null>;

  /** Called once the body is over (its declared length reached, or the source ended). */
  protected finished(): void {}

  /** Bytes still expected before the declared length (`Infinity` when none was declared). */
  protected get remaining(): number {
    return this.#remaining;
  }

  /** Ends the body now: further reads return `null`. */
  protected stop(): void {
    this.#remaining = 0;
    this.#leftover = null;
  }

  async read(max?: number): Promise<Uint8Array | null> {
    if (this.#remaining <= 0) return null;
    let chunk = this.#leftover;
    this.#leftover = null;
    if (chunk === null) chunk = await this.pull();
    if (chunk === null) {
      this.#remaining = 0;
      this.finished();
      return null;
    }
    // Simulated end-of-stream at the declared length: never hand the app more.
    if (chunk.byteLength > this.#remaining) chunk = chunk.subarray(0, this.#remaining);
    if (max !== undefined && max >= 0 && chunk.byteLength > max) {
      this.#leftover = chunk.subarray(max);
      chunk = chunk.subarray(0, max);
    }
    this.#remaining -= chunk.byteLength;
    if (this.#remaining <= 0) this.finished();
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
    return concat(parts, total);
  }

  async text(limit?: number): Promise<string> {
    return new TextDecoder().decode(await this.bytes(limit));
  }

  /** Iterates the body's chunks with `read()`, to its end (`for await (const chunk of environ.input)`). */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (let chunk = await this.read(); chunk !== null; chunk = await this.read()) yield chunk;
  }
}

/** The 413 `bytes(limit)` throws. */
function tooLarge(limit: number) {
  return httpError('ERR_HATCHWAY_BODY_TOO_LARGE', limit);
}
