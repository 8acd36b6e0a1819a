/**
 * Bodies: the kinds an app may return, and closing them exactly once (SPEC §4).
 */
import { HatchwayError } from '../wire/errors.ts';
import { concat, utf8Length } from '../wire/bytes.ts';
import type { Body, Chunk } from './types.ts';

const encoder = new TextEncoder();

// node:fs is loaded only when a file body is sized or read, so that this module (and the
// `hatchway` entry) loads on runtimes without a file system (workerd). The specifier is not a
// literal so that bundlers for such runtimes leave it alone instead of failing to resolve it.
const NODE_FS = 'node:fs/promises';
let fs: Promise<typeof import('node:fs/promises')> | undefined;
const nodeFs = (): Promise<typeof import('node:fs/promises')> => (fs ??= import(NODE_FS));

/** Options of {@link fileBody}. */
export interface FileBodyOptions {
  /** First byte to send (default 0). */
  start?: number;
  /** Last byte to send, inclusive (default: the end of the file). */
  end?: number;
}

/**
 * A body that is a file (or a byte range of one). A server may send it without copying it
 * through JavaScript (`respondWithFD` on HTTP/2); middleware that needs the bytes can still
 * iterate it like any async iterable. Sizing or reading it needs `node:fs` (Node, Bun, Deno),
 * loaded on first use; on a runtime without it (workerd) both reject.
 */
export class FileBody implements AsyncIterable<Uint8Array> {
  /** The file's path, as given to {@link fileBody}. */
  readonly path: string;
  /** The first byte to send, a 0-based offset (default 0). */
  readonly start: number;
  /** The last byte to send, inclusive; `undefined`: to the end of the file. */
  readonly end: number | undefined;
  /**
   * @param path the file's path.
   * @param options the byte range (default: the whole file).
   */
  constructor(path: string, options: FileBodyOptions = {}) {
    this.path = path;
    this.start = options.start ?? 0;
    this.end = options.end;
  }

  /** The number of bytes this body sends (stats the file). */
  async size(): Promise<number> {
    const { size } = await (await nodeFs()).stat(this.path);
    const last = Math.min(this.end ?? size - 1, size - 1);
    return Math.max(0, last - this.start + 1);
  }

  /** Reads the range from the file in chunks of up to 64 KiB, opening it on the first read and closing it after the last. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    const handle = await (await nodeFs()).open(this.path, 'r');
    try {
      let remaining = await this.size();
      let position = this.start;
      while (remaining > 0) {
        const buffer = new Uint8Array(Math.min(remaining, 64 * 1024));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) break;
        position += bytesRead;
        remaining -= bytesRead;
        yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
  }
}

/**
 * A body that sends the file at `path`, or the byte range `start`–`end` (inclusive) of it.
 *
 * @example
 * ```ts
 * const app: App = (environ, startResponse) => {
 *   startResponse(200, [['content-type', 'application/pdf']]);
 *   return fileBody('/srv/report.pdf');
 * };
 * ```
 */
export function fileBody(path: string, options?: FileBodyOptions): FileBody {
  return new FileBody(path, options);
}

/** Encodes a chunk to bytes; throws on anything that is not a string or Uint8Array. */
export function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === 'string') return encoder.encode(chunk);
  throw new HatchwayError('ERR_HATCHWAY_INVALID_CHUNK', chunk);
}

/**
 * The one empty chunk that commits (SPEC §3.4): a body that yields this very object before
 * any data sends the status and headers at once, as `res.flushHeaders()` does on node:http (a
 * server-sent-events stream whose first event is late). Any other empty chunk commits nothing.
 * Middleware that passes chunks on unchanged passes it on; one that makes its own chunks drops
 * it, and the response commits late as usual.
 */
export const FLUSH: Uint8Array = Object.freeze(new Uint8Array(0)) as Uint8Array;

/** The UTF-8 length of a chunk; throws on anything that is not a chunk. */
export function chunkLength(chunk: unknown): number {
  if (typeof chunk === 'string') return utf8Length(chunk);
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  throw new HatchwayError('ERR_HATCHWAY_INVALID_CHUNK', chunk);
}

/** True for a value an app may return as a body. */
export function isBody(value: unknown): value is Body {
  return (
    value !== null &&
    typeof value === 'object' &&
    (typeof (value as Iterable<Chunk>)[Symbol.iterator] === 'function' ||
      typeof (value as AsyncIterable<Chunk>)[Symbol.asyncIterator] === 'function') &&
    typeof (value as PromiseLike<unknown>).then !== 'function'
  );
}

/**
 * Closes a body: calls `body.close()` if it has one. Errors thrown by `close()` are returned,
 * not thrown, so the caller can report them without losing the original outcome.
 */
export function closeBody(body: Body | undefined): unknown {
  if (body === undefined || typeof body.close !== 'function') return undefined;
  try {
    body.close();
    return undefined;
  } catch (err) {
    return err;
  }
}

/**
 * Wraps `body` so that `onClose` runs exactly once after the body is closed by whoever
 * consumes it: after the last chunk, after an error, or when the consumer stops early.
 * Middleware uses it to run code "when the response is over" (an access log, a timer).
 */
export function onBodyClose<B extends Body>(body: B, onClose: () => void): Body {
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    onClose();
  };
  const closeInner = () => {
    const err = closeBody(body);
    finish();
    if (err !== undefined) throw err;
  };
  if (Array.isArray(body)) {
    const copy = body.slice() as Chunk[] & { close?: () => void };
    copy.close = closeInner;
    return copy;
  }
  if (typeof (body as AsyncIterable<Chunk>)[Symbol.asyncIterator] === 'function') {
    return {
      [Symbol.asyncIterator]: () => (body as AsyncIterable<Chunk>)[Symbol.asyncIterator](),
      close: closeInner,
    };
  }
  return {
    [Symbol.iterator]: () => (body as Iterable<Chunk>)[Symbol.iterator](),
    close: closeInner,
  };
}

/** The bytes of `chunks` in one buffer (the chunk itself when there is one). */
export function concatBytes(chunks: readonly Chunk[]): Uint8Array {
  if (chunks.length === 1) return toBytes(chunks[0]!);
  return concat(chunks.map(toBytes));
}
