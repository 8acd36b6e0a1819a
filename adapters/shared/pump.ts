/**
 * Writing a hatchway app's response through a Node response that middleware may have patched
 * (compression's `write`, express-session's `end`, on-headers' `writeHead`): status and
 * headers go into the header map, then the body goes through `res.write()`/`res.end()` with
 * backpressure. A chunk nobody patched reaches the hatchway body as the same object.
 */
import type { ServerResponse } from 'node:http';
import { FLUSH, bodyForbidden } from '../../src/index.ts';
import type { App, Chunk, Environ } from '../../src/index.ts';
import { drive, totalLength, type Committed } from './drive.ts';
import { mergeHeaders } from './headers.ts';
import { whenDrained } from '../../src/host.ts';

/** Resolves when `res` can take more data, or is gone. */
export function drainOrClose(res: ServerResponse): Promise<void> {
  return whenDrained(res);
}

/** Writes a committed response into `res`; rejects if the body fails after its commit. */
export async function writeCommitted(committed: Committed, res: ServerResponse, method: string): Promise<void> {
  try {
    mergeHeaders(res, committed.headers);
    res.statusCode = committed.status;
    if (committed.reason !== undefined) res.statusMessage = committed.reason;
    const bodyless = bodyForbidden(method, committed.status);
    const chunks = committed.chunks;
    if (committed.complete) {
      // A known length: one end(data) lets Node set Content-Length itself, as for a route.
      if (chunks.length <= 1 || bodyless) {
        if (chunks.length === 1 && !bodyless) res.end(chunks[0]);
        else res.end();
        return;
      }
      if (!res.hasHeader('content-length')) res.setHeader('Content-Length', totalLength(chunks));
    }
    if (!bodyless) {
      for (let i = 0, chunk: Chunk | undefined = chunks[0]; chunk !== undefined; chunk = i + 1 < chunks.length ? chunks[++i] : await next(committed, res)) {
        if (chunk === FLUSH) res.flushHeaders(); // the inner app committed early: so does this layer
        else if (!res.write(chunk)) await drainOrClose(res);
      }
    }
    if (!res.destroyed) res.end();
  } finally {
    committed.close();
  }
}

function next(committed: Committed, res: ServerResponse): Promise<Chunk | undefined> {
  return res.destroyed ? Promise.resolve(undefined) : committed.next();
}

/**
 * Runs `app` for `environ` and writes its response into `res`. An error before the app's
 * commit goes to `onEarlyError` (Express-style error handling still possible); one after it
 * goes to `onLateError` (too late to answer: abort).
 */
export async function pumpApp(app: App, environ: Environ, res: ServerResponse, onEarlyError: (err: unknown) => void, onLateError: (err: unknown) => void): Promise<void> {
  let committed: Committed;
  try {
    committed = await drive(app, environ);
  } catch (err) {
    onEarlyError(err);
    return;
  }
  try {
    await writeCommitted(committed, res, environ.method);
  } catch (err) {
    onLateError(err);
  }
}
