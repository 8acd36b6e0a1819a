/**
 * Building the environ from what a front-end parsed: the target split, the decoded path,
 * the per-request error stream and id. Shared by every protocol front-end so the environ
 * has the same shape on every path (SPEC §2).
 */
import createError from 'http-errors';
import type { ErrorStream } from '../gateway/types.ts';

/** The target split into its decoded path and raw query (SPEC §2.2). */
export interface SplitTarget {
  pathInfo: string;
  queryString: string;
}

/**
 * Splits a request target: origin-form (`/a%20b?q`), absolute-form (`http://h/p?q`),
 * asterisk-form (`*`) and authority-form (CONNECT `host:port`). Throws a 400 `HttpError`
 * for a path that does not decode as UTF-8.
 */
export function splitTarget(target: string, method: string): SplitTarget {
  if (target === '*' || (method === 'CONNECT' && target[0] !== '/')) return { pathInfo: target === '*' ? '*' : '', queryString: '' };
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
  let pathInfo = rawPath;
  if (rawPath.includes('%')) {
    try {
      pathInfo = decodeURIComponent(rawPath);
    } catch {
      throw createError(400, 'malformed percent-encoding in the request path', { code: 'ERR_HATCHWAY_BAD_PATH' });
    }
  }
  if (pathInfo.includes('\0')) throw createError(400, 'NUL in the request path', { code: 'ERR_HATCHWAY_BAD_PATH' });
  return { pathInfo, queryString };
}

/** Where a server's error lines go. */
export type LogFn = (line: string) => void;

/** The per-request error stream: each line prefixed with the request id. */
export class RequestErrors implements ErrorStream {
  readonly #id: string;
  readonly #log: LogFn;
  constructor(id: string, log: LogFn) {
    this.#id = id;
    this.#log = log;
  }
  write(message: string): void {
    const text = message.endsWith('\n') ? message.slice(0, -1) : message;
    this.#log(`[hatchway ${this.#id}] ${text.replace(/\n/g, `\n[hatchway ${this.#id}] `)}`);
  }
}

/** Issues request ids unique within this process: a random prefix and a counter. */
export function requestIds(): () => string {
  const prefix = Math.floor(Math.random() * 0x10000).toString(16).padStart(4, '0') + (process.pid % 0x10000).toString(16);
  let n = 0;
  return () => `${prefix}-${(++n).toString(36)}`;
}
