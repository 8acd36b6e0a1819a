/**
 * The report extension (SPEC §7.9): what the server really sent for a request, told to whoever
 * asked once the response is over. A middleware sees only the response that passed through it
 * — a token response, a 200 placeholder — while the client got a 101, a 426 fallback or the
 * status of an HTTP/2 handler; an access log asks the server instead.
 */
import type { Environ, Protocol } from './types.ts';

/** The environ key of the report extension. */
export const REPORT_KEY = 'hatchway.report';

/** What the escape sink decided (the degrade table's row, situation and outcome). */
export interface ReportedEscape {
  /** The escape the response claimed: `websocket`, `trailers`, `push` or `http2` (`none` when a control field came without a claim). */
  kind: string;
  /** What the server found (SPEC §7.3): `honoured`, `ineligible`, `body-altered`, `header-dropped`, `client-gone`…; `unreported` when the access log only saw the claim. */
  situation: string;
  /** What the server did about it: `takeover`, `fallback`, `push`, `preload`, `emulate`, `refuse`…; `unreported` as above. */
  outcome: string;
}

/** What went on the wire for one request. */
export interface ResponseReport {
  /** The final status the client received: 101 for a websocket takeover over HTTP/1.1, the handler's for `upgradeTo`, the fallback's. 0 if nothing was sent. */
  status: number;
  /** Body bytes written (not counting framing); 0 for a takeover. */
  bytes: number;
  /** The protocol the response went over: `HTTP/1.0`, `HTTP/1.1` or `HTTP/2`. */
  protocol: Protocol;
  /** The escape decision of the response, if one was involved (the first, not a fallback's). */
  escape: ReportedEscape | undefined;
  /** The response was torn down, or the client left before it was complete. */
  aborted: boolean;
}

/** The extension a server puts at `environ['hatchway.report']`: register a listener, called once. */
export type ReportExtension = (listener: (report: ResponseReport) => void) => void;

/**
 * Asks the server to tell `listener` what it sent, once the response is over; returns false
 * where the host has no report extension (a foreign host): the caller then falls back to what
 * it saw itself.
 *
 * @example
 * ```ts
 * const log: Middleware = (app) => (environ, startResponse) => {
 *   let seen = 0;
 *   const body = app(environ, (status, headers, excInfo) => { seen = Number(String(status).slice(0, 3)); return startResponse(status, headers, excInfo); });
 *   if (!onResponse(environ, (r) => console.log(environ.method, environ.target, r.status, r.bytes))) {
 *     return onBodyClose(body, () => console.log(environ.method, environ.target, seen));
 *   }
 *   return body;
 * };
 * ```
 */
export function onResponse(environ: Environ, listener: (report: ResponseReport) => void): boolean {
  const register = environ[REPORT_KEY] as ReportExtension | undefined;
  if (typeof register !== 'function') return false;
  register(listener);
  return true;
}
