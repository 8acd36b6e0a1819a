/**
 * Which response fields an escape keeps (SPEC §7.3): the fields that describe the token body
 * rather than the response, the fields a body-less takeover drops, the fields a fallback
 * inherits from the token response, and each kind's default fallback.
 */
import createError from 'http-errors';
import type { App, HeaderList } from '../gateway/types.ts';
import type { EscapeKind } from './degrade.ts';
import { http2Fallback, type Http2Registration } from './http2-app.ts';
import { trailersFallback, type TrailersRegistration } from './trailers.ts';
import { upgradeFallback, type UpgradeRegistration } from './upgrade.ts';
import { websocketFallback, type WebSocketRegistration } from './websocket.ts';

/** Fields computed over the body that reached the server: over a token body they describe 28 random bytes. */
export const TOKEN_DESCRIBING: ReadonlySet<string> = new Set(['content-length', 'etag', 'content-md5', 'digest', 'content-digest', 'repr-digest']);

/** Fields that describe a body: meaningless on a `101`, or on a handler's own response. */
export const BODY_FIELDS: ReadonlySet<string> = new Set([...TOKEN_DESCRIBING, 'content-type', 'content-encoding', 'content-range', 'cache-control', 'last-modified']);

/** Fields a fallback never inherits: those computed over the token body, and codings of it. */
export const NOT_CARRIED: ReadonlySet<string> = new Set([...TOKEN_DESCRIBING, 'content-encoding', 'content-range', 'transfer-encoding']);

/** `headers` without the fields in `drop`. */
export function without(headers: HeaderList, drop: ReadonlySet<string>): HeaderList {
  return headers.filter(([name]) => !drop.has(name.toLowerCase()));
}

/** `own` followed by every field of `carried` whose name `own` does not set itself. */
export function withCarried(own: HeaderList, carried: HeaderList): HeaderList {
  if (carried.length === 0) return own;
  const names = new Set(own.map(([name]) => name.toLowerCase()));
  return [...own, ...carried.filter(([name]) => !names.has(name.toLowerCase()))];
}

/** Each body kind's own default fallback (SPEC §7.5, §7.6, §7.8, §7.10). */
export function defaultFallback(kind: EscapeKind, registration: unknown): App {
  if (kind === 'trailers') return trailersFallback(registration as TrailersRegistration);
  if (kind === 'http2') return http2Fallback(registration as Http2Registration);
  if (kind === 'upgrade') return upgradeFallback(registration as UpgradeRegistration);
  return websocketFallback(registration as WebSocketRegistration);
}

/**
 * The response of the `answer` outcome when the body that reached the server is the token: the
 * middleware's status and fields, with the http-errors text of the status as the body (none
 * below 400: a redirect or a 2xx of the middleware's own says what it has to in its fields).
 */
export function answerBody(status: number): string {
  return status >= 400 && status <= 599 ? `${createError(status).message}\n` : '';
}
