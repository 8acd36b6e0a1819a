/**
 * What the Bun and Deno hosts share: completing a fetch exchange (addresses, protocol, the
 * features this runtime really gives) and installing the escapes with the runtime's native
 * websocket upgrade as the sink's `acceptWebSocket`, so the recognition rule and the degrade
 * table decide exactly as on hatchway's own server (SPEC §7.3, §7.4). Everything else the
 * runtime lacks (trailers, push, early hints, a native HTTP/2 stream) is absent from the sink,
 * so the table's degrade applies.
 */
import type { WebSocket } from 'ws';
import { type Environ, type HeaderList, type ResponseSink, type WebSocketRegistration } from '../index.ts';
import { formatError, installEscapes, isWebSocketH1 } from '../host.ts';
import type { FetchExchange } from '../../adapters/fetch.ts';
import { HostSocket } from './socket.ts';

/** What a runtime tells its host about one request. */
export interface Connection {
  /** The protocol that carried the request. */
  protocol: 'HTTP/1.1' | 'HTTP/2';
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** The runtime's socket has an app-callable `ping()`. */
  canPing: boolean;
  /**
   * Completes the websocket handshake the runtime's way, with the middleware's fields and the
   * chosen subprotocol, and ties `socket` to the runtime's: returns what the handler settles
   * with, or `false` when the runtime refused the handshake. Absent: no websocket here.
   */
  upgrade?: ((fields: HeaderList, protocol: string | undefined, socket: HostSocket) => Response | undefined | false) | undefined;
}

/** Websocket limits shared by the hosts. */
export interface SocketLimits {
  /** Largest message accepted, in bytes (default 4 MiB, as on hatchway's server); larger closes with 1009. */
  maxPayload?: number;
  /** Most bytes queued for a slow reader before the socket is cut (default 16 MiB, as on hatchway's server). */
  maxBufferedAmount?: number;
}

/** Fields of the handshake that the runtime writes itself: never copied from the middleware's. */
const HANDSHAKE = new Set(['upgrade', 'connection', 'sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions', 'content-length', 'transfer-encoding', 'date']);

/** The subprotocols a handshake offers (`Sec-WebSocket-Protocol`, RFC 6455 §11.3.4). */
export function offeredProtocols(headers: HeaderList): Set<string> {
  const offered = new Set<string>();
  for (const [name, value] of headers) {
    if (name !== 'sec-websocket-protocol') continue;
    for (const token of value.split(',')) if (token.trim() !== '') offered.add(token.trim());
  }
  return offered;
}

function plainAnswer(status: number, text: string): Response {
  return new Response(`${text}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8' } });
}

/** Completes `exchange` for `connection` and returns the escape sink the runner writes to. */
export function serveExchange(exchange: FetchExchange, connection: Connection, limits: SocketLimits = {}): ResponseSink {
  const { environ, sink } = exchange;
  environ.protocol = connection.protocol;
  environ.remoteAddress = connection.remoteAddress;
  environ.remotePort = connection.remotePort;
  environ.localAddress = connection.localAddress;
  environ.localPort = connection.localPort;
  const upgrade = connection.upgrade;
  // SPEC §2.6, from the wire: only an RFC 6455 handshake this runtime can complete.
  const websocket = upgrade !== undefined && connection.protocol === 'HTTP/1.1' && isWebSocketH1(environ.method, environ.headers);
  environ.features = { push: false, trailers: false, websocket, earlyHints: false };
  if (websocket) {
    const maxBufferedAmount = limits.maxBufferedAmount ?? 16 * 1024 * 1024;
    const maxPayload = limits.maxPayload ?? 4 * 1024 * 1024;
    sink.acceptWebSocket = (headers: HeaderList, registration: WebSocketRegistration, env: Environ, onSocket: (ws: WebSocket) => void): void => {
      const offered = offeredProtocols(env.headers);
      const chosen = registration.protocol?.(offered, env);
      const protocol = typeof chosen === 'string' && offered.has(chosen) ? chosen : undefined;
      const socket = new HostSocket({ protocol: protocol ?? '', canPing: connection.canPing, maxBufferedAmount, maxPayload });
      socket.on('error', (err: Error) => env.errors.write(`websocket: ${err.message}`));
      let answer: Response | undefined | false;
      // A switch is no client leaving (Deno aborts the request's signal as it upgrades).
      detach(environ.signal);
      try {
        answer = upgrade(headers.filter(([name]) => !HANDSHAKE.has(name.toLowerCase())), protocol, socket);
      } catch (err) {
        env.errors.write(formatError(err));
        exchange.respond(plainAnswer(500, 'Internal Server Error'));
        return; // onSocket never runs; the escape sink releases
      }
      if (answer === false) {
        exchange.respond(plainAnswer(400, 'Bad Request: the websocket handshake failed'));
        return;
      }
      try {
        onSocket(socket as unknown as WebSocket); // runs the app's onSocket, then releases (SPEC §7.2)
      } finally {
        exchange.respond(answer);
      }
    };
  }
  const escapes = installEscapes(environ, sink, {
    protocol: connection.protocol === 'HTTP/2' ? 'HTTP/2' : 'HTTP/1',
    eligible: { websocket, trailers: false, push: false },
    earlyHints: false,
  });
  // SPEC §11 step 5: released once the response is over, on every path.
  const release = (): void => escapes.registry.release();
  exchange.onFinished(() => {
    detach(environ.signal);
    release();
  });
  return escapes.sink;
}

/** Where a {@link requestSignal} keeps its `detach`. */
const DETACH = Symbol('hatchway.detach');

type Following = AbortSignal & { [DETACH]?: () => void };

const aborted = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')!.get!;
const reason = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'reason')!.get!;

/**
 * The environ's signal (SPEC §2.7): it follows the request's signal from its first use — a
 * listener added, `aborted` or `reason` read — until the response is over for the adapter or
 * a websocket takes the connection. Lazily, because reading a request's signal costs Deno an
 * op per request (a third of the host's time on a hello response), and a response sent whole
 * at once never waits on it; any streamed body does, since the runner listens to it. It stops
 * following because Deno (without `--unstable-no-legacy-abort`) also aborts a request's signal
 * after a response sent in full and as a websocket upgrades: neither is a client that left.
 * `AbortSignal.any()` over it sees the abort as soon as anything made it follow.
 */
export function requestSignal(request: Request): AbortSignal {
  const controller = new AbortController();
  const signal: Following = controller.signal;
  let outer: AbortSignal | undefined;
  let state = 0; // 0 idle, 1 following, 2 detached
  const follow = (): void => controller.abort(outer!.reason);
  const attach = (): void => {
    if (state !== 0) return;
    state = 1;
    outer = request.signal;
    if (outer.aborted) follow();
    else outer.addEventListener('abort', follow, { once: true });
  };
  const add = signal.addEventListener;
  signal.addEventListener = function addEventListener(this: AbortSignal, ...args: Parameters<AbortSignal['addEventListener']>): void {
    attach();
    add.apply(this, args);
  };
  Object.defineProperty(signal, 'aborted', { get: () => (attach(), aborted.call(signal)) });
  Object.defineProperty(signal, 'reason', { get: () => (attach(), reason.call(signal)) });
  signal[DETACH] = () => {
    if (state === 1) outer!.removeEventListener('abort', follow);
    state = 2;
  };
  return signal;
}

/** Stops `signal` following the request's (a no-op for any other signal). */
function detach(signal: AbortSignal): void {
  (signal as Following)[DETACH]?.();
}
