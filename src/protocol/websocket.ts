/**
 * Is this request a WebSocket opening handshake the server can complete? (RFC 6455 §4.2.1
 * over HTTP/1.1; RFC 8441 §4 over HTTP/2.) Sans-IO: it reads the method and header list.
 */
import type { HeaderList } from '../wire/types.ts';
import { headerHasToken } from './headers.ts';

// RFC 6455 §4.2.1: a base64-encoded 16-byte nonce is 24 characters ending in '=='.
const KEY = /^[A-Za-z0-9+/]{22}==$/;

/** RFC 6455 §4.2.1 checks on an HTTP/1.1 request. */
export function isWebSocketH1(method: string, headers: HeaderList): boolean {
  if (method !== 'GET') return false;
  let upgrade = false;
  let connection = false;
  let key = 0;
  let version = false;
  for (const [name, value] of headers) {
    if (name === 'upgrade') upgrade ||= headerHasToken(value, 'websocket');
    else if (name === 'connection') connection ||= headerHasToken(value, 'upgrade');
    else if (name === 'sec-websocket-key') key += KEY.test(value.trim()) ? 1 : 2;
    else if (name === 'sec-websocket-version') version = value.trim() === '13';
  }
  return upgrade && connection && key === 1 && version;
}

/** RFC 8441 §4 checks on an HTTP/2 extended CONNECT (`:protocol` already read). */
export function isWebSocketH2(method: string, protocol: string | undefined, headers: HeaderList): boolean {
  if (method !== 'CONNECT' || protocol !== 'websocket') return false;
  for (const [name, value] of headers) if (name === 'sec-websocket-version') return value.trim() === '13';
  return false;
}
