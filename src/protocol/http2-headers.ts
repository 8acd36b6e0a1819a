/**
 * HTTP/2 header rules (RFC 9113 §8.2, §8.3), sans-IO: splitting a request's raw header list
 * into pseudo-header fields and the ordinary fields an app sees, and building a response's
 * raw header list that `node:http2` accepts and that never carries a connection-specific field.
 */
import type { HeaderList } from '../wire/types.ts';
import { CONNECTION_SPECIFIC, SINGLE_VALUE_FIELDS, toHeaderObject } from './fields.ts';

/** A request's header block, split (RFC 9113 §8.3.1). */
export interface H2RequestHead {
  method: string;
  /** `:path`, absent on a plain CONNECT. */
  path: string | undefined;
  /** `:authority`, or else the `host` field. */
  authority: string | undefined;
  /** `:protocol` of an extended CONNECT (RFC 8441 §4), else `undefined`. */
  protocol: string | undefined;
  /** Ordinary fields in wire order: no pseudo-headers, cookie crumbs joined, `host` first. */
  headers: HeaderList;
  /** The first `content-length` value, if any. */
  contentLength: string | undefined;
  /** True when the request carries `expect: 100-continue`. */
  expectContinue: boolean;
  /** True when `:authority` and `host` are both present and name different hosts. */
  authorityMismatch: boolean;
  /** The header list size as SETTINGS_MAX_HEADER_LIST_SIZE counts it (RFC 9113 §6.5.2). */
  size: number;
}

// RFC 9113 §6.5.2: each field counts its name and value octets plus 32.
const FIELD_OVERHEAD = 32;

/**
 * Splits a request's raw header list (`[name, value, …]` as `node:http2` hands it over,
 * names already lowercase and validated by nghttp2).
 */
export function splitRequestHead(raw: readonly string[]): H2RequestHead {
  let method = '';
  let path: string | undefined;
  let authority: string | undefined;
  let protocol: string | undefined;
  let host: string | undefined;
  let contentLength: string | undefined;
  let expectContinue = false;
  let cookie: [string, string] | undefined;
  let size = 0;
  const headers: HeaderList = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    size += name.length + value.length + FIELD_OVERHEAD;
    if (name.charCodeAt(0) === 58 /* ':' */) {
      if (name === ':method') method = value;
      else if (name === ':path') path = value;
      else if (name === ':authority') authority = value;
      else if (name === ':protocol') protocol = value;
      // `:scheme` is not trusted: the connection says whether TLS carried the request.
      continue;
    }
    if (name === 'cookie') {
      // RFC 9113 §8.2.3: cookie crumbs are joined with "; " before leaving HTTP/2.
      if (cookie === undefined) headers.push((cookie = ['cookie', value]));
      else cookie[1] += '; ' + value;
      continue;
    }
    if (name === 'host') host ??= value;
    else if (name === 'content-length') contentLength ??= value;
    else if (name === 'expect') expectContinue ||= value.toLowerCase() === '100-continue';
    headers.push([name, value]);
  }
  const authorityMismatch = authority !== undefined && host !== undefined && authority.toLowerCase() !== host.toLowerCase();
  if (authority === undefined) authority = host;
  // The HTTP/1.1 view of the request has a Host field (RFC 9113 §8.3.1): when only
  // `:authority` was sent, it becomes `host`, first, as the ASGI spec also does.
  else if (host === undefined) headers.unshift(['host', authority]);
  return { method, path, authority, protocol, headers, contentLength, expectContinue, authorityMismatch, size };
}

/**
 * Builds the raw header list for `stream.respond()`: `:status` first, names lowercase
 * (RFC 9113 §8.2.1), order and repeated fields kept, connection-specific fields dropped, and
 * `content-length` added when `length` is known and the app did not set one. Values must
 * already be validated (`validateHeaders`): HTTP/2 does not forgive CR or LF either.
 */
export function responseHead(status: number, headers: HeaderList, length: number | undefined): string[] {
  const out: string[] = [':status', String(status)];
  let seen: Set<string> | undefined;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    const name = h[0].toLowerCase();
    if (CONNECTION_SPECIFIC.has(name)) continue;
    // Here the FIRST value wins, as it does for getHeader() and the runner's Content-Length check.
    if (SINGLE_VALUE_FIELDS.has(name)) {
      seen ??= new Set();
      if (seen.has(name)) continue;
      seen.add(name);
    }
    out.push(name, h[1]);
  }
  if (length !== undefined && !seen?.has('content-length')) out.push('content-length', String(length));
  return out;
}

/** Converts trailer fields to a `sendTrailers()` object ({@link toHeaderObject}'s rules). */
export function trailerFields(trailers: HeaderList): Record<string, string | string[]> {
  return toHeaderObject<Record<string, string | string[]>>(trailers);
}
