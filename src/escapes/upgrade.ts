/**
 * The generic upgrade escape (SPEC §7.10): an app registers the protocols it speaks and an
 * `onConnection` callback; when the token reaches the origin server unaltered and the request
 * asks for one of those protocols, the server switches — `101` with `Upgrade: <protocol>` on
 * HTTP/1.1, `200` to a CONNECT (a tunnel, HTTP/1.1 or HTTP/2), `:status 200` to an extended
 * CONNECT with that `:protocol` (RFC 8441 generalised) — and hands over the connection as a
 * Duplex. It is "an UPGRADE api, allowing an application to actually take the client socket"
 * (seed 000), made middleware-safe the way every other kind is: a middleware that answers
 * (a 401, a 407) wins, and one that alters the token gets the fallback.
 */
import type { Duplex } from 'node:stream';
import type { App, Body, Environ, StartResponse } from '../gateway/types.ts';
import { HatchwayError } from '../gateway/errors.ts';
import { CONNECT_PROTOCOL, isProtocolName, isReservedProtocol } from '../protocol/upgrade.ts';
import { CONTROL_HEADER, type BaseRegistration } from './registry.ts';
import { utf8Length } from '../wire/bytes.ts';

export { CONNECT_PROTOCOL, chooseProtocol } from '../protocol/upgrade.ts';

/** The environ key of the upgrade extension. */
export const UPGRADE_KEY = 'hatchway.upgrade';

/** What an app registers. */
export interface UpgradeRegistration extends BaseRegistration {
  /**
   * The protocols this app speaks: HTTP/1.1 `Upgrade` tokens (`echo/1`), which are also the
   * `:protocol` values of an HTTP/2 extended CONNECT, and `'connect'` for a CONNECT tunnel.
   * Not `websocket` (that is {@link acceptWebSocket}'s) nor `h2c` (never switched to).
   */
  protocols: readonly string[];
  /**
   * Runs with the connection once the server switched (the `101` or `200` is out), and the
   * environ the app saw. The Duplex already has an `'error'` listener (errors go to
   * `environ.errors`); bytes the client sent after the request head come first; `write()`
   * returns `false` when the peer does not keep up (wait for `'drain'`); `end()` ends the
   * socket or the HTTP/2 stream (FIN, END_STREAM), `destroy()` cuts it (reset, RST_STREAM).
   * A throw is reported and destroys the connection.
   */
  onConnection(duplex: Duplex, environ: Environ): void;
  /** Answers instead when the request cannot be switched or the token did not survive (default {@link upgradeFallback}). */
  fallback?: App;
}

/** The extension a server puts at `environ['hatchway.upgrade']`: register, get a token. */
export type UpgradeExtension = (registration: UpgradeRegistration) => string;

/** Throws the `HatchwayError` of a registration the server cannot take (programmer misuse). */
export function validateUpgrade(registration: UpgradeRegistration): void {
  if (typeof registration?.onConnection !== 'function' || !Array.isArray(registration.protocols) || registration.protocols.length === 0) {
    throw new HatchwayError('ERR_HATCHWAY_INVALID_REGISTRATION', 'upgrade');
  }
  for (const name of registration.protocols) {
    if (typeof name !== 'string' || !isProtocolName(name) || isReservedProtocol(name)) throw new HatchwayError('ERR_HATCHWAY_UPGRADE_PROTOCOL', String(name));
  }
}

function plain(startResponse: StartResponse, status: number, fields: [string, string][], text: string): Body {
  startResponse(status, [...fields, ['content-type', 'text/plain; charset=utf-8'], ['content-length', String(utf8Length(text))]]);
  return [text];
}

/**
 * The default fallback of an upgrade registration:
 * - a CONNECT (a tunnel, or an extended CONNECT whose `:protocol` is not registered): `501`,
 *   as hatchway answers every CONNECT nothing takes — a 426 would ask for an `Upgrade` that
 *   no CONNECT can make (HTTP/2 has none), and a 405 owes an `Allow` the registration cannot
 *   know;
 * - any other request to a registration that speaks only `connect`: `405` with `Allow: CONNECT`;
 * - otherwise `426 Upgrade Required` with `Upgrade: <protocols>` (RFC 9110 §15.5.22; HTTP/2
 *   drops the field, which is connection-specific there).
 */
export function upgradeFallback(registration: UpgradeRegistration): App {
  const tokens = registration.protocols.filter((p) => p.toLowerCase() !== CONNECT_PROTOCOL);
  return (environ, startResponse) => {
    if (environ.method === 'CONNECT') return plain(startResponse, 501, [], 'This resource opens no such tunnel.\n');
    if (tokens.length === 0) return plain(startResponse, 405, [['allow', 'CONNECT']], 'This resource only opens tunnels: send a CONNECT.\n');
    return plain(startResponse, 426, [['upgrade', tokens.join(', ')]], `This resource speaks ${tokens.join(', ')}: ask for it with Upgrade.\n`);
  };
}

/**
 * Answers the request with an upgrade escape: under a server with the extension it registers
 * and returns the token response (status 200, a placeholder: the server decides what is
 * sent); elsewhere it answers with the fallback.
 *
 * @example
 * ```ts
 * const echo: App = (environ, startResponse) =>
 *   acceptUpgrade(environ, startResponse, {
 *     protocols: ['echo/1'],
 *     onConnection(duplex) {
 *       duplex.pipe(duplex); // every byte back
 *     },
 *   });
 * ```
 */
export function acceptUpgrade(environ: Environ, startResponse: StartResponse, registration: UpgradeRegistration): Body {
  const register = environ[UPGRADE_KEY] as UpgradeExtension | undefined;
  if (typeof register !== 'function') {
    validateUpgrade(registration);
    return (registration.fallback ?? upgradeFallback(registration))(environ, startResponse);
  }
  // The callback sees the environ the app saw (a user, a session), not the server's.
  const token = register({ ...registration, onConnection: (duplex) => registration.onConnection(duplex, environ) });
  startResponse(200, [
    [CONTROL_HEADER, `upgrade ${token}`],
    ['cache-control', 'no-store'],
  ]);
  return [token];
}

/**
 * An app that answers every request with {@link acceptUpgrade}.
 *
 * @example
 * ```ts
 * const app = router({ '/echo': upgrade({ protocols: ['echo/1'], onConnection: (d) => d.pipe(d) }) });
 * ```
 */
export function upgrade(registration: UpgradeRegistration): App {
  return (environ, startResponse) => acceptUpgrade(environ, startResponse, registration);
}
