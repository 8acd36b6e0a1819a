/**
 * Side-by-side helpers: the same requests against a handler hosted natively (`node:http`)
 * and through hatchway, compared on status, headers (order aside) and body bytes.
 */
import { request as httpRequest, createServer, type IncomingHttpHeaders, type RequestListener, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';
import type { App } from '../../src/index.ts';
import { start } from '../fixtures/server.ts';

/** A response as a raw HTTP client sees it (no decompression). */
export interface Reply {
  status: number;
  statusMessage: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request. */
export interface Case {
  name: string;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Headers whose values legitimately differ between the two hosts (compared for presence only). */
  differing?: string[];
  /** A known, reported difference in the headers: the header comparison is a `todo`. */
  todo?: string;
  /** A known, reported difference in the body: the body comparison is a `todo`. */
  bodyTodo?: string;
}

/** Sends one request over a fresh connection (no keep-alive, so nothing is left open). */
export function send(base: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, statusMessage: res.statusMessage!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Starts a native `node:http` server for `listener` on 127.0.0.1, port 0; closed at teardown. */
export async function listenNative(t: Test, listener: RequestListener): Promise<{ url: string; server: HttpServer }> {
  const server = createServer({ keepAliveTimeout: 5_000 }, listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** Starts a hatchway server for `app`; closed at teardown. Returns its URL and the lines it logged. */
export async function listenHatchway(t: Test, app: App): Promise<{ url: string; logs: string[] }> {
  const { url, logs } = await start(t, app);
  return { url, logs };
}

const ALWAYS_IGNORED = new Set(['date']);

/** Asserts that two replies are the same: status, reason, headers (order aside, minus Date) and body bytes. */
export function sameReply(t: Test, native: Reply, hatch: Reply, name: string, differing: string[] = [], todo?: string, bodyTodo?: string): void {
  t.equal(hatch.status, native.status, `${name}: status`);
  t.equal(hatch.statusMessage, native.statusMessage, `${name}: reason`);
  const skip = new Set([...ALWAYS_IGNORED, ...differing]);
  const strip = (headers: IncomingHttpHeaders) => Object.fromEntries(Object.entries(headers).filter(([k]) => !skip.has(k)));
  t.same(strip(hatch.headers), strip(native.headers), `${name}: headers`, todo === undefined ? {} : { todo });
  for (const name of differing) t.equal(hatch.headers[name] === undefined, native.headers[name] === undefined, `${name}: ${name} present on both or neither`);
  t.ok(hatch.body.equals(native.body), `${name}: body (${hatch.body.length} vs ${native.body.length} bytes)`, bodyTodo === undefined ? {} : { todo: bodyTodo });
  if (!hatch.body.equals(native.body) && bodyTodo === undefined) t.comment(`native: ${native.body.subarray(0, 200).toString()}\nhatchway: ${hatch.body.subarray(0, 200).toString()}`);
}

/** Sends every case to both hosts, in order, and asserts each pair is the same; returns the replies. */
export async function compareAll(t: Test, native: string, hatch: string, cases: Case[]): Promise<Array<[Reply, Reply]>> {
  const out: Array<[Reply, Reply]> = [];
  for (const c of cases) {
    const options = { method: c.method ?? 'GET', headers: c.headers ?? {}, body: c.body };
    const a = await send(native, c.path, options);
    const b = await send(hatch, c.path, options);
    sameReply(t, a, b, c.name, c.differing, c.todo, c.bodyTodo);
    out.push([a, b]);
  }
  return out;
}

/** Waits (a bounded number of turns of the event loop) until `check()` is true. */
export async function until(check: () => boolean, turns = 2_000): Promise<boolean> {
  for (let i = 0; i < turns; i++) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return check();
}

/** The `name=value` of each Set-Cookie, with the values of `masked` cookies replaced (they are random per host). */
export function cookieNames(reply: Reply, masked: string[] = []): string[] {
  const cookies = reply.headers['set-cookie'] ?? [];
  return cookies.map((c) => {
    const eq = c.indexOf('=');
    const name = c.slice(0, eq);
    return masked.includes(name) ? `${name}=<masked>${c.slice(c.indexOf(';'))}` : c;
  });
}
