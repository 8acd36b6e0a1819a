/**
 * Node request listeners ↔ hatchway apps.
 *
 * - {@link fromNodeListener} hosts any `(req, res) => void` listener — a whole Express 4 or 5
 *   app, a Koa `callback()`, a plain handler — as a hatchway app. The listener gets a real
 *   `http.IncomingMessage` and a real `http.ServerResponse` (so Express's prototype swap works),
 *   its request body streams from `environ.input`, and its response streams into the hatchway
 *   body as it writes, with backpressure (`write()` returns `false`, `'drain'` follows).
 *   Over HTTP/2 the objects stay HTTP/1-shaped: `httpVersion` is `'2.0'` and `:authority`
 *   becomes the `Host` header.
 * - {@link toNodeListener} turns a hatchway app into a listener for any `node:http`,
 *   `node:https` or `node:http2` (compatibility API) server. Such a host has no escape
 *   hatches: every `environ.features` flag is `false`.
 *
 * Fidelity and limits: `docs/ADAPTERS.md`.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { run } from '../src/index.ts';
import { acceptUndecodedPaths } from '../src/host.ts';
import type { App } from '../src/index.ts';
import { NodeExchange } from './node-objects/exchange.ts';
import { HostSink, environFromHost, refuse, type HostOptions, type HostRequest, type HostResponse } from './node-objects/host.ts';

/** A Node request listener: what `http.createServer()` takes, and what an Express app is. */
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => unknown;

/**
 * Hosts a Node request listener as a hatchway app.
 *
 * The listener runs when the app is called. `startResponse` is called when the listener's head
 * is settled (its `writeHead()`, or its first `write()`/`end()`); the head is committed with the
 * first chunk, as for any app. A listener that ends a response of known length before it
 * returns (a route with nothing to wait for) has the body returned as the array of its chunks:
 * the server sends it in one write. Otherwise the body streams as the listener writes. A listener that throws (or whose returned
 * promise rejects) before anything was committed gets the server's error response; after
 * that, the response is aborted.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { serve } from 'hatchway/server';
 * import { fromNodeListener } from 'hatchway/adapters/node';
 *
 * const app = express();
 * app.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
 * await serve(fromNodeListener(app), { port: 8000 });
 * ```
 */
export function fromNodeListener(listener: NodeListener): App {
  if (typeof listener !== 'function') throw new TypeError('fromNodeListener: listener must be a function (req, res) => void');
  // On node:http a listener gets the target as sent, `/%` included, and answers it itself.
  return acceptUndecodedPaths(function nodeListenerApp(environ, startResponse) {
    const exchange = new NodeExchange(environ, startResponse);
    return exchange.run(() => listener(exchange.req, exchange.res));
  });
}

/** A listener for `node:http`/`node:https` servers and for the `node:http2` compatibility API. */
export type HostListener = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void;

/**
 * Turns a hatchway app into a Node request listener, for `http.createServer()`,
 * `https.createServer()` or `http2.createServer()`/`createSecureServer()` (compatibility API).
 * The environ has every feature `false`; errors go to `options.errors` (default `console.error`).
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { toNodeListener } from 'hatchway/adapters/node';
 *
 * createServer(toNodeListener(app)).listen(8000);
 * ```
 */
export function toNodeListener(app: App, options: HostOptions = {}): HostListener {
  if (typeof app !== 'function') throw new TypeError('toNodeListener: app must be a function (environ, startResponse) => body');
  return function hatchwayListener(req: HostRequest, res: HostResponse): void {
    let environ;
    try {
      environ = environFromHost(req, res, options);
    } catch (err) {
      refuse(res, err);
      return;
    }
    const done = run(app, environ, new HostSink(res));
    if (done !== undefined) done.catch((err: unknown) => environ.errors.write(String(err)));
  };
}
