/**
 * The websocket escape (SPEC §7.5): an app registers `onSocket`; when the token reaches the
 * origin server unaltered, the server completes the handshake (RFC 6455 over HTTP/1.1,
 * RFC 8441 over HTTP/2) and hands over a `ws.WebSocket`. Middleware in between can refuse
 * (401), add headers (Set-Cookie rides the 101) or replace the key to wrap `onSocket`.
 */
import type { WebSocket } from 'ws';
import type { App, Body, Environ, StartResponse } from '../gateway/types.ts';
import { CONTROL_HEADER, type BaseRegistration } from './registry.ts';
import { utf8Length } from '../wire/bytes.ts';

/** The environ key of the websocket extension. */
export const WEBSOCKET_KEY = 'hatchway.websocket';

/** What an app registers. */
export interface WebSocketRegistration extends BaseRegistration {
  /**
   * Runs with the open socket and the environ the app saw when it registered (through
   * {@link acceptWebSocket}). An `'error'` listener is already attached.
   */
  onSocket(ws: WebSocket, environ: Environ): void;
  /** Picks a subprotocol from those the client offered (`Sec-WebSocket-Protocol`); none if it returns false. */
  protocol?: (offered: ReadonlySet<string>, environ: Environ) => string | false | undefined;
  /** Answers instead when the request is not a websocket handshake or the token did not survive (default: 426). */
  fallback?: App;
}

/** The extension a server puts at `environ['hatchway.websocket']`: register, get a token. */
export type WebSocketExtension = (registration: WebSocketRegistration) => string;

/** The default fallback: 426 Upgrade Required with `Upgrade: websocket` (RFC 9110 §15.5.22). */
export const upgradeRequired: App = (_environ, startResponse) => {
  const body = 'This resource speaks WebSocket: open it with a WebSocket client.\n';
  startResponse(426, [
    ['upgrade', 'websocket'],
    ['sec-websocket-version', '13'],
    ['content-type', 'text/plain; charset=utf-8'],
    ['content-length', String(utf8Length(body))],
  ]);
  return [body];
};

/** The default fallback of a websocket registration: {@link upgradeRequired}. */
export function websocketFallback(_registration: WebSocketRegistration): App {
  return upgradeRequired;
}

/**
 * Answers the request with a websocket escape: under a server with the extension it
 * registers and returns the token response; elsewhere it answers with the fallback.
 *
 * @example
 * ```ts
 * const chat: App = (environ, startResponse) =>
 *   acceptWebSocket(environ, startResponse, {
 *     onSocket(ws) {
 *       ws.on('message', (data) => ws.send(`echo: ${data}`));
 *     },
 *   });
 * ```
 */
export function acceptWebSocket(environ: Environ, startResponse: StartResponse, registration: WebSocketRegistration): Body {
  const register = environ[WEBSOCKET_KEY] as WebSocketExtension | undefined;
  if (typeof register !== 'function') return (registration.fallback ?? upgradeRequired)(environ, startResponse);
  // The callbacks see the environ the app saw (with whatever middleware added: a user, a
  // session), not the one the server built.
  const token = register({
    ...registration,
    onSocket: (ws) => registration.onSocket(ws, environ),
    protocol: registration.protocol && ((offered) => registration.protocol!(offered, environ)),
  });
  startResponse(200, [
    [CONTROL_HEADER, `websocket ${token}`],
    ['cache-control', 'no-store'],
  ]);
  return [token];
}

/**
 * An app that answers every request with {@link acceptWebSocket}.
 *
 * @example
 * ```ts
 * const app = router({ '/ws': websocket({ onSocket: (ws) => ws.send('hello') }) });
 * ```
 */
export function websocket(registration: WebSocketRegistration): App {
  return (environ, startResponse) => acceptWebSocket(environ, startResponse, registration);
}
