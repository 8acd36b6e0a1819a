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
import { decodePath, splitTarget } from '../../src/host.ts';

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
  const split = splitTarget(environ.target, environ.method, { badPath: 'keep' });
  const path = split.path;
  const script = environ.scriptName;
  // A path that did not decode reaches only apps that take it raw (SPEC §2.2): it is its own pathInfo.
  if (script === '' && environ.pathInfo === path && decodePath(path) === undefined) return ['', path];
  if (path[0] === '/' && decodePath(path) === script + environ.pathInfo) {
    if (script === '') return ['', path];
    // Find the raw prefix that decodes to scriptName: it ends at a `/` or at the end.
    for (let i = 1; i <= path.length; i++) {
      if ((i === path.length || path[i] === '/') && decodePath(path.slice(0, i)) === script) return [path.slice(0, i), path.slice(i)];
    }
  }
  // Middleware rewrote the path: encode what the environ says now.
  if (path[0] !== '/' && script === '' && environ.pathInfo === split.pathInfo) return ['', path]; // '*' and CONNECT
  return [encodePath(script), encodePath(environ.pathInfo)];
}

/**
 * What a handler mounted at `scriptName` sees as its URL: the raw path below the mount point
 * and the raw query, like Connect's `req.url` inside `app.use('/mount', …)`.
 */
export function relativeUrl(environ: Environ): string {
  // Most requests: nothing mounted, nothing rewritten, nothing encoded; the URL is the target.
  const { target, pathInfo, queryString } = environ;
  if (environ.scriptName === '' && target[0] === '/' && target.startsWith(pathInfo) && !pathInfo.includes('%')) {
    if (queryString === '' ? target.length === pathInfo.length : target.length === pathInfo.length + 1 + queryString.length && target.charCodeAt(pathInfo.length) === 63 /* ? */ && target.endsWith(queryString)) {
      return target;
    }
  }
  let [, rest] = rawPaths(environ);
  if (rest === '' || (rest[0] !== '/' && rest !== '*' && environ.method !== 'CONNECT')) rest = '/' + rest;
  return environ.queryString === '' ? rest : `${rest}?${environ.queryString}`;
}

/** The environ fields that a rewritten relative URL (`req.url` after middleware) stands for. */
export function environForUrl(environ: Environ, url: string): Pick<Environ, 'target' | 'pathInfo' | 'queryString'> {
  const [script] = rawPaths(environ);
  const { path, pathInfo, queryString } = splitTarget(url, environ.method, { badPath: 'keep' });
  return {
    target: path[0] === '/' ? script + url : url,
    pathInfo,
    queryString,
  };
}
