/**
 * `hatchway/middleware/cookies` — the request's cookies parsed into the environ (`cookie`
 * package), signed cookies, and a way to set cookies on the response.
 *
 * `getCookies(environ)` returns the {@link CookieJar} at `environ['cookies.jar']`: `get(name)`
 * reads a cookie as sent, `getSigned(name)` only when its HMAC-SHA256 signature verifies with
 * one of the `secrets` (rotation: sign with the first, verify with any), `set()` and `delete()`
 * queue `Set-Cookie` fields that are added to the response when the app calls
 * `startResponse` — so set cookies before that. The signature covers the cookie's name too, so
 * a signed value cannot be moved to another cookie.
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
import { createHmac, timingSafeEqual } from 'node:crypto';
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

/** Signs `value` as the cookie `name`: `value.signature` (HMAC-SHA256, base64url). */
export function sign(name: string, value: string, secret: string): string {
  return `${value}.${createHmac('sha256', secret).update(`${name}=${value}`).digest('base64url')}`;
}

/** The value of a signed cookie whose signature verifies with one of `secrets`, else `undefined`. */
export function unsign(name: string, signed: string, secrets: readonly string[]): string | undefined {
  const dot = signed.lastIndexOf('.');
  if (dot === -1) return undefined;
  const value = signed.slice(0, dot);
  const given = Buffer.from(signed.slice(dot + 1));
  for (const secret of secrets) {
    const expected = Buffer.from(createHmac('sha256', secret).update(`${name}=${value}`).digest('base64url'));
    if (expected.length === given.length && timingSafeEqual(expected, given)) return value;
  }
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
