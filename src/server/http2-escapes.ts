/**
 * The escapes that need a real HTTP/2 stream, as the methods of the stream's sink: websocket
 * over RFC 8441, CONNECT tunnels and other extended CONNECTs (the upgrade escape), `upgradeTo` handlers on the native stream, and push (PUSH_PROMISE) whose
 * responses are produced by running the app — the whole middleware chain — for each pushed
 * path. The server's dependencies reach each sink as one field: no closure per stream (three
 * per stream were measurable in the benchmark when they were attached by a hook).
 */
import type { ServerHttp2Stream } from 'node:http2';
import { formatError } from '../gateway/error-response.ts';
import type { BodyReader, Environ, HeaderList } from '../gateway/types.ts';
import type { PushResource } from '../escapes/push.ts';
import { buildEnviron } from './environ.ts';
import { RequestLifecycle, installOptions, type RequestHost } from './lifecycle.ts';
import { H2Sink } from './http2-sink.ts';
import { runNative } from './http2-native.ts';
import type { WebSocketEngine } from './websocket.ts';
import type { WebSocket } from 'ws';
import type { WebSocketRegistration } from '../escapes/websocket.ts';
import type { Http2Registration } from '../escapes/http2-app.ts';
import type { UpgradeRegistration } from '../escapes/upgrade.ts';
import type { Duplex } from 'node:stream';
import { responseHead } from '../protocol/http2-headers.ts';
import type { TunnelEngine } from './tunnel.ts';

/** What the escapes need from the server. */
export interface H2EscapeDeps extends RequestHost {
  websockets(): WebSocketEngine;
  /** The upgraded connections (SPEC §7.10). */
  tunnels(): TunnelEngine;
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

/**
 * The sink of a request stream of a server that offers the HTTP/2 escapes. The methods are
 * always there; the escape sink offers each only where the request is eligible (SPEC §7.5):
 * `acceptWebSocket` for an RFC 8441 websocket (`features.websocket`), `push` where the client
 * allows push (`features.push`), `http2` on every request stream — a pushed stream is a plain
 * {@link H2Sink}, so it has none of them.
 */
export class H2EscapeSink extends H2Sink {
  readonly #deps: H2EscapeDeps;

  constructor(stream: ServerHttp2Stream, deps: H2EscapeDeps) {
    super(stream, deps.log, deps.deadlines);
    this.#deps = deps;
  }

  acceptWebSocket(headers: HeaderList, registration: WebSocketRegistration, env: Environ, onSocket: (ws: WebSocket) => void): void {
    const environ = this.environ!;
    this.takenOver(false);
    this.#deps.websockets().upgradeH2(this.stream, environ.headers, environ.target, { headers, registration, environ: env }, onSocket);
  }

  /**
   * Opens the tunnel of a CONNECT, or switches an extended CONNECT to its `:protocol` (SPEC
   * §7.10): `:status 200` with the middleware's fields (RFC 9113 §8.5, RFC 8441 §5), then the
   * stream's DATA both ways as a Duplex, its flow control as the backpressure. Both deadlines
   * stop here, as for a websocket: the tunnel's idle timeout and send-queue cap bound it.
   */
  acceptUpgrade(headers: HeaderList, _protocol: string, _registration: UpgradeRegistration, env: Environ, onConnection: (duplex: Duplex) => void): void {
    const stream = this.stream;
    this.takenOver(false);
    if (stream.destroyed || stream.closed || stream.headersSent) return;
    stream.respond(responseHead(200, headers.filter(([name]) => name.toLowerCase() !== 'content-length'), undefined));
    onConnection(this.#deps.tunnels().fromStream(stream, env));
  }

  http2(registration: Http2Registration, headers: HeaderList, env: Environ): Promise<void> {
    const stream = this.stream;
    this.takenOver(true);
    return runNative(registration.handler, stream, { environ: env, extraHeaders: headers, pusher: stream.pushAllowed ? this : undefined, owner: this, signal: this.environ!.signal });
  }

  /** Opens a push stream for an `upgradeTo` handler ({@link Pusher}). */
  openPush(path: string, headers: HeaderList): Promise<ServerHttp2Stream | undefined> {
    return openPush(this.stream, this.environ!, path, headers, this.#deps);
  }

  push(resources: PushResource[]): void {
    const stream = this.stream;
    const environ = this.environ!;
    const deps = this.#deps;
    for (const resource of resources) {
      openPush(stream, environ, resource.path, [], deps).then(
        (pushed) => pushed && servePushed(pushed, environ, resource.path, deps),
        (err: unknown) => environ.errors.write(`push ${resource.path}: ${formatError(err)}`),
      );
    }
  }
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

// A pushed response cannot push, be upgraded or carry early hints (RFC 9113 §8.4).
const PUSHED_OPTIONS = installOptions('HTTP/2', false, true, false, false);

/** Produces a pushed response by running the app for a GET of `path` on the pushed stream. */
function servePushed(pushed: ServerHttp2Stream, parent: Environ, path: string, deps: H2EscapeDeps): void {
  const lifecycle = new RequestLifecycle();
  const sink = new H2Sink(pushed, deps.log, deps.deadlines);
  let environ: Environ;
  try {
    environ = buildEnviron(deps, parent, {
      method: 'GET',
      scheme: parent.scheme,
      target: path,
      protocol: 'HTTP/2',
      authority: parent.authority,
      headers: parent.headers.filter(([name]) => INHERITED.has(name)),
      streamId: pushed.id,
      input: EMPTY_BODY,
      features: { push: false, trailers: true, websocket: false, earlyHints: false },
      signal: lifecycle.signal,
    });
  } catch (err) {
    // The app asked to push a malformed path: the promised stream gets the error response.
    sink.clock.stop();
    sink.giveUp(err);
    return;
  }
  environ['hatchway.pushed'] = true;
  sink.environ = environ;
  sink.onExpire = (kind) => lifecycle.expired(kind);
  pushed.once('close', () => {
    sink.clock.stop();
    lifecycle.closed(sink.completed);
  });
  lifecycle.serve(deps, environ, sink, PUSHED_OPTIONS);
}
