/**
 * The response sent when an app fails before anything was committed (SPEC §3.5). An
 * `HttpError` from `http-errors` keeps its status, its headers and its `expose` rule; any
 * other error is a 500 whose details go to the error stream, never to the client.
 */
import createError from 'http-errors';
import { isSafeValue, isToken, isHopByHop } from '../protocol/headers.ts';
import type { HeaderList } from './types.ts';
import { utf8Length } from '../wire/bytes.ts';

/** A complete error response: status, headers (with Content-Length) and body. */
export interface ErrorResponse {
  /** An `HttpError`'s status (400–599), else 500. */
  status: number;
  /** `content-type: text/plain; charset=utf-8`, `content-length`, `x-content-type-options: nosniff`, and an `HttpError`'s own safe fields. */
  headers: HeaderList;
  /** One line: an exposed `HttpError`'s message, else the status's standard phrase (`Internal Server Error`). */
  body: string;
  /** True when the error is a server fault worth logging (5xx, or not an HttpError). */
  log: boolean;
}

/** Builds the error response for `err`. */
export function errorResponse(err: unknown): ErrorResponse {
  const httpError = createError.isHttpError(err) && err.status >= 400 && err.status <= 599 ? err : undefined;
  const status = httpError?.status ?? 500;
  const expose = httpError?.expose ?? false;
  const body = `${expose ? httpError!.message : (createError(status).message)}\n`;
  const headers: HeaderList = [
    ['content-type', 'text/plain; charset=utf-8'],
    ['content-length', String(utf8Length(body))],
    ['x-content-type-options', 'nosniff'],
  ];
  const extra = httpError?.headers;
  if (extra) {
    for (const [name, value] of Object.entries(extra)) {
      const text = String(value);
      const lower = name.toLowerCase();
      if (lower === 'content-length' || lower === 'content-type' || !isToken(name) || !isSafeValue(text) || isHopByHop(name)) continue;
      headers.push([lower, text]);
    }
  }
  return { status, headers, body, log: httpError === undefined || status >= 500 };
}

/** Formats an error for the error stream: its stack, or its string form. */
export function formatError(err: unknown): string {
  if (err instanceof Error) {
    const text = err.stack ?? `${err.name}: ${err.message}`;
    // The stable code first, so log lines can be searched by it.
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `[${code}] ${text}` : text;
  }
  return `non-error thrown: ${String(err)}`;
}
