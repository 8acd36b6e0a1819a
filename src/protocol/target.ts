/**
 * The request target (RFC 9112 §3.2), sans-IO: split into the raw path, the decoded
 * `pathInfo` and the raw `queryString` the environ carries (SPEC §2.2). The server's front-ends
 * and the adapters split with this one function, so a target means the same thing on every host.
 */
import { httpError } from '../wire/errors.ts';

/** A target split (SPEC §2.2). */
export interface SplitTarget {
  /** The raw path as sent: `/a%20b`, or `*`, or the authority of a CONNECT (`h:443`). */
  path: string;
  /** The decoded path: `/a b`; `*` for asterisk-form, `''` for authority-form. */
  pathInfo: string;
  /** The raw query after `?`, `''` if none. */
  queryString: string;
}

/** Options of {@link splitTarget}. */
export interface SplitOptions {
  /**
   * What a path that does not decode becomes. `'defer'` (the default, SPEC §2.2): a malformed
   * percent-encoding keeps the raw path as `pathInfo` — the runner then refuses it with a 400
   * unless the app takes undecoded paths — and a NUL throws the 400. `'throw'` throws the 400
   * (`ERR_HATCHWAY_BAD_PATH`) for both; `'keep'` keeps both raw, for a URL that middleware
   * rewrote, where the 400 is no longer ours to send.
   */
  badPath?: 'defer' | 'throw' | 'keep';
}

/**
 * Splits a request target: origin-form (`/a%20b?q`), absolute-form (`http://h/p?q`),
 * asterisk-form (`*`) and authority-form (CONNECT `host:port`). Throws a 400 `HttpError`
 * (`ERR_HATCHWAY_BAD_PATH`) for a path that decodes to a NUL; one that does not decode as
 * UTF-8 keeps its raw form as `pathInfo` (see {@link SplitOptions.badPath}).
 */
export function splitTarget(target: string, method: string, options?: SplitOptions): SplitTarget {
  if (target === '*') return { path: '*', pathInfo: '*', queryString: '' };
  if (method === 'CONNECT' && target[0] !== '/') return { path: target, pathInfo: '', queryString: '' };
  let path = target;
  if (target[0] !== '/') {
    // absolute-form: scheme://authority[/path][?query] (RFC 9112 §3.2.2); the authority ends
    // at the first '/' or '?', and an empty path is '/' (RFC 9110 §4.2.3).
    const scheme = target.indexOf('://');
    let end = scheme === -1 ? -1 : scheme + 3;
    while (end !== -1 && end < target.length && target[end] !== '/' && target[end] !== '?') end++;
    path = end === -1 || end === target.length ? '/' : target[end] === '?' ? `/${target.slice(end)}` : target.slice(end);
  }
  const q = path.indexOf('?');
  const rawPath = q === -1 ? path : path.slice(0, q);
  const queryString = q === -1 ? '' : path.slice(q + 1);
  let pathInfo = decodePath(rawPath);
  if (pathInfo === undefined) {
    if (options?.badPath !== 'throw') pathInfo = rawPath;
    else throw httpError('ERR_HATCHWAY_BAD_PATH', 'malformed percent-encoding');
  }
  if (pathInfo.includes('\0') && options?.badPath !== 'keep') throw httpError('ERR_HATCHWAY_BAD_PATH', 'NUL');
  return { path: rawPath, pathInfo, queryString };
}

/** A raw path percent-decoded as UTF-8, or `undefined` when it does not decode. */
export function decodePath(raw: string): string | undefined {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}
