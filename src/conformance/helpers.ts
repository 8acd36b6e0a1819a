/**
 * Helpers that make the checklist's rules easy to keep (docs/CHECKLIST.md): each rule's hint
 * names the one that keeps it. They are exported from `hatchway`.
 */
import { isControlName, parseControl } from '../escapes/registry.ts';
import type { EscapeKind } from '../escapes/degrade.ts';
import { closeBody } from '../gateway/body.ts';
import { PullBodyReader } from '../gateway/body-reader.ts';
import type { Body, BodyReader, Chunk, Environ, HeaderList } from '../gateway/types.ts';

/**
 * True when a response's headers carry an escape (a `hatchway-escape` control field, SPEC §7.3):
 * a middleware that transforms bodies must pass such a response through untouched — or replace
 * it wholesale with a status of its own — never rewrite half of it (rules HW-ESC-02, HW-ESC-03).
 *
 * @example
 * ```ts
 * const upper: Middleware = (app) => (environ, startResponse) => {
 *   let escape = false;
 *   const body = app(environ, (status, headers, excInfo) => {
 *     escape = isEscapeResponse(headers);
 *     return startResponse(status, headers, excInfo);
 *   });
 *   return mapBody(body, (chunk) => (escape ? chunk : String(chunk).toUpperCase()));
 * };
 * ```
 */
export function isEscapeResponse(headers: HeaderList): boolean {
  return claimedEscapes(headers).length > 0;
}

/**
 * The escape kinds a response's well-formed control fields claim (SPEC §7.3), the body claim
 * first — the first body-kind field, the one the server recognises — then each `push`. A
 * middleware that must leave a token body alone but may transform a page that only rides push
 * tokens asks whether the first is a body kind; an access log names the first.
 *
 * @example
 * ```ts
 * const [kind] = claimedEscapes(headers); // 'websocket', 'push', … or undefined
 * const leaveBodyAlone = kind !== undefined && kind !== 'push';
 * ```
 */
export function claimedEscapes(headers: HeaderList): EscapeKind[] {
  let body: EscapeKind | undefined;
  const pushes: EscapeKind[] = [];
  for (const [name, value] of headers) {
    if (!isControlName(name)) continue;
    const kind = parseControl(value)?.kind;
    if (kind === 'push') pushes.push(kind);
    else if (kind !== undefined) body ??= kind;
  }
  return body === undefined ? pushes : [body, ...pushes];
}

/**
 * A shallow copy of an environ to pass inward with changes: every key is kept — unknown
 * middleware keys and `hatchway.*` server extensions included (rules HW-ENV-02, HW-ESC-01) —
 * and `headers` and `features` are copied so changing them does not change the caller's.
 *
 * @example
 * ```ts
 * const mount = (prefix: string): Middleware => (app) => (environ, startResponse) => {
 *   if (!environ.pathInfo.startsWith(prefix)) return app(environ, startResponse);
 *   const inner = copyEnviron(environ, { scriptName: environ.scriptName + prefix, pathInfo: environ.pathInfo.slice(prefix.length) });
 *   return app(inner, startResponse);
 * };
 * ```
 */
export function copyEnviron(environ: Environ, changes: Partial<Environ> = {}): Environ {
  const copy: Environ = { ...environ, headers: environ.headers.map((h) => [h[0], h[1]]), features: { ...environ.features } };
  return Object.assign(copy, changes);
}

/** What {@link mapBody} calls: one output chunk per input chunk, and optionally a last one. */
export interface BodyMapper {
  /** Maps one chunk of the inner body; may return `''` (nothing yet) but is called once per chunk. */
  chunk(chunk: Chunk): Chunk | Promise<Chunk>;
  /** Called once after the last chunk: a final chunk (a compressor's trailer), or nothing. */
  end?(): Chunk | undefined | Promise<Chunk | undefined>;
}

/**
 * Maps a body chunk by chunk, keeping the rules a body-transforming middleware most often
 * breaks: one chunk out per chunk in, pulled only when the server asks for one (backpressure,
 * no buffering: HW-BODY-02, HW-BODY-03, HW-BODY-05), sync and async bodies alike (HW-BODY-04),
 * errors passed on (HW-ESC-05), and the inner body closed exactly once — at its end, after an
 * error, or when the server stops early (HW-CLOSE-01, HW-CLOSE-02).
 *
 * @example
 * ```ts
 * const shout: Middleware = (app) => (environ, startResponse) =>
 *   mapBody(app(environ, startResponse), (chunk) => String(chunk).toUpperCase());
 * ```
 */
export function mapBody(body: Body, mapper: BodyMapper | ((chunk: Chunk) => Chunk | Promise<Chunk>)): Body {
  const map: BodyMapper = typeof mapper === 'function' ? { chunk: mapper } : mapper;
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    const err = closeBody(body);
    if (err !== undefined) throw err;
  };
  return {
    async *[Symbol.asyncIterator](): AsyncGenerator<Chunk> {
      try {
        // for await…of pulls one inner chunk per outer pull and return()s the inner iterator
        // when the server stops early; it works on sync and async iterables alike.
        for await (const chunk of body as AsyncIterable<Chunk>) {
          if (closed) return;
          yield await map.chunk(chunk);
        }
        if (map.end !== undefined && !closed) {
          const last = await map.end();
          if (last !== undefined) yield last;
        }
      } finally {
        close();
      }
    },
    close,
  };
}

class ReplayReader extends PullBodyReader {
  #bytes: Uint8Array | null;
  constructor(bytes: Uint8Array) {
    super(bytes.byteLength);
    this.#bytes = bytes.byteLength > 0 ? bytes : null;
  }
  protected pull(): Promise<Uint8Array | null> {
    const bytes = this.#bytes;
    this.#bytes = null;
    return Promise.resolve(bytes);
  }
}

/**
 * A request body reader over bytes a middleware already read: pass it inward as `input` so
 * the app still finds the body its `length` declares (rule HW-IN-01).
 *
 * @example
 * ```ts
 * const rawBody: Middleware = (app) => asyncApp(async (environ, startResponse) => {
 *   const bytes = await environ.input.bytes(1 << 20);
 *   return app(copyEnviron(environ, { input: replayInput(bytes), 'raw.body': bytes }), startResponse);
 * });
 * ```
 */
export function replayInput(bytes: Uint8Array): BodyReader {
  return new ReplayReader(bytes);
}
