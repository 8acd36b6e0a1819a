/**
 * A token never leaves (SPEC §7.2): everything written from a response of a request with
 * registrations passes through one {@link TokenScan} — the status line's reason phrase, every
 * field, the trailers, and the body, scanned with a carry of `TOKEN_LENGTH - 1` bytes so that
 * a token split across chunks is still found. Each hit is reported as
 * `ERR_HATCHWAY_TOKEN_LEAK`; a field or trailer is dropped, a reason phrase replaced by the
 * standard one, and a body hit tells the sink to tear the response down.
 */
import { chunkLength, toBytes, type FileBody } from '../gateway/body.ts';
import { bytesView, concat, copyBytes, includesBytes, matchesAt } from '../wire/bytes.ts';
import { formatError } from '../gateway/error-response.ts';
import { HatchwayError } from '../gateway/errors.ts';
import type { ResponseSink } from '../gateway/run.ts';
import type { Chunk, ErrorStream, HeaderList } from '../gateway/types.ts';
import { TOKEN_LENGTH, isControlName, type EscapeRegistry } from './registry.ts';

/** One response's scan. */
export class TokenScan {
  readonly #registry: EscapeRegistry;
  readonly #errors: ErrorStream;
  #tokens: Uint8Array[] | undefined;
  /** The last `TOKEN_LENGTH - 1` bytes seen, the last `#pending` of them not sent yet. */
  #tail: Uint8Array | undefined;
  #pending = 0;

  constructor(registry: EscapeRegistry, errors: ErrorStream) {
    this.#registry = registry;
    this.#errors = errors;
  }

  /** `headers` without control fields, fields that carry a token, and fields named in `drop`. */
  fields(headers: HeaderList, drop?: ReadonlySet<string>): HeaderList {
    const out: HeaderList = [];
    for (const field of headers) {
      if (isControlName(field[0]) || drop?.has(field[0].toLowerCase())) continue;
      if (this.#registry.leaks(field[1])) this.#leak(`field ${field[0].toLowerCase()}`);
      else out.push(field);
    }
    return out;
  }

  /** The reason phrase, or `undefined` (the standard phrase) if it carries a token. */
  reason(reason: string | undefined): string | undefined {
    if (reason === undefined || !this.#registry.leaks(reason)) return reason;
    this.#leak('reason phrase');
    return undefined;
  }

  /** The trailer fields that carry no token. */
  trailers(trailers: HeaderList): HeaderList {
    if (this.#registry.size === 0) return trailers;
    return trailers.filter(([name, value]) => !this.#registry.leaks(value) || (this.#leak(`trailer ${name.toLowerCase()}`), false));
  }

  /** Arms the body scan with every token of the request (at the commit point). */
  start(): void {
    this.#tokens = this.#registry.size > 0 ? this.#registry.tokens().map(asciiBytes) : undefined;
  }

  /**
   * What of `chunk` may be sent now: all of it, less a last few bytes that could begin a token
   * (held until the next chunk tells; so not even the start of a token leaves), or `false`
   * when the bytes seen so far hold a token.
   */
  body(chunk: Chunk): Chunk | false {
    const tokens = this.#tokens;
    if (tokens === undefined) return chunk;
    const bytes = toBytes(chunk);
    const tail = this.#tail;
    const view = tail ? concat([tail, bytes]) : bytesView(bytes);
    for (const token of tokens) {
      if (!includesBytes(view, token)) continue;
      this.#leak('body');
      this.#tokens = undefined;
      return false;
    }
    const unsent = (tail?.byteLength ?? 0) - this.#pending; // where the bytes not yet sent begin
    const hold = tokenStart(view, tokens, unsent);
    this.#tail = copyBytes(view.subarray(Math.max(0, view.byteLength - (TOKEN_LENGTH - 1))));
    this.#pending = hold;
    return view.subarray(unsent, view.byteLength - hold);
  }

  /** The held bytes at the end of the body, or `false` if they are more of a token than its public prefix. */
  flush(): Uint8Array | false | undefined {
    if (this.#pending === 0 || this.#tail === undefined) return undefined;
    const held = this.#tail.subarray(this.#tail.byteLength - this.#pending);
    this.#pending = 0;
    if (held.byteLength > PREFIX_LENGTH) {
      this.#leak('body');
      this.#tokens = undefined;
      return false;
    }
    return held;
  }

  #leak(where: string): void {
    this.#errors.write(formatError(new HatchwayError('ERR_HATCHWAY_TOKEN_LEAK', where)));
  }
}

/** Bytes in a token's public prefix, `hw1.`. */
const PREFIX_LENGTH = 4;

function asciiBytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** Length of the longest end of `view` (from `from` on) that is the start of one of `tokens`. */
function tokenStart(view: Uint8Array, tokens: Uint8Array[], from: number): number {
  for (let p = Math.max(from, view.byteLength - (TOKEN_LENGTH - 1)); p < view.byteLength; p++) {
    if (view[p] !== 0x68) continue; // every token starts with "h"
    for (const token of tokens) if (matchesAt(view, p, token, view.byteLength - p)) return view.byteLength - p;
  }
  return 0;
}

/**
 * `inner` seen through `scan` (for a response an escape writes itself): the body scan starts
 * at its head, the trailers are filtered; a body hit calls `onLeak`, which tears the response
 * down. A class, so one object a response, not a closure a method.
 */
export class ScannedSink implements ResponseSink {
  readonly #inner: ResponseSink;
  readonly #scan: TokenScan;
  readonly #onLeak: () => void;

  constructor(inner: ResponseSink, scan: TokenScan, onLeak: () => void) {
    this.#inner = inner;
    this.#scan = scan;
    this.#onLeak = onLeak;
  }

  get closed(): boolean {
    return this.#inner.closed;
  }

  head(status: number, reason: string | undefined, headers: HeaderList, length: number | undefined, trailers?: boolean): void {
    this.#scan.start();
    this.#inner.head(status, reason, headers, length, trailers);
  }

  write(chunk: Chunk): boolean {
    const out = this.#scan.body(chunk);
    if (out === false) this.#onLeak();
    return out === false || chunkLength(out) === 0 ? true : this.#inner.write(out);
  }

  drained(): Promise<void> {
    return this.#inner.drained();
  }

  end(chunk?: Chunk, trailers?: HeaderList): void {
    const last = lastBytes(this.#scan, chunk);
    if (last === false) this.#onLeak();
    else this.#inner.end(last, trailers && this.#scan.trailers(trailers));
  }

  file(status: number, reason: string | undefined, headers: HeaderList, body: FileBody, size: number, bodyless: boolean): Promise<void> {
    return this.#inner.file(status, reason, headers, body, size, bodyless);
  }

  abort(error: unknown): void {
    this.#inner.abort(error);
  }
}

/** The last chunk of a body through `scan`, with the bytes it still held; `false` on a token. */
export function lastBytes(scan: TokenScan, chunk: Chunk | undefined): Chunk | undefined | false {
  const out = chunk === undefined ? undefined : scan.body(chunk);
  if (out === false) return false;
  const held = scan.flush();
  if (held === false) return false;
  if (held === undefined) return out;
  return out === undefined || chunkLength(out) === 0 ? held : concat([toBytes(out), held]);
}
