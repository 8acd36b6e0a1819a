/**
 * Which protocols a request asks to switch to (SPEC §7.10), sans-IO: an HTTP/1.1 `Upgrade`
 * (RFC 9110 §7.8), a CONNECT tunnel (RFC 9110 §9.3.6, RFC 9113 §8.5), or an extended CONNECT
 * with a `:protocol` (RFC 8441 §4, generalised). A websocket handshake is the websocket
 * kind's alone, and `h2c` is never switched to (RFC 9113 §3.1), so neither is listed here.
 */
import type { HeaderList } from '../wire/types.ts';
import { headerHasToken } from './headers.ts';

/** The protocol name a registration gives for a CONNECT tunnel. */
export const CONNECT_PROTOCOL = 'connect';

/** Upgrade tokens the generic upgrade never takes: the websocket kind's, and h2c's. */
const RESERVED: ReadonlySet<string> = new Set(['websocket', 'h2c']);

/** True when `name` may not be registered for the generic upgrade. */
export function isReservedProtocol(name: string): boolean {
  return RESERVED.has(name.toLowerCase());
}

// RFC 9110 §7.8: protocol-name ["/" protocol-version], both tokens.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:\/[!#$%&'*+.^_`|~0-9A-Za-z-]+)?$/;

/** True when `name` is a protocol a registration can name (an upgrade token, or `connect`). */
export function isProtocolName(name: string): boolean {
  return TOKEN.test(name);
}

/** The tokens of an HTTP/1.1 `Upgrade` value, in the client's order, less the reserved ones. */
export function upgradeTokens(value: string | undefined): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const part of value.split(',')) {
    const token = part.trim();
    if (token !== '' && isProtocolName(token) && !isReservedProtocol(token)) out.push(token);
  }
  return out;
}

/**
 * The protocols an HTTP/1.1 request asks for: `connect` for a CONNECT; for any other method
 * the `Upgrade` tokens, when the request also carries the `upgrade` connection option (RFC 9110
 * §7.8: a sender of Upgrade sends it) and has no content (the switch would come after it; a
 * server may ignore Upgrade, and does so here rather than read a body before switching).
 */
export function requestedH1(method: string, headers: HeaderList): string[] {
  if (method === 'CONNECT') return [CONNECT_PROTOCOL];
  let upgrade: string | undefined;
  let connection = false;
  let content = false;
  for (const [name, value] of headers) {
    if (name === 'upgrade') upgrade = upgrade === undefined ? value : `${upgrade}, ${value}`;
    else if (name === 'connection') connection ||= headerHasToken(value, 'upgrade');
    else if (name === 'transfer-encoding' || (name === 'content-length' && value.trim() !== '0')) content = true;
  }
  return connection && !content ? upgradeTokens(upgrade) : [];
}

/**
 * The protocols an HTTP/2 request asks for: `connect` for a plain CONNECT, the `:protocol` of
 * an extended CONNECT other than websocket; nothing for any other request (HTTP/2 has no
 * Upgrade, RFC 9113 §8.6).
 */
export function requestedH2(method: string, protocol: string | undefined): string[] {
  if (method !== 'CONNECT') return [];
  if (protocol === undefined) return [CONNECT_PROTOCOL];
  return isProtocolName(protocol) && !isReservedProtocol(protocol) ? [protocol] : [];
}

/**
 * The protocol to switch to: the first the client asked for (its order of preference) that the
 * registration lists, compared without regard to case; `undefined` when none matches.
 */
export function chooseProtocol(requested: readonly string[], registered: readonly string[]): string | undefined {
  for (const asked of requested) {
    const lower = asked.toLowerCase();
    for (const name of registered) if (name.toLowerCase() === lower) return name;
  }
  return undefined;
}
