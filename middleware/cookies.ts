/**
 * `hatchway/middleware/cookies` — the request's cookies parsed into the environ (`cookie`
 * package), signed cookies, and a way to set cookies on the response.
 *
 * `getCookies(environ)` returns the {@link CookieJar} at `environ['cookies.jar']`: `get(name)`
 * reads a cookie as sent, `getSigned(name)` only when its HMAC-SHA256 signature verifies with
 * one of the `secrets` (rotation: sign with the first, verify with any), `set()` and `delete()`
 * queue `Set-Cookie` fields that are added to the response when the app calls
 * `startResponse` — so set cookies before that. The signature covers the cookie's name too, so
 * a signed value cannot be moved to another cookie. The HMAC is `node:crypto`'s where the
 * runtime has it (Node, Bun, Deno), else a JavaScript one giving the same bytes (workerd: Web
 * Crypto's HMAC is asynchronous, and `getSigned` is not).
 *
 * Escape responses: this middleware only adds `Set-Cookie` fields, so token responses are
 * escape-safe (SPEC §7.3): the cookies ride the `101` of a websocket or the head of a trailers
 * response, and a fallback (a 426) carries them too.
 *
 * @example
 * ```ts
 * import { compose, type App } from 'hatchway';
 * import { cookies, getCookies } from 'hatchway/middleware/cookies';
 *
 * const app: App = (environ, startResponse) => {
 *   const jar = getCookies(environ);
 *   const visits = Number(jar.getSigned('visits') ?? 0) + 1;
 *   jar.set('visits', String(visits), { signed: true, httpOnly: true, path: '/' });
 *   startResponse(200, [['content-type', 'text/plain']]);
 *   return [`visit ${visits}\n`];
 * };
 * const stack = compose(cookies({ secrets: [process.env.COOKIE_SECRET!] }))(app);
 * ```
 *
 * @module
 */
import { parse, serialize, type SerializeOptions } from 'cookie';
import { type App, type Body, type Environ, type HeaderList, type Middleware, type StartResponse } from '../src/index.ts';
import type { ConformanceEntry } from '../src/index.ts';

/** The environ key of the cookie jar. */
export const COOKIES_KEY = 'cookies.jar';

/** Options of one `Set-Cookie` (the `cookie` package's), plus `signed`. */
export interface SetCookieOptions extends SerializeOptions {
  /** Sign the value with the first secret. */
  signed?: boolean;
}

/** Options of {@link cookies}. */
export interface CookiesOptions {
  /** Secrets for signed cookies, newest first: sign with the first, verify with any. */
  secrets?: string | readonly string[];
  /** Defaults merged into every `set()` (e.g. `{ path: '/', sameSite: 'lax' }`). */
  defaults?: SetCookieOptions;
}

// Node's createHmac where the runtime has node:crypto (Node, Bun, Deno; loaded through
// process.getBuiltinModule, so that this module loads without it), else the portable one below.
const nodeCrypto = (globalThis as { process?: NodeJS.Process }).process?.getBuiltinModule?.('node:crypto');
const encoder = new TextEncoder();

/** The HMAC-SHA256 of `data` under `secret` (both UTF-8), base64url. */
function signature(secret: string, data: string): string {
  if (nodeCrypto !== undefined) return nodeCrypto.createHmac('sha256', secret).update(data).digest('base64url');
  const mac = hmacSha256(encoder.encode(secret), encoder.encode(data));
  return btoa(String.fromCharCode(...mac)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Signs `value` as the cookie `name`: `value.signature` (HMAC-SHA256, base64url). */
export function sign(name: string, value: string, secret: string): string {
  return `${value}.${signature(secret, `${name}=${value}`)}`;
}

/** True when `a` and `b` are equal, in time that depends only on their lengths. */
function sameSignature(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The value of a signed cookie whose signature verifies with one of `secrets`, else `undefined`. */
export function unsign(name: string, signed: string, secrets: readonly string[]): string | undefined {
  const dot = signed.lastIndexOf('.');
  if (dot === -1) return undefined;
  const value = signed.slice(0, dot);
  const given = signed.slice(dot + 1);
  for (const secret of secrets) if (sameSignature(signature(secret, `${name}=${value}`), given)) return value;
  return undefined;
}

/** The request's cookies, and the cookies to set on the response. */
export class CookieJar {
  readonly #cookies: Record<string, string | undefined>;
  readonly #secrets: readonly string[];
  readonly #defaults: SetCookieOptions;
  readonly #out: string[] = [];
  #sent = false;

  constructor(header: string | undefined, secrets: readonly string[], defaults: SetCookieOptions = {}) {
    this.#cookies = header === undefined ? {} : parse(header);
    this.#secrets = secrets;
    this.#defaults = defaults;
  }

  /** The cookie `name` as the client sent it. */
  get(name: string): string | undefined {
    return this.#cookies[name];
  }

  /** The cookie `name` when its signature verifies, else `undefined`. */
  getSigned(name: string): string | undefined {
    const raw = this.#cookies[name];
    return raw === undefined ? undefined : unsign(name, raw, this.#secrets);
  }

  /** Every cookie the client sent, as sent. */
  all(): Record<string, string> {
    return Object.fromEntries(Object.entries(this.#cookies).filter((e): e is [string, string] => e[1] !== undefined));
  }

  /** Queues a `Set-Cookie`; throws `ERR_COOKIES_RESPONSE_STARTED` once the response has started. */
  set(name: string, value: string, options: SetCookieOptions = {}): void {
    if (this.#sent) throw Object.assign(new Error('cookies: set cookies before startResponse'), { code: 'ERR_COOKIES_RESPONSE_STARTED' });
    const { signed, ...rest } = { ...this.#defaults, ...options };
    if (signed && this.#secrets.length === 0) throw new TypeError('cookies: a signed cookie needs the secrets option');
    this.#out.push(serialize(name, signed ? sign(name, value, this.#secrets[0]!) : value, rest));
  }

  /** Queues a `Set-Cookie` that expires `name` now (use the same `path`/`domain` it was set with). */
  delete(name: string, options: SerializeOptions = {}): void {
    const { signed: _signed, ...defaults } = this.#defaults;
    this.set(name, '', { ...defaults, ...options, signed: false, expires: new Date(0), maxAge: 0 });
  }

  /** The queued `Set-Cookie` fields; used by the middleware when the app starts its response. */
  fields(): HeaderList {
    return this.#out.map((v) => ['set-cookie', v]);
  }

  /** @internal */
  markSent(): void {
    this.#sent = true;
  }
}

/** The cookie jar the cookies middleware put in `environ` (throws if it is not in the chain). */
export function getCookies(environ: Environ): CookieJar {
  const jar = environ[COOKIES_KEY];
  if (!(jar instanceof CookieJar)) throw new TypeError('getCookies: the cookies middleware is not in front of this app');
  return jar;
}

/** Cookies middleware: parses `Cookie`, adds queued `Set-Cookie` fields to the response. */
export function cookies(options: CookiesOptions = {}): Middleware {
  const secrets = typeof options.secrets === 'string' ? [options.secrets] : [...(options.secrets ?? [])];
  if (secrets.some((s) => typeof s !== 'string' || s.length === 0)) throw new TypeError('cookies: secrets must be non-empty strings');
  const defaults = { ...options.defaults };
  return (app: App): App =>
    function cookiesApp(environ: Environ, startResponse: StartResponse): Body {
      // HTTP/2 joins repeated cookie fields with '; ' (RFC 9113 §8.2.3); do the same for HTTP/1.1.
      const values = environ.headers.filter(([n]) => n === 'cookie').map(([, v]) => v);
      const jar = new CookieJar(values.length === 0 ? undefined : values.join('; '), secrets, defaults);
      return app({ ...environ, [COOKIES_KEY]: jar }, function cookiesStartResponse(status, headers, excInfo) {
        const out = Array.isArray(headers) ? [...headers, ...jar.fields()] : headers;
        jar.markSent();
        startResponse(status, out, excInfo);
      });
    };
}

/** For `npm run conformance` and `hatchway check` (docs/CONFORMANCE.md): this middleware as it is checked. */
export const conformance: ConformanceEntry[] = [{ name: 'cookies', make: (): Middleware => cookies() }];

// SHA-256 (FIPS 180-4) and HMAC (RFC 2104), for runtimes without node:crypto (workerd): Web
// Crypto's HMAC is asynchronous, and reading a signed cookie is not.
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74,
  0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d,
  0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e,
  0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
  0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n));

function sha256(data: Uint8Array): Uint8Array {
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const padded = new Uint8Array((data.length + 72) & ~63); // data, 0x80, zeros, the 64-bit length
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(data.length / 0x20000000));
  view.setUint32(padded.length - 4, data.length * 8);
  const w = new Uint32Array(64);
  for (let block = 0; block < padded.length; block += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(block + i * 4);
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15]!;
      const b = w[i - 2]!;
      w[i] = w[i - 16]! + (rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3)) + w[i - 7]! + (rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10));
    }
    let [a, b, c, d, e, f, g, k] = h as unknown as number[];
    for (let i = 0; i < 64; i++) {
      const t1 = (k! + (rotr(e!, 6) ^ rotr(e!, 11) ^ rotr(e!, 25)) + ((e! & f!) ^ (~e! & g!)) + K[i]! + w[i]!) | 0;
      const t2 = ((rotr(a!, 2) ^ rotr(a!, 13) ^ rotr(a!, 22)) + ((a! & b!) ^ (a! & c!) ^ (b! & c!))) | 0;
      k = g;
      g = f;
      f = e;
      e = (d! + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0]! += a!;
    h[1]! += b!;
    h[2]! += c!;
    h[3]! += d!;
    h[4]! += e!;
    h[5]! += f!;
    h[6]! += g!;
    h[7]! += k!;
  }
  const out = new Uint8Array(32);
  const digest = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) digest.setUint32(i * 4, h[i]!);
  return out;
}

/**
 * HMAC-SHA256 in JavaScript: what `sign` uses where the runtime has no `node:crypto`.
 *
 * @internal
 */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  const block = new Uint8Array(64);
  block.set(key.length > 64 ? sha256(key) : key);
  const inner = new Uint8Array(64 + data.length);
  const outer = new Uint8Array(64 + 32);
  for (let i = 0; i < 64; i++) {
    inner[i] = block[i]! ^ 0x36;
    outer[i] = block[i]! ^ 0x5c;
  }
  inner.set(data, 64);
  outer.set(sha256(inner), 64);
  return sha256(outer);
}
