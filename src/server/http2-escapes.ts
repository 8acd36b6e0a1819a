/**
 * The escapes that need a real HTTP/2 stream, attached to each stream's sink by the HTTP/2
 * front-end's `extend` hook: websocket over RFC 8441, `upgradeTo` handlers on the native
 * stream, and push (PUSH_PROMISE) whose responses are produced by running the app — the whole
 * middleware chain — for each pushed path.
 */
import type { ServerHttp2Stream } from 'node:http2';
import { run } from '../gateway/run.ts';
import { formatError } from '../gateway/error-response.ts';
import type { App, BodyReader, Environ, HeaderList } from '../gateway/types.ts';
import { installEscapes } from '../escapes/install.ts';
import type { PushResource } from '../escapes/push.ts';
import { RequestErrors, type LogFn } from './environ.ts';
import { splitTarget } from '../protocol/target.ts';
import { H2Sink } from './http2-sink.ts';
import { runNative } from './http2-native.ts';
import type { WebSocketEngine } from './websocket.ts';
import type { WebSocket } from 'ws';
import type { WebSocketRegistration } from '../escapes/websocket.ts';
import type { Http2Registration } from '../escapes/http2-app.ts';

/** What the hook needs from the server. */
export interface H2EscapeDeps {
  app: App;
  log: LogFn;
  nextId: () => string;
  track(stream: ServerHttp2Stream): void;
  websockets(): WebSocketEngine;
}

// Request fields a pushed request inherits (RFC 9113 §8.4: a safe, cacheable GET made on the
// client's behalf): content negotiation and credentials, never anything about a body.
const INHERITED = new Set(['accept-encoding', 'accept-language', 'user-agent', 'cookie', 'authorization']);

const EMPTY_BODY: BodyReader = {
  length: 0,
  read: async () => null,
  bytes: async () => new Uint8Array(0),
  text: async () => '',
  async *[Symbol.asyncIterator]() {},
};

/** The request a sink's escape methods serve (set by the hook; one field, no closures). */
const REQUEST = Symbol('hatchway.h2.request');
type HostedSink = H2Sink & { [REQUEST]?: Environ };

/**
 * Builds the `extend` hook of the HTTP/2 front-end. The escape methods are made once per
 * server and read their stream and environ from the sink they are called on: the hook runs
 * for every request, and three closures per stream were measurable in the benchmark.
 */
export function h2Escapes(deps: H2EscapeDeps): (sink: H2Sink, stream: ServerHttp2Stream, environ: Environ) => void {
  function acceptWebSocket(this: HostedSink, headers: HeaderList, registration: WebSocketRegistration, env: Environ, onSocket: (ws: WebSocket) => void): void {
    const environ = this[REQUEST]!;
    deps.websockets().upgradeH2(this.stream, environ.headers, environ.target, { headers, registration, environ: env }, onSocket);
  }
  function http2(this: HostedSink, registration: Http2Registration, headers: HeaderList, env: Environ): Promise<void> {
    const stream = this.stream;
    const environ = this[REQUEST]!;
    const pushStream = stream.pushAllowed ? (path: string, h: HeaderList) => openPush(stream, environ, path, h, deps) : undefined;
    return runNative(registration.handler, stream, { environ: env, extraHeaders: headers, pushStream });
  }
  function push(this: HostedSink, resources: PushResource[]): void {
    const stream = this.stream;
    const environ = this[REQUEST]!;
    for (const resource of resources) {
      openPush(stream, environ, resource.path, [], deps).then(
        (pushed) => pushed && servePushed(pushed, environ, resource.path, deps),
        (err: unknown) => environ.errors.write(`push ${resource.path}: ${formatError(err)}`),
      );
    }
  }
  return (sink, _stream, environ) => {
    const hosted = sink as HostedSink;
    hosted[REQUEST] = environ;
    if (environ.features.websocket) sink.acceptWebSocket = acceptWebSocket;
    sink.http2 = http2;
    if (environ.features.push) sink.push = push;
  };
}

/** Sends a PUSH_PROMISE for `path`; resolves `undefined` when the client refuses pushes now. */
function openPush(stream: ServerHttp2Stream, parent: Environ, path: string, headers: HeaderList, deps: H2EscapeDeps): Promise<ServerHttp2Stream | undefined> {
  return new Promise((resolve) => {
    if (!stream.pushAllowed || stream.destroyed) {
      resolve(undefined);
      return;
    }
    const request: Record<string, string> = { ':method': 'GET', ':path': path, ':scheme': parent.scheme, ':authority': parent.authority };
    for (const [name, value] of headers) request[name.toLowerCase()] = value;
    try {
      stream.pushStream(request, (err, pushed) => {
        if (err) {
          // e.g. the client's SETTINGS_MAX_CONCURRENT_STREAMS is reached: skip this push.
          parent.errors.write(`push ${path} refused: ${err.message}`);
          resolve(undefined);
          return;
        }
        pushed.on('error', () => {});
        deps.track(pushed);
        resolve(pushed);
      });
    } catch (err) {
      parent.errors.write(`push ${path} failed: ${(err as Error).message}`);
      resolve(undefined);
    }
  });
}

/** Produces a pushed response by running the app for a GET of `path` on the pushed stream. */
function servePushed(pushed: ServerHttp2Stream, parent: Environ, path: string, deps: H2EscapeDeps): void {
  const controller = new AbortController();
  const requestId = deps.nextId();
  const { pathInfo, queryString } = splitTarget(path, 'GET');
  const environ: Environ = {
    method: 'GET',
    scheme: parent.scheme,
    target: path,
    scriptName: '',
    pathInfo,
    queryString,
    protocol: 'HTTP/2',
    authority: parent.authority,
    headers: parent.headers.filter(([name]) => INHERITED.has(name)),
    remoteAddress: parent.remoteAddress,
    remotePort: parent.remotePort,
    localAddress: parent.localAddress,
    localPort: parent.localPort,
    requestId,
    streamId: pushed.id,
    input: EMPTY_BODY,
    errors: new RequestErrors(requestId, deps.log),
    // A pushed response cannot push, be upgraded or carry early hints.
    features: { push: false, trailers: true, websocket: false, earlyHints: false },
    signal: controller.signal,
    'hatchway.pushed': true,
  };
  const sink = new H2Sink(pushed, deps.log);
  const escapes = installEscapes(environ, sink, { protocol: 'HTTP/2', eligible: { websocket: false, trailers: true, push: false }, earlyHints: false });
  pushed.once('close', () => {
    escapes.registry.release();
    if (!sink.done) controller.abort();
  });
  const done = run(deps.app, environ, escapes.sink);
  if (done !== undefined) done.catch((err: unknown) => deps.log(formatError(err)));
}
