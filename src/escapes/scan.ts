/**
 * A token never leaves (SPEC §7.2): everything written from a response of a request with
 * registrations passes through one {@link TokenScan} — the status line's reason phrase, every
 * field, the trailers, and the body, scanned with a carry of `TOKEN_LENGTH - 1` bytes so that
 * a token split across chunks is still found. Each hit is reported as
 * `ERR_HATCHWAY_TOKEN_LEAK`; a field or trailer is dropped, a reason phrase replaced by the
 * standard one, and a body hit tells the sink to tear the response down.
 */
import { toBytes } from '../gateway/body.ts';
import { formatError } from '../gateway/error-response.ts';
import { HatchwayError } from '../gateway/errors.ts';
import type { ResponseSink } from '../gateway/run.ts';
import type { Chunk, ErrorStream, HeaderList } from '../gateway/types.ts';
import { TOKEN_LENGTH, isControlName, type EscapeRegistry } from './registry.ts';

/** One response's scan. */
export class TokenScan {
  readonly #registry: EscapeRegistry;
  readonly #errors: ErrorStream;
  #tokens: Buffer[] | undefined;
  #tail: Buffer | undefined;

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
    this.#tokens = this.#registry.size > 0 ? this.#registry.tokens().map((t) => Buffer.from(t, 'latin1')) : undefined;
  }

  /** False when `chunk` (with the tail of the chunks before it) holds a token: do not send it. */
  body(chunk: Chunk): boolean {
    if (this.#tokens === undefined) return true;
    const bytes = toBytes(chunk);
    const view = this.#tail ? Buffer.concat([this.#tail, bytes]) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (const token of this.#tokens) {
      if (view.indexOf(token) === -1) continue;
      this.#leak('body');
      this.#tokens = undefined;
      return false;
    }
    this.#tail = view.subarray(Math.max(0, view.byteLength - (TOKEN_LENGTH - 1)));
    return true;
  }

  #leak(where: string): void {
    this.#errors.write(formatError(new HatchwayError('ERR_HATCHWAY_TOKEN_LEAK', where)));
  }
}

/**
 * `inner` seen through `scan` (for a response an escape writes itself): the body scan starts
 * at its head; a body hit calls `onLeak`, which tears the response down.
 */
export function scanned(inner: ResponseSink, scan: TokenScan, onLeak: () => void): ResponseSink {
  const clear = (chunk: Chunk): boolean => {
    if (scan.body(chunk)) return true;
    onLeak();
    return false;
  };
  return {
    get closed() {
      return inner.closed;
    },
    head(status, reason, headers, length, trailers) {
      scan.start();
      inner.head(status, reason, headers, length, trailers);
    },
    write: (chunk) => (clear(chunk) ? inner.write(chunk) : true),
    drained: () => inner.drained(),
    end: (chunk, trailers) => {
      if (chunk === undefined || clear(chunk)) inner.end(chunk, trailers && scan.trailers(trailers));
    },
    file: (...args) => inner.file(...args),
    abort: (error) => inner.abort(error),
  };
}
