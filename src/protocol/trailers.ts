/**
 * Trailer field rules (RFC 9110 §6.5.1): a sender must not put in trailers the fields that
 * frame the message, route it, authenticate it, or control caching and content handling.
 */
import { isSafeValue, isToken } from './headers.ts';
import { CONNECTION_SPECIFIC } from './fields.ts';
import { HatchwayError } from '../wire/errors.ts';
import type { HeaderList } from '../wire/types.ts';

const FORBIDDEN = new Set([
  ...CONNECTION_SPECIFIC, 'trailer', 'content-length', 'host',
  'cache-control', 'expect', 'max-forwards', 'pragma', 'range', 'authorization', 'proxy-authenticate',
  'proxy-authorization', 'www-authenticate', 'set-cookie', 'cookie', 'content-encoding', 'content-type',
  'content-range', 'age', 'expires', 'date', 'location', 'retry-after', 'vary', 'warning',
]);

/** Checks trailer fields; throws `ERR_HATCHWAY_INVALID_TRAILER` naming the first bad one. */
export function validateTrailers(trailers: unknown): asserts trailers is HeaderList {
  if (!Array.isArray(trailers)) throw new HatchwayError('ERR_HATCHWAY_INVALID_TRAILER', trailers);
  for (const pair of trailers) {
    if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') throw new HatchwayError('ERR_HATCHWAY_INVALID_TRAILER', pair);
    const [name, value] = pair as [string, string];
    if (!isToken(name) || !isSafeValue(value) || FORBIDDEN.has(name.toLowerCase()) || name.startsWith(':')) {
      throw new HatchwayError('ERR_HATCHWAY_INVALID_TRAILER', name);
    }
  }
}
