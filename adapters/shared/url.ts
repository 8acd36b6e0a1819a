/**
 * Request targets between the two worlds: the URL a mounted Node/fetch handler sees
 * (`req.url`, relative to the mount point, raw) and the environ's `scriptName`/`pathInfo`
 * (decoded) and `queryString` (raw). SPEC §2.2.
 *
 * The raw bytes of the client's target are kept whenever they still describe the environ, so
 * a `%2F` or a `+` reaches the handler exactly as the client sent it; only a path that
 * middleware rewrote is re-encoded.
 */
import type { Environ } from '../../src/index.ts';

/** A target split into its raw path and raw query (no `?`). */
export interface RawTarget {
  path: string;
  query: string;
}

/** Splits a request target (origin-, absolute-, asterisk- or authority-form) into raw path and query. */
export function splitRaw(target: string, method: string): RawTarget {
  if (target === '*' || (method === 'CONNECT' && target[0] !== '/')) return { path: target, query: '' };
  let path = target;
  if (target[0] !== '/') {
    // absolute-form (RFC 9112 §3.2.2): drop scheme and authority
    const scheme = target.indexOf('://');
    const slash = scheme === -1 ? -1 : target.indexOf('/', scheme + 3);
    path = slash === -1 ? '/' : target.slice(slash);
  }
  const q = path.indexOf('?');
  return q === -1 ? { path, query: '' } : { path: path.slice(0, q), query: path.slice(q + 1) };
}

/** `decodeURIComponent`, or `undefined` for malformed percent-encoding. */
export function decodePath(raw: string): string | undefined {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** Percent-encodes a decoded path for a URL, keeping `/` (and every other character legal in a path). */
export function encodePath(path: string): string {
  try {
    return encodeURI(path).replace(/[?#]/g, (c) => (c === '?' ? '%3F' : '%23'));
  } catch {
    // a lone surrogate: nothing sensible to send; keep what can be kept
    return encodeURI(path.replace(/[\ud800-\udfff]/g, '\ufffd')).replace(/[?#]/g, (c) => (c === '?' ? '%3F' : '%23'));
  }
}

/** The environ's path split at `scriptName`, in raw form: `[rawScriptName, rawPathInfo]`. */
export function rawPaths(environ: Environ): [script: string, rest: string] {
  const { path } = splitRaw(environ.target, environ.method);
  const script = environ.scriptName;
  if (path[0] === '/' && decodePath(path) === script + environ.pathInfo) {
    if (script === '') return ['', path];
    // Find the raw prefix that decodes to scriptName: it ends at a `/` or at the end.
    for (let i = 1; i <= path.length; i++) {
      if ((i === path.length || path[i] === '/') && decodePath(path.slice(0, i)) === script) return [path.slice(0, i), path.slice(i)];
    }
  }
  // Middleware rewrote the path: encode what the environ says now.
  if (path[0] !== '/' && script === '' && environ.pathInfo === path) return ['', path]; // '*' and CONNECT
  return [encodePath(script), encodePath(environ.pathInfo)];
}

/**
 * What a handler mounted at `scriptName` sees as its URL: the raw path below the mount point
 * and the raw query, like Connect's `req.url` inside `app.use('/mount', …)`.
 */
export function relativeUrl(environ: Environ): string {
  let [, rest] = rawPaths(environ);
  if (rest === '' || (rest[0] !== '/' && rest !== '*' && environ.method !== 'CONNECT')) rest = '/' + rest;
  return environ.queryString === '' ? rest : `${rest}?${environ.queryString}`;
}

/** The environ fields that a rewritten relative URL (`req.url` after middleware) stands for. */
export function environForUrl(environ: Environ, url: string): Pick<Environ, 'target' | 'pathInfo' | 'queryString'> {
  const [script] = rawPaths(environ);
  const { path, query } = splitRaw(url, environ.method);
  const pathInfo = decodePath(path) ?? path;
  return {
    target: path[0] === '/' ? script + url : url,
    pathInfo,
    queryString: query,
  };
}
