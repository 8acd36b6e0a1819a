/**
 * The per-request escape registry (SPEC §7). The origin server issues one per request and
 * exposes it through the environ keys `hatchway.websocket`, `hatchway.trailers`,
 * `hatchway.push`: each takes a registration and returns an opaque token.
 *
 * Tokens: 144 random bits from Web Crypto (`crypto.getRandomValues`, on every runtime), bound to the request (they live in this registry
 * only) and to the kind, single use, compared in constant time. Every registration is
 * released when the request ends — on every path, in reverse order, exactly once.
 */
import { HatchwayError } from '../gateway/errors.ts';
import { base64url, randomBytes, timingSafeEqualStrings } from '../wire/bytes.ts';
import type { EscapeKind } from './degrade.ts';
import type { ErrorStream, HeaderList } from '../gateway/types.ts';

/** The control header an app returns a token in: `hatchway-escape: <kind> <token>`. */
export const CONTROL_HEADER = 'hatchway-escape';

/** Registrations per request, at most (default of {@link EscapeRegistry}). */
export const DEFAULT_MAX_REGISTRATIONS = 16;

const TOKEN_PREFIX = 'hw1.';
const TOKEN_SHAPE = /^hw1\.[A-Za-z0-9_-]{24}$/;

/** Bytes in a token (`hw1.` and 24 base64url characters): the most a server holds to tell. */
export const TOKEN_LENGTH = 28;

/** The kinds a control field may name. */
const KINDS: ReadonlySet<string> = new Set<EscapeKind>(['websocket', 'trailers', 'push', 'http2', 'upgrade']);

// SPEC §7.3: `hatchway-escape: OWS kind 1*SP token OWS`.
const CONTROL_VALUE = /^[ \t]*([a-z0-9]+) +(hw1\.[A-Za-z0-9_-]{24})[ \t]*$/;

/** A control field's value, parsed. */
export interface ControlValue {
  /** The escape kind the field claims. */
  kind: EscapeKind;
  /** The token: `hw1.` and 24 base64url characters. */
  token: string;
}

/** A control field's value, parsed: `undefined` when it is malformed (it then claims nothing). */
export function parseControl(value: string): ControlValue | undefined {
  const m = CONTROL_VALUE.exec(value);
  if (m === null || !KINDS.has(m[1]!)) return undefined;
  return { kind: m[1] as EscapeKind, token: m[2]! };
}

/** True when `headers` carry a control field. */
export function hasControl(headers: HeaderList): boolean {
  for (let i = 0; i < headers.length; i++) if (isControlName(headers[i]![0])) return true;
  return false;
}

/** True when `name` is the control header's name, in any case. */
export function isControlName(name: string): boolean {
  return name.length === CONTROL_HEADER.length && name.toLowerCase() === CONTROL_HEADER;
}

/** Fields every registration may carry. */
export interface BaseRegistration {
  /** Called once when the registration is released (request over), honoured or not. */
  onRelease?: () => void;
}

/** One registered escape. */
export interface Entry<R extends BaseRegistration = BaseRegistration> {
  /** The escape's kind. */
  readonly kind: EscapeKind;
  /** The token its response must carry in the body and the control field. */
  readonly token: string;
  /** What the app registered (handlers, fallback, `onRelease`). */
  readonly registration: R;
  /** Set when the server honours (or degrades) it: a token is good for one response only. */
  used: boolean;
}

let live = 0;

const NONE: Entry[] = [];
Object.freeze(NONE);

/** Registrations not yet released, across every request of this process (for tests and metrics). */
export function liveRegistrations(): number {
  return live;
}

/** True when `value` has the shape of a hatchway token (not that it is a valid one). */
export function isTokenShaped(value: string): boolean {
  return TOKEN_SHAPE.test(value);
}

/** A request's registry. */
export class EscapeRegistry {
  // Most requests register nothing: share one empty list until the first registration.
  #entries: Entry[] = NONE;
  readonly #max: number;
  readonly #report: ((err: unknown) => void) | ErrorStream | undefined;
  #released = false;

  /**
   * @param max Most registrations (`ERR_HATCHWAY_TOO_MANY_ESCAPES` beyond).
   * @param report Where a release callback's throw goes: a function, or an error stream
   *   (the environ's `errors`, written the error's text) — none: dropped.
   */
  constructor(max = DEFAULT_MAX_REGISTRATIONS, report?: ((err: unknown) => void) | ErrorStream) {
    this.#max = max;
    this.#report = report;
  }

  /** Registrations so far (released or not). */
  get size(): number {
    return this.#entries.length;
  }

  /** True when some body-kind registration has not been used yet. */
  get pendingBody(): boolean {
    for (const e of this.#entries) if (!e.used && e.kind !== 'push') return true;
    return false;
  }

  /** Registers an escape; returns its token. */
  register(kind: EscapeKind, registration: object): string {
    if (this.#released) throw new HatchwayError('ERR_HATCHWAY_REQUEST_OVER');
    if (this.#entries.length >= this.#max) throw new HatchwayError('ERR_HATCHWAY_TOO_MANY_ESCAPES', this.#max);
    if (registration === null || typeof registration !== 'object') throw new HatchwayError('ERR_HATCHWAY_INVALID_REGISTRATION', kind);
    const token = TOKEN_PREFIX + base64url(randomBytes(18));
    if (this.#entries === NONE) this.#entries = [];
    this.#entries.push({ kind, token, registration: registration as BaseRegistration, used: false });
    live++;
    return token;
  }

  /**
   * Finds the unused entry of `kind` whose token is `presented`, comparing against every
   * entry in constant time per comparison.
   */
  match(kind: string, presented: string): Entry | undefined {
    if (!TOKEN_SHAPE.test(presented)) return undefined;
    let found: Entry | undefined;
    for (const entry of this.#entries) {
      const same = timingSafeEqualStrings(presented, entry.token);
      if (same && entry.kind === kind && !entry.used && found === undefined) found = entry;
    }
    return found;
  }

  /** True when `presented` is `entry`'s token, compared in constant time. */
  is(entry: Entry, presented: string): boolean {
    if (presented.length !== TOKEN_LENGTH) return false;
    return timingSafeEqualStrings(presented, entry.token);
  }

  /** True when `presented` is any token of this registry (used or not), compared in constant time. */
  owns(presented: string): boolean {
    if (presented.length !== TOKEN_LENGTH) return false;
    let found = false;
    for (const entry of this.#entries) found = timingSafeEqualStrings(presented, entry.token) || found;
    return found;
  }

  /** True if `text` contains any token of this registry (used or not): it must not leave. */
  leaks(text: string): boolean {
    if (!text.includes(TOKEN_PREFIX)) return false;
    for (const entry of this.#entries) if (text.includes(entry.token)) return true;
    return false;
  }

  /** Every token of this registry (for the body scan). */
  tokens(): string[] {
    return this.#entries.map((e) => e.token);
  }

  /** Called once, after {@link release} released everything (the report extension's backstop). */
  onReleased: (() => void) | undefined;

  /** Releases every registration in reverse order, exactly once; callbacks that throw are reported. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#afterRelease();
  }

  #afterRelease(): void {
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const entry = this.#entries[i]!;
      live--;
      entry.used = true;
      try {
        entry.registration.onRelease?.();
      } catch (err) {
        const report = this.#report;
        if (typeof report === 'function') report(err);
        else report?.write(String(err));
      }
    }
    this.onReleased?.();
  }
}
