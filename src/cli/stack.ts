/**
 * What `hatchway serve` wraps around the app, outermost first: trusted proxy headers
 * (`--proxy-headers`, the bundled `middleware/proxy-headers`), the access log (the bundled
 * `middleware/access-log`, on by default), the concurrency limit (`--limit-concurrency`),
 * the request count of `--max-requests`, and the mount point (`--root-path`).
 */
import { createWriteStream, openSync } from 'node:fs';
import type { App, Body, Environ, Middleware, StartResponse } from '../gateway/types.ts';
import { onResponse } from '../gateway/report.ts';
import { accessLog } from '../../middleware/access-log.ts';
import { proxyHeaders } from '../../middleware/proxy-headers.ts';

/**
 * `--limit-concurrency N`: a request beyond N in flight in this process gets a 503 at once,
 * as uvicorn's `--limit-concurrency` does. A request counts until the server reports its
 * response done (the report extension, SPEC §7.9), so a streaming response counts while it
 * streams and a websocket while its handshake runs.
 */
export function limitConcurrency(limit: number): Middleware {
  let active = 0;
  return (app: App): App =>
    function limitConcurrencyApp(environ: Environ, startResponse: StartResponse): Body {
      if (active >= limit) {
        startResponse(503, [
          ['content-type', 'text/plain; charset=utf-8'],
          ['retry-after', '1'],
        ]);
        return ['Service Unavailable: too many requests in flight\n'];
      }
      if (onResponse(environ, () => active--)) active++;
      return app(environ, startResponse);
    };
}

/**
 * `--root-path /api`: the app is mounted at `/api` behind a proxy. `scriptName` gets the
 * prefix; a `pathInfo` that starts with it (the proxy did not strip it) loses it.
 */
export function rootPath(root: string): Middleware {
  return (app: App): App =>
    function rootPathApp(environ: Environ, startResponse: StartResponse): Body {
      const path = environ.pathInfo;
      const pathInfo = path === root ? '' : path.startsWith(`${root}/`) ? path.slice(root.length) : path;
      return app({ ...environ, scriptName: root + environ.scriptName, pathInfo }, startResponse);
    };
}

/** Calls `reached(n)` once, when the `limit`-th request arrives (0 = never). */
export function countRequests(limit: number, reached: (n: number) => void): Middleware {
  let served = 0;
  return (app: App): App =>
    function countRequestsApp(environ: Environ, startResponse: StartResponse): Body {
      if (++served === limit) reached(served);
      return app(environ, startResponse);
    };
}

/** The CLI's options for the stack. */
export interface StackOptions {
  accessLog: string;
  accessLogFormat: 'common' | 'combined' | 'json';
  proxyHeaders: boolean;
  forwardedAllowIps: string[];
  rootPath?: string | undefined;
  limitConcurrency: number;
  maxRequests: number;
  onMaxRequests: (n: number) => void;
}

/** `--forwarded-allow-ips` as the trust of `proxyHeaders`: `*` is everyone. */
export function trustFrom(list: string[]): string[] | ((address: string) => boolean) {
  return list.includes('*') ? () => true : list;
}

export function buildStack(app: App, o: StackOptions): App {
  let stack = app;
  if (o.rootPath) stack = rootPath(o.rootPath)(stack);
  if (o.maxRequests > 0) stack = countRequests(o.maxRequests, o.onMaxRequests)(stack);
  if (o.limitConcurrency > 0) stack = limitConcurrency(o.limitConcurrency)(stack);
  if (o.accessLog !== 'off') {
    const sink = o.accessLog === '-' ? process.stdout : createWriteStream('', { fd: openSync(o.accessLog, 'a') });
    stack = accessLog({ format: o.accessLogFormat, sink })(stack);
  }
  if (o.proxyHeaders) stack = proxyHeaders({ trust: trustFrom(o.forwardedAllowIps) })(stack);
  return stack;
}
