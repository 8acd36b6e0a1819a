/**
 * `hatchway/middleware/session` — server-side sessions behind a signed session-id cookie,
 * with a pluggable asynchronous store.
 *
 * Before the app runs, the session named by the cookie is loaded from the store (a cookie
 * whose signature does not verify, or whose session expired, starts a new session under a new
 * id — an id the client made up is never adopted). `getSession(environ)` returns it: `data` is
 * a plain JSON object, `regenerate()` moves it to a fresh id (after a login), `destroy()` ends
 * it, `save()` persists now (for a websocket that changes it later). Before the response is
 * committed the session is saved if its data changed (or always, with `rolling`), and a
 * `Set-Cookie` is sent only when the cookie itself must change: a new session that holds data,
 * a regenerated id, a destroyed session, or every response with `rolling` (to renew the
 * expiry). The in-memory {@link MemoryStore} is the default, with a TTL; a shared store (Redis, a
 * database) implements {@link SessionStore}'s three methods.
 *
 * The app runs inside this middleware's async body (loading the session waits for the store),
 * so the app's `startResponse` is forwarded when its first non-empty chunk comes, or when its
 * body ends: a file body behind it is read through JavaScript rather than sent zero-copy.
 *
 * Escape responses: the token response's status, fields and body bytes pass through, with
 * only a `Set-Cookie` added, so escapes are honoured (SPEC §7.3): the cookie rides the `101`,
 * and a websocket's `onSocket` gets the environ the app saw, session included.
 *
 * @example
 * ```ts
 * import { compose, type App } from 'hatchway';
 * import { session, getSession } from 'hatchway/middleware/session';
 *
 * const app: App = (environ, startResponse) => {
 *   const s = getSession(environ);
 *   s.data.views = Number(s.data.views ?? 0) + 1;
 *   startResponse(200, [['content-type', 'text/plain']]);
 *   return [`${s.data.views} views\n`];
 * };
 * const stack = compose(session({ secrets: [process.env.SESSION_SECRET!], ttl: 3_600_000 }))(app);
 * ```
 *
 * @module
 */
import { parse, serialize, type SerializeOptions } from 'cookie';
import { HatchwayError, chunkLength, type App, type Body, type Chunk, type Environ, type HeaderList, type Middleware, type StartResponse, type Status } from '../src/index.ts';
import type { ConformanceEntry } from '../src/index.ts';
import { sign, unsign } from './cookies.ts';

/** The environ key of the session. */
export const SESSION_KEY = 'session.data';

/** What a session holds: JSON-serialisable data. */
export type SessionData = Record<string, unknown>;

/** Where sessions live. Every method may be asynchronous; `ttl` is in milliseconds. */
export interface SessionStore {
  /** The data stored under `id`, or `undefined` when there is none or it expired. */
  get(id: string): Promise<SessionData | undefined>;
  /** Stores `data` (JSON-serialisable) under `id`, replacing what was there, to expire `ttl` ms from now. */
  set(id: string, data: SessionData, ttl: number): Promise<void>;
  /** Deletes the session `id`; an unknown id is not an error. */
  destroy(id: string): Promise<void>;
}

/** An in-process store with expiry: for one process (workers share nothing, SPEC §8). */
export class MemoryStore implements SessionStore {
  readonly #entries = new Map<string, { json: string; expires: number }>();
  readonly #now: () => number;

  /** @param now the clock (tests pass a fake one). */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  async get(id: string): Promise<SessionData | undefined> {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    if (entry.expires <= this.#now()) {
      this.#entries.delete(id);
      return undefined;
    }
    return JSON.parse(entry.json) as SessionData;
  }

  async set(id: string, data: SessionData, ttl: number): Promise<void> {
    const now = this.#now();
    // Sweep expired entries now and then, so abandoned sessions do not pile up.
    if (this.#entries.size > 0 && this.#entries.size % 256 === 0) for (const [k, e] of this.#entries) if (e.expires <= now) this.#entries.delete(k);
    this.#entries.set(id, { json: JSON.stringify(data), expires: now + ttl });
  }

  async destroy(id: string): Promise<void> {
    this.#entries.delete(id);
  }

  /** The number of live (unexpired, unswept) entries. */
  get size(): number {
    return this.#entries.size;
  }
}

/** One request's session. */
export class Session {
  /** The session id: the session-id cookie's value before signing (a random 144-bit base64url string). */
  id: string;
  /** The session's data: change it freely; it is saved (as JSON) when it changed, before the response is committed. */
  data: SessionData;
  /** No stored session came with the request. */
  readonly isNew: boolean;
  /** @internal the id the request came with, when it named a stored session. */
  readonly loadedId: string | undefined;
  /** @internal */ snapshot: string;
  /** @internal */ regenerated = false;
  /** @internal */ destroyed = false;
  /** @internal */ saver: (() => Promise<void>) | undefined;

  constructor(id: string, data: SessionData, isNew: boolean) {
    this.id = id;
    this.data = data;
    this.isNew = isNew;
    this.loadedId = isNew ? undefined : id;
    this.snapshot = isNew ? '{}' : JSON.stringify(data);
  }

  /** Moves the session to a new id (keeping its data); the old id is destroyed when saved. */
  regenerate(): void {
    this.id = newId();
    this.regenerated = true;
    this.destroyed = false;
  }

  /** Ends the session: its data is dropped and its cookie cleared. */
  destroy(): void {
    this.destroyed = true;
    this.data = {};
  }

  /** Persists the session now (the middleware also does before the response is committed). */
  save(): Promise<void> {
    return this.saver?.() ?? Promise.resolve();
  }
}

/** Options of {@link session}. */
export interface SessionOptions {
  /** Secrets that sign the session-id cookie, newest first (verified with any). */
  secrets: string | readonly string[];
  /** The cookie's name (default `sid`). */
  name?: string;
  /** The store (default: a new {@link MemoryStore}). */
  store?: SessionStore;
  /** Milliseconds a session lives after its last save (default one day). */
  ttl?: number;
  /** Save and re-send the cookie on every response, renewing the expiry (default false). */
  rolling?: boolean;
  /** Cookie attributes (default `httpOnly`, `sameSite: 'lax'`, `path: '/'`, `maxAge` = ttl). */
  cookie?: SerializeOptions;
}

// 144 bits from Web Crypto (every runtime), base64url: 24 characters, as the tokens are.
const newId = (): string => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(18)))).replace(/\+/g, '-').replace(/\//g, '_');

/** The session the session middleware put in `environ` (throws if it is not in the chain). */
export function getSession(environ: Environ): Session {
  const s = environ[SESSION_KEY];
  if (!(s instanceof Session)) throw new TypeError('getSession: the session middleware is not in front of this app');
  return s;
}

/** Session middleware with a pluggable store; Set-Cookie only when the cookie changes. */
export function session(options: SessionOptions): Middleware {
  const secrets = typeof options?.secrets === 'string' ? [options.secrets] : [...(options?.secrets ?? [])];
  if (secrets.length === 0 || secrets.some((s) => typeof s !== 'string' || s.length === 0)) throw new TypeError('session: the secrets option is required');
  const name = options.name ?? 'sid';
  const store = options.store ?? new MemoryStore();
  const ttl = options.ttl ?? 86_400_000;
  if (!(Number.isFinite(ttl) && ttl > 0)) throw new TypeError(`session: ttl must be a positive number of ms, not ${ttl}`);
  const rolling = options.rolling ?? false;
  const cookieOptions: SerializeOptions = { httpOnly: true, sameSite: 'lax', path: '/', maxAge: Math.floor(ttl / 1000), ...options.cookie };

  async function load(environ: Environ): Promise<Session> {
    const header = environ.headers.filter(([n]) => n === 'cookie').map(([, v]) => v).join('; ');
    const raw = header === '' ? undefined : parse(header)[name];
    const id = raw === undefined ? undefined : unsign(name, raw, secrets);
    const data = id === undefined ? undefined : await store.get(id);
    return data === undefined ? new Session(newId(), {}, true) : new Session(id!, data, false);
  }

  /** Saves what changed; returns the Set-Cookie fields the change needs. */
  async function persist(s: Session, hadCookie: boolean): Promise<HeaderList> {
    if (s.destroyed) {
      if (s.loadedId !== undefined) await store.destroy(s.loadedId);
      const { maxAge: _maxAge, ...rest } = cookieOptions;
      return hadCookie ? [['set-cookie', serialize(name, '', { ...rest, expires: new Date(0) })]] : [];
    }
    const json = JSON.stringify(s.data);
    const changed = json !== s.snapshot;
    if (s.isNew && !changed && !s.regenerated) return []; // nothing worth a cookie yet
    if (s.regenerated && s.loadedId !== undefined && s.loadedId !== s.id) await store.destroy(s.loadedId);
    if (changed || rolling || s.regenerated || s.isNew) await store.set(s.id, s.data, ttl);
    s.snapshot = json;
    const send = s.isNew || s.regenerated || rolling;
    return send ? [['set-cookie', serialize(name, sign(name, s.id, secrets[0]!), cookieOptions)]] : [];
  }

  return (app: App): App =>
    function sessionApp(environ: Environ, startResponse: StartResponse): Body {
      let inner: Body | undefined;
      let closed = false;
      return {
        async *[Symbol.asyncIterator](): AsyncGenerator<Chunk> {
          const s = await load(environ);
          if (closed) return;
          const hadCookie = environ.headers.some(([n, v]) => n === 'cookie' && v.includes(`${name}=`));
          s.saver = async () => void (await persist(s, hadCookie));
          let pending: [Status, HeaderList, unknown] | undefined;
          let forwarded = false;
          inner = app({ ...environ, [SESSION_KEY]: s }, function sessionStartResponse(status, headers, excInfo) {
            if (forwarded) return startResponse(status, headers, excInfo);
            if (pending !== undefined && excInfo === undefined) throw new HatchwayError('ERR_HATCHWAY_START_RESPONSE_TWICE');
            pending = [status, headers, excInfo];
          });
          if (closed) {
            inner.close?.();
            return;
          }
          const forward = async (): Promise<void> => {
            if (forwarded || pending === undefined) return;
            const fields = await persist(s, hadCookie);
            const [status, headers, excInfo] = pending;
            forwarded = true;
            startResponse(status, Array.isArray(headers) ? [...headers, ...fields] : headers, excInfo);
          };
          for await (const chunk of inner as AsyncIterable<Chunk>) {
            if (chunkLength(chunk) > 0) await forward();
            yield chunk;
          }
          await forward();
          // Changed while the body streamed: save the data (the cookie has left already).
          if (!s.destroyed && JSON.stringify(s.data) !== s.snapshot && !s.isNew) await persist(s, hadCookie);
        },
        close() {
          closed = true;
          inner?.close?.();
        },
      };
    };
}

/** For `npm run conformance` and `hatchway check` (docs/CONFORMANCE.md): this middleware as it is checked. */
export const conformance: ConformanceEntry[] = [{ name: 'session', make: (): Middleware => session({ secrets: ['conformance'] }) }];
