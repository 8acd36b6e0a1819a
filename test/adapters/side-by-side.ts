/**
 * Side-by-side helpers: the same requests against a handler hosted natively (`node:http`)
 * and through hatchway, compared on status, headers (order aside) and body bytes.
 */
import { request as httpRequest, createServer, type IncomingHttpHeaders, type RequestListener, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
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
  /** Headers left out of the comparison for this case, with the reason (a documented difference of the native host). */
  ignore?: { headers: string[]; reason: string };
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

/** How two replies may differ. */
export interface Allowances {
  /** Headers compared for presence only. */
  differing?: string[] | undefined;
  /** Headers not compared at all. */
  ignored?: string[] | undefined;
  /** The header comparison is a `todo` with this reason. */
  todo?: string | undefined;
  /** The body comparison is a `todo` with this reason. */
  bodyTodo?: string | undefined;
}

/** Asserts that two replies are the same: status, reason, headers (order aside, minus Date) and body bytes. */
export function sameReply(t: Test, native: Reply, hatch: Reply, name: string, allow: Allowances = {}): void {
  const differing = allow.differing ?? [];
  t.equal(hatch.status, native.status, `${name}: status`);
  t.equal(hatch.statusMessage, native.statusMessage, `${name}: reason`);
  const skip = new Set([...ALWAYS_IGNORED, ...differing, ...(allow.ignored ?? [])]);
  const strip = (headers: IncomingHttpHeaders) => Object.fromEntries(Object.entries(headers).filter(([k]) => !skip.has(k)));
  t.same(strip(hatch.headers), strip(native.headers), `${name}: headers`, allow.todo === undefined ? {} : { todo: allow.todo });
  for (const header of differing) t.equal(hatch.headers[header] === undefined, native.headers[header] === undefined, `${name}: ${header} present on both or neither`);
  const same = hatch.body.equals(native.body);
  t.ok(same, `${name}: body (${hatch.body.length} vs ${native.body.length} bytes)`, allow.bodyTodo === undefined ? {} : { todo: allow.bodyTodo });
  if (!same && allow.bodyTodo === undefined) t.comment(`native: ${native.body.subarray(0, 200).toString()}\nhatchway: ${hatch.body.subarray(0, 200).toString()}`);
}

/** Sends every case to both hosts, in order, and asserts each pair is the same; returns the replies. */
export async function compareAll(t: Test, native: string, hatch: string, cases: Case[]): Promise<Array<[Reply, Reply]>> {
  const out: Array<[Reply, Reply]> = [];
  for (const c of cases) {
    const options = { method: c.method ?? 'GET', headers: c.headers ?? {}, body: c.body };
    const a = await send(native, c.path, options);
    const b = await send(hatch, c.path, options);
    if (c.ignore) t.comment(`${c.name}: not comparing ${c.ignore.headers.join(', ')}: ${c.ignore.reason}`);
    sameReply(t, a, b, c.name, { differing: c.differing, ignored: c.ignore?.headers, todo: c.todo, bodyTodo: c.bodyTodo });
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

/** A log sink for morgan whose lines can be compared (the date masked). */
export function logSink(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString().replace(/\[[^\]]+\]/, '[<date>]'));
      callback();
    },
  });
  return { stream, lines };
}

/**
 * GETs `url` and calls `release` once the text received so far equals `first`: proves a
 * first chunk reached the client while the server still held the rest. Resolves with the
 * whole text.
 */
export function readReleasing(url: string, first: string, release: () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (text === first) release();
      });
      res.on('end', () => resolve(text));
    })
      .on('error', reject)
      .end();
  });
}

/** The protocols a fidelity comparison runs over: HTTP/1.1, HTTP/2 with prior knowledge, HTTP/2 over TLS (ALPN h2). */
export type Wire = 'h1' | 'h2c' | 'h2';

/** Options of {@link sendH2}. */
export interface H2Options {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as DATA frames without a content-length (HTTP/2's "length unknown"), unless `headers` has one. */
  body?: string | Buffer | string[];
  /** The CA to trust for `https:` (the test certificate). */
  ca?: string;
  /** Destroy the stream once the first DATA frame of the response arrived. */
  abortAfterFirstData?: boolean;
}

/**
 * Sends one request over a fresh HTTP/2 session (`http:` = h2c with prior knowledge,
 * `https:` = TLS, ALPN h2). The reply's `statusMessage` is `''` (HTTP/2 has no reason phrase);
 * its headers are as node:http would report them (`set-cookie` an array, other repeats joined).
 */
export async function sendH2(base: string, path: string, options: H2Options = {}): Promise<Reply & { trailers: Record<string, string | string[] | undefined> }> {
  const { connect } = await import('node:http2');
  const session = connect(base, options.ca === undefined ? {} : { ca: options.ca, servername: 'localhost' });
  try {
    return await new Promise((resolve, reject) => {
      session.on('error', reject);
      const req = session.request({ ':method': options.method ?? 'GET', ':path': path, ...options.headers }, { endStream: options.body === undefined });
      const chunks: Buffer[] = [];
      let status = 0;
      let headers: IncomingHttpHeaders = {};
      let trailers: Record<string, string | string[] | undefined> = {};
      req.on('response', (h) => {
        status = Number(h[':status']);
        headers = Object.fromEntries(Object.entries(h).filter(([k]) => k[0] !== ':')) as IncomingHttpHeaders;
      });
      req.on('trailers', (h) => {
        trailers = { ...h } as Record<string, string | string[] | undefined>;
      });
      req.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (options.abortAfterFirstData) {
          req.close();
          resolve({ status, statusMessage: '', headers, body: Buffer.concat(chunks), trailers });
        }
      });
      req.on('end', () => resolve({ status, statusMessage: '', headers, body: Buffer.concat(chunks), trailers }));
      req.on('error', reject);
      if (options.body !== undefined) {
        const parts = Array.isArray(options.body) ? options.body : [options.body];
        // Several writes, so the body is several DATA frames of unknown total length.
        for (const part of parts) req.write(part);
        req.end();
      }
    });
  } finally {
    session.close();
  }
}
