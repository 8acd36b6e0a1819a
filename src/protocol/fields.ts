/**
 * Field sets every front-end and adapter shares, sans-IO: which fields belong to a connection
 * rather than to a message, which ones may appear only once, and the one conversion from a
 * header list to `node:http2`'s object form that respects both.
 */
import type { HeaderList } from '../wire/types.ts';

/**
 * Connection-specific fields (RFC 9110 §7.6.1; RFC 9113 §8.2.2 and §3.2.1 for
 * `http2-settings`). They describe one hop, never the message: the server manages them on
 * HTTP/1.1, and HTTP/2 forbids them outright (`node:http2` throws on them).
 */
export const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'upgrade', 'http2-settings',
]);

/**
 * Fields that may appear once in a message: the set `node:http2` enforces
 * (`kSingleValueHeaders` in its `lib/internal/http2/util.js`; sending two throws
 * `ERR_HTTP2_HEADER_SINGLE_VALUE`).
 */
export const SINGLE_VALUE_FIELDS: ReadonlySet<string> = new Set([
  'access-control-allow-credentials', 'access-control-max-age', 'access-control-request-method', 'age', 'authorization',
  'content-encoding', 'content-language', 'content-length', 'content-location', 'content-md5', 'content-range',
  'content-type', 'date', 'dnt', 'etag', 'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match',
  'if-range', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'range',
  'referer', 'retry-after', 'tk', 'upgrade-insecure-requests', 'user-agent', 'x-content-type-options',
]);

/** A header object as `node:http2`'s `respond()` and `sendTrailers()` take it. */
export type HeaderObject = Record<string, string | string[] | number>;

/**
 * Converts a header list to `node:http2`'s object form: names lowercased, repeated fields as
 * arrays in order, except a single-value field, where the LAST value wins (a handler's own
 * field overrides one the middleware set around it). Connection-specific fields and
 * pseudo-header names in `list` are dropped; pseudo-headers already in `into` are kept.
 */
export function toHeaderObject<T extends HeaderObject>(list: HeaderList, into: T = {} as T): T {
  const out = into as HeaderObject;
  for (let i = 0; i < list.length; i++) {
    const [rawName, value] = list[i]!;
    const name = rawName.toLowerCase();
    if (CONNECTION_SPECIFIC.has(name) || name.charCodeAt(0) === 58 /* ':' */) continue;
    const prev = out[name];
    if (prev === undefined || SINGLE_VALUE_FIELDS.has(name)) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [String(prev), value];
  }
  return into;
}
