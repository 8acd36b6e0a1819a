/**
 * Header lists ↔ a Node response's header map.
 *
 * When a hatchway app's response is written into a response that middleware already worked
 * on (helmet's security headers, a session cookie), the app's fields *replace* same-named
 * ones — as `res.setHeader()` in a route does — except the two fields that are lists of
 * independent entries: `Set-Cookie` accumulates (like `res.cookie()`/`res.append()`) and
 * `Vary` is merged (like `res.vary()`). Field names keep the case the app gave them.
 */
import type { OutgoingMessage } from 'node:http';
import { isServerManaged } from '../../src/index.ts';
import type { HeaderList } from '../../src/index.ts';

/** Groups a header list by lowercase name, in order of first appearance. */
function grouped(headers: HeaderList): Map<string, { name: string; values: string[] }> {
  const groups = new Map<string, { name: string; values: string[] }>();
  for (const [name, value] of headers) {
    const key = name.toLowerCase();
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { name, values: [value] });
    else group.values.push(value);
  }
  return groups;
}

function varyTokens(value: string): string[] {
  return value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

/** Writes `headers` into `res`'s header map: replace same names, except Set-Cookie (append) and Vary (merge). */
export function mergeHeaders(res: OutgoingMessage, headers: HeaderList): void {
  for (const [key, { name, values }] of grouped(headers)) {
    if (key === 'set-cookie' && res.hasHeader(key)) {
      res.appendHeader(name, values);
    } else if (key === 'vary' && res.hasHeader(key)) {
      const existing = res.getHeader(key);
      const tokens = varyTokens(Array.isArray(existing) ? existing.join(',') : String(existing));
      if (tokens.includes('*')) continue;
      const lower = new Set(tokens.map((t) => t.toLowerCase()));
      for (const value of values) {
        for (const token of varyTokens(value)) {
          if (token === '*') {
            tokens.length = 0;
            tokens.push('*');
            break;
          }
          if (!lower.has(token.toLowerCase())) {
            lower.add(token.toLowerCase());
            tokens.push(token);
          }
        }
      }
      res.setHeader(name, tokens.join(', '));
    } else {
      res.setHeader(name, values.length === 1 ? values[0]! : values);
    }
  }
}

/** Replaces `res`'s whole header map with `headers`. */
export function replaceHeaders(res: OutgoingMessage, headers: HeaderList): void {
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  for (const [, { name, values }] of grouped(headers)) res.setHeader(name, values.length === 1 ? values[0]! : values);
}

/**
 * `res`'s header map as a header list (names as they were set, values split), without the
 * connection-level fields the server owns.
 */
export function headersOf(res: OutgoingMessage, status: number): HeaderList {
  const out: HeaderList = [];
  for (const name of (res as OutgoingMessage & { getRawHeaderNames(): string[] }).getRawHeaderNames()) {
    const lower = name.toLowerCase();
    if (isServerManaged(lower, status)) continue;
    const value = res.getHeader(lower);
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push([name, String(v)]);
    else out.push([name, String(value)]);
  }
  return out;
}

/** Node's `req.headers` for a header list (cookie joined with `; `, set-cookie an array, others `, `). */
export function nodeHeaders(headers: HeaderList): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [n, value] of headers) {
    const name = n.toLowerCase();
    const prev = out[name];
    if (name === 'set-cookie') out[name] = Array.isArray(prev) ? [...prev, value] : [value];
    else if (prev === undefined) out[name] = value;
    else out[name] = `${prev as string}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return out;
}
