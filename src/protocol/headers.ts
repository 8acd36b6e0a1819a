/**
 * Wire rules for response status and header fields (RFC 9110 §5, §15; RFC 9113 §8.2.2),
 * sans-IO. Every outgoing header is checked here, once, before any front-end sees it:
 * `node:http2`'s `respond()` would put CR/LF from a value on the wire.
 */
import { HatchwayError } from '../wire/errors.ts';
import type { HeaderList } from '../wire/types.ts';
import { CONNECTION_SPECIFIC } from './fields.ts';

// RFC 9110 §5.6.2 token.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 9110 §5.5: field-value is VCHAR, obs-text (0x80-0xFF), SP and HTAB. Anything else —
// CR, LF, NUL, other controls, DEL, or a character above U+00FF that has no single byte on
// the wire — is refused here, on every protocol, before a front-end could send it.
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]/;
const DIGITS = /^\d{1,15}$/;
// RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
const STATUS = /^([1-9]\d\d)(?: ([\t\x20-\x7e\x80-\xff]*))?$/;

/** A parsed status line. */
export interface ParsedStatus {
  code: number;
  reason: string | undefined;
}

/** Parses a status given as a number or `'200 OK'`; final statuses only (200–599). */
export function parseStatus(status: unknown): ParsedStatus {
  if (typeof status === 'number') {
    if (Number.isInteger(status) && status >= 200 && status <= 599) return { code: status, reason: undefined };
  } else if (typeof status === 'string') {
    const m = STATUS.exec(status);
    if (m) {
      const code = Number(m[1]);
      if (code >= 200 && code <= 599) return { code, reason: m[2] || undefined };
    }
  }
  throw new HatchwayError('ERR_HATCHWAY_INVALID_STATUS', status);
}

/** Checks an app's header list; throws a {@link HatchwayError} naming the first bad field. */
export function validateHeaders(headers: unknown, status: number): asserts headers is HeaderList {
  if (!Array.isArray(headers)) throw new HatchwayError('ERR_HATCHWAY_INVALID_HEADERS');
  for (let i = 0; i < headers.length; i++) {
    const pair = headers[i];
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw new HatchwayError('ERR_HATCHWAY_INVALID_HEADERS');
    }
    const name = pair[0];
    if (!TOKEN.test(name)) throw new HatchwayError('ERR_HATCHWAY_INVALID_HEADER_NAME', name);
    if (BAD_VALUE.test(pair[1])) throw new HatchwayError('ERR_HATCHWAY_INVALID_HEADER_VALUE', name);
    const lower = name.toLowerCase();
    if (managed(lower, status)) throw new HatchwayError('ERR_HATCHWAY_HOP_BY_HOP_HEADER', name);
    if (lower === 'content-length' && !DIGITS.test(pair[1])) throw new HatchwayError('ERR_HATCHWAY_INVALID_HEADER_VALUE', name);
  }
}

/** True for a valid field name (for trailers and request-side checks). */
export function isToken(name: string): boolean {
  return TOKEN.test(name);
}

// RFC 9112 §3.2 / RFC 3986 §3.2.2: a Host is uri-host [ ":" port ] (an IP literal in brackets).
const VALID_HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?$/;

/** True for a `Host` value RFC 9112 §3.2 allows (a server answers any other with 400). */
export function isValidHost(value: string): boolean {
  return VALID_HOST.test(value);
}

/** True for a field value RFC 9110 §5.5 allows (no controls but HTAB, nothing above U+00FF). */
export function isSafeValue(value: string): boolean {
  return !BAD_VALUE.test(value);
}

/**
 * True when a response of `status` may not carry the field `name` from an app: the
 * connection-specific fields are the server's, except `upgrade` on a 426 (RFC 9110 §15.5.22).
 * startResponse refuses them; adapters drop them from what foreign code set.
 */
export function isServerManaged(name: string, status: number): boolean {
  return managed(name.toLowerCase(), status);
}

// The server owns the connection-specific fields and `trailer` (it frames trailers itself);
// `upgrade` is allowed on a 426 only, where RFC 9110 §15.5.22 requires it.
function managed(lower: string, status: number): boolean {
  return (CONNECTION_SPECIFIC.has(lower) || lower === 'trailer') && !(lower === 'upgrade' && status === 426);
}

/** True when `name` is a connection-specific field ({@link CONNECTION_SPECIFIC}) or `trailer`. */
export function isHopByHop(name: string): boolean {
  const lower = name.toLowerCase();
  return CONNECTION_SPECIFIC.has(lower) || lower === 'trailer';
}

/**
 * Statuses and methods whose response carries no content (RFC 9110 §6.4.1). A 2xx to CONNECT
 * is not here: on an origin server only an honoured websocket escape may answer one, and its
 * token body must reach the escape sink, which refuses any other 2xx (SPEC §7.5).
 */
export function bodyForbidden(method: string, status: number): boolean {
  // RFC 9110 §15.3.6: a 205 has no content either.
  return method === 'HEAD' || status === 204 || status === 205 || status === 304;
}

/** RFC 9110 §9.3.6: a 2xx to CONNECT turns the connection (or stream) into a tunnel. */
export function opensTunnel(method: string, status: number): boolean {
  return method === 'CONNECT' && status >= 200 && status < 300;
}

/** The first value of header `name` (lowercase), or `undefined`. */
export function getHeader(headers: HeaderList, name: string): string | undefined {
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    if (h[0] === name || h[0].toLowerCase() === name) return h[1];
  }
  return undefined;
}

/** True when a comma-separated header (e.g. `TE`, `Connection`) lists `token` (case-insensitive). */
export function headerHasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  for (const part of value.split(',')) {
    const t = part.trim();
    const semi = t.indexOf(';');
    if ((semi === -1 ? t : t.slice(0, semi).trim()).toLowerCase() === token) return true;
  }
  return false;
}
