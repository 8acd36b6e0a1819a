/**
 * Paths that do not decode (SPEC §2.2). `pathInfo` is percent-decoded UTF-8; a target like
 * `/%` or `/%c3%28` has no such decoding. node:http hands it to a listener as it came (Express's
 * static middleware then falls through, or answers 400 itself), so an app that hosts Node code
 * takes it too; every other app never sees it: the runner answers 400 before calling it.
 */
import { httpError } from '../wire/errors.ts';
import { decodePath, splitTarget } from '../protocol/target.ts';
import type { App, Environ } from './types.ts';

/** The environ key that says the path did not decode: `pathInfo` is then the raw path. */
export const UNDECODED_PATH = 'hatchway.undecodedPath';

const kTakesRawPaths = Symbol.for('hatchway.takesUndecodedPaths');

/**
 * Marks `app` as one that takes a request whose path does not decode (its `pathInfo` is the raw
 * path, `environ['hatchway.undecodedPath']` is `true`) and answers it itself. Adapters that
 * host Node code mark their apps; a middleware whose app hands the request on unchanged may
 * mark its app when the inner app is marked ({@link takesUndecodedPaths}). Returns `app`.
 */
export function acceptUndecodedPaths<A extends App>(app: A): A {
  (app as unknown as Record<symbol, boolean>)[kTakesRawPaths] = true;
  return app;
}

/** True when `app` was marked by {@link acceptUndecodedPaths}. */
export function takesUndecodedPaths(app: App): boolean {
  return (app as unknown as Record<symbol, boolean | undefined>)[kTakesRawPaths] === true;
}

/**
 * For the runner, before it calls `app`: a path that does not decode is marked in the environ
 * for an app that takes it, and refused with a 400 (`ERR_HATCHWAY_BAD_PATH`) for any other.
 */
export function refusesPath(app: App, environ: Environ): void {
  const target = environ.target;
  if (target.indexOf('%') === -1 || environ[UNDECODED_PATH] === true) return;
  if (environ.pathInfo.indexOf('%') === -1) return; // it decoded: a raw path keeps its '%'
  if (decodePath(splitTarget(target, environ.method, { badPath: 'keep' }).path) !== undefined) return;
  if (!takesUndecodedPaths(app)) throw httpError('ERR_HATCHWAY_BAD_PATH', 'malformed percent-encoding');
  environ[UNDECODED_PATH] = true;
}
