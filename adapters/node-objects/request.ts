/**
 * The request side of an adapted exchange: one real `http.IncomingMessage` per request, built
 * from the environ, its body pulled from `environ.input`, shared by every adapter layer of a
 * pipeline (`environ['connect.req']`), and read back into an environ after middleware ran.
 */
import { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { BodyReader, Environ, HeaderList } from '../../src/index.ts';
import { StreamBodyReader } from '../../src/host.ts';
import { nodeHeaders } from './headers.ts';
import type { GatewaySocket } from './socket.ts';
import { environForUrl, relativeUrl } from './url.ts';

/**
 * The environ key holding the Node request object that Connect/Express middleware worked on:
 * `req.user`, `req.session`, `req.body`, `req.cookies` and the like. One request object per
 * request: every adapter layer of a pipeline reuses it (after bringing it up to date with
 * what hatchway middleware in between changed), so what one middleware attaches, the next sees.
 */
export const CONNECT_REQ = 'connect.req';

// Classes, not object literals, for what lives as long as the request: V8 may allocate a
// literal straight in the old generation once most of its kind outlived a scavenge, and an old
// object pointing at young ones (the environ's headers and input) keeps them alive until the
// next full collection.

/** The environ fields a request object stands for. */
class Synced {
  readonly method: string;
  readonly target: string;
  readonly scriptName: string;
  readonly pathInfo: string;
  readonly queryString: string;
  readonly headers: HeaderList;
  readonly input: BodyReader;
  constructor(environ: Environ) {
    this.method = environ.method;
    this.target = environ.target;
    this.scriptName = environ.scriptName;
    this.pathInfo = environ.pathInfo;
    this.queryString = environ.queryString;
    this.headers = environ.headers;
    this.input = environ.input;
  }
}

/** What we know about a request object we built. */
class RequestState {
  readonly requestId: string;
  /** The environ fields the request object stands for now. */
  synced: Synced;
  /** Where `_read` pulls the body from. */
  input: BodyReader;
  /** A read from `input` is under way. */
  reading = false;
  constructor(environ: Environ) {
    this.requestId = environ.requestId;
    this.synced = new Synced(environ);
    this.input = environ.input;
  }
}

/** `req._read`, shared by every request we build: pulls one chunk from the request's input. */
function readBody(this: IncomingMessage & IncomingInternals): void {
  // As IncomingMessage's own _read: from now on the stream reads ahead by itself.
  this._consuming = true;
  this._readableState.readingMore = false;
  const state = (this as Stateful)[kState]!;
  if (state.reading) return;
  state.reading = true;
  state.input.read().then(
    (chunk) => {
      state.reading = false;
      if (chunk === null) {
        this.complete = true;
        this.push(null);
      } else {
        this.push(chunk);
      }
    },
    (err: unknown) => {
      state.reading = false;
      this.destroy(err instanceof Error ? err : new Error(String(err)));
    },
  );
}

/** Where a request object we built keeps its state (a symbol property: cheaper than a WeakMap). */
const kState = Symbol('hatchway.requestState');
type Stateful = IncomingMessage & { [kState]?: RequestState };

/**
 * Raw header lines for a request object, HTTP/1-shaped: over HTTP/2 `:authority` becomes Host,
 * and a body of unknown length (DATA frames without a content-length, RFC 9113 §8.1.1) says
 * `Transfer-Encoding: chunked`, the HTTP/1.1 way to say it — body parsers (`type-is`'s
 * `hasBody`) look for exactly that, and would otherwise take the body for none.
 */
function rawHeadersFor(environ: Environ): string[] {
  const raw: string[] = [];
  const h2 = environ.protocol === 'HTTP/2';
  let host = false;
  let framed = false;
  for (const [name, value] of environ.headers) {
    raw.push(name, value);
    if (name === 'host') host = true;
    else if (name === 'content-length' || name === 'transfer-encoding') framed = true;
  }
  if (h2 && environ.authority !== '' && !host) raw.unshift('host', environ.authority);
  if (h2 && !framed && environ.input.length === undefined) raw.push('transfer-encoding', 'chunked');
  return raw;
}

/** Node's `req.headers` shape. */
export type NodeHeaders = Record<string, string | string[] | undefined>;

/** The parts of `IncomingMessage` that are not in its public typings. */
export interface IncomingInternals {
  _addHeaderLines(headers: string[], n: number): void;
  _readableState: { readingMore: boolean };
  _consuming: boolean;
  _read(size: number): void;
}

const VERSIONS = {
  'HTTP/1.0': { major: 1, minor: 0, version: '1.0' },
  'HTTP/1.1': { major: 1, minor: 1, version: '1.1' },
  'HTTP/2': { major: 2, minor: 0, version: '2.0' },
} as const;

/**
 * A new request object for `environ`, on `socket` (see {@link adoptRequest} for the one an
 * outer adapter layer built). `originalUrl` sets `req.originalUrl`, as Connect does on entry.
 */
export function newRequest(environ: Environ, socket: GatewaySocket, originalUrl: boolean): IncomingMessage {
  const req = buildRequest(environ, socket);
  (req as Stateful)[kState] = new RequestState(environ);
  // As Connect and Express do on entry: middleware (morgan, routers) reads the URL the client sent.
  if (originalUrl) (req as IncomingMessage & { originalUrl?: string }).originalUrl = environ.target[0] === '/' ? environ.target : req.url;
  return req;
}

function buildRequest(environ: Environ, socket: GatewaySocket): IncomingMessage {
  const req = new IncomingMessage(socket as unknown as Socket);
  const internals = req as unknown as IncomingInternals;
  const version = VERSIONS[environ.protocol];
  req.httpVersionMajor = version.major;
  req.httpVersionMinor = version.minor;
  req.httpVersion = version.version;
  req.method = environ.method;
  req.url = relativeUrl(environ);
  // HTTP/1-shaped even over HTTP/2: `:authority` becomes the Host header Express reads.
  const raw = rawHeadersFor(environ);
  internals._addHeaderLines(raw, raw.length);

  internals._read = readBody;
  return req;
}

/**
 * The request object an outer adapter layer built for this request (`environ['connect.req']`),
 * brought up to date with what hatchway middleware in between changed; `undefined` if none.
 */
export function adoptRequest(environ: Environ): IncomingMessage | undefined {
  const shared = environ[CONNECT_REQ];
  const state = shared instanceof IncomingMessage ? (shared as Stateful)[kState] : undefined;
  if (state === undefined || state.requestId !== environ.requestId) return undefined;
  syncRequest(shared as IncomingMessage, state, environ);
  return shared as IncomingMessage;
}

/** The request as it was before middleware ran: to tell what it changed. */
export interface Snapshot {
  url: string | undefined;
  method: string | undefined;
  headers: NodeHeaders;
}

/** Takes a {@link Snapshot} of `req`. */
export function snapshotRequest(req: IncomingMessage): Snapshot {
  return { url: req.url, method: req.method, headers: copyHeaders(req.headers) };
}

/**
 * The environ for an inner app after middleware worked on `req` (since `snapshot` was taken of
 * it for `environ`): method, URL and header changes, the rest of the request body, `extra`
 * keys, and `environ['connect.req']`.
 */
export function environAfter(req: IncomingMessage, environ: Environ, snapshot: Snapshot, extra: Record<string, unknown> = {}): Environ {
  const internals = req as IncomingMessage & IncomingInternals;
  const inner: Environ = { ...environ, ...extra, [CONNECT_REQ]: req };
  if (req.method !== snapshot.method && typeof req.method === 'string') inner.method = req.method;
  if (req.url !== snapshot.url && typeof req.url === 'string') Object.assign(inner, environForUrl(environ, req.url));
  inner.headers = headersAfter(environ.headers, snapshot.headers, req.headers as NodeHeaders);
  // Once middleware has touched the request stream, the rest of the body is whatever it left there.
  if (internals._consuming || req.readableLength > 0 || req.readableEnded || req.readableFlowing !== null) {
    inner.input = new StreamBodyReader(req, undefined);
  }
  const state = (req as Stateful)[kState];
  if (state !== undefined) state.synced = new Synced(inner);
  return inner;
}

/** Brings a shared request object up to date with what hatchway middleware changed in the environ. */
function syncRequest(req: IncomingMessage, state: RequestState, environ: Environ): void {
  const was = state.synced;
  if (environ.method !== was.method) req.method = environ.method;
  if (environ.target !== was.target || environ.scriptName !== was.scriptName || environ.pathInfo !== was.pathInfo || environ.queryString !== was.queryString) {
    req.url = relativeUrl(environ);
  }
  if (environ.headers !== was.headers) {
    const raw = rawHeadersFor(environ);
    req.rawHeaders = raw;
    const headers: HeaderList = [];
    for (let i = 0; i < raw.length; i += 2) headers.push([raw[i]!, raw[i + 1]!]);
    req.headers = nodeHeaders(headers);
  }
  if (environ.input !== was.input && !(req as IncomingMessage & IncomingInternals)._consuming) state.input = environ.input;
  state.synced = new Synced(environ);
}

function copyHeaders(headers: NodeHeaders): NodeHeaders {
  const copy: NodeHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    copy[name] = Array.isArray(value) ? value.slice() : value;
  }
  return copy;
}

function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => v === b[i]);
  return a === b;
}

function pushValues(out: HeaderList, name: string, value: unknown): void {
  if (value === undefined || value === null) return;
  if (Array.isArray(value)) for (const v of value) out.push([name, String(v)]);
  else out.push([name, String(value)]);
}

/**
 * The request headers after middleware changed `req.headers`: unchanged fields keep their
 * original pairs (order, duplicates); a changed field is replaced where it first stood; added
 * fields go last; removed ones are gone.
 */
export function headersAfter(original: HeaderList, before: NodeHeaders, after: NodeHeaders): HeaderList {
  let changed = false;
  for (const name in after) {
    if (!same(after[name], before[name]) || name !== name.toLowerCase()) {
      changed = true;
      break;
    }
  }
  if (!changed) {
    for (const name in before) {
      if (after[name] === undefined && before[name] !== undefined) {
        changed = true;
        break;
      }
    }
  }
  if (!changed) return original;
  const out: HeaderList = [];
  const seen = new Set<string>();
  for (const pair of original) {
    const name = pair[0];
    seen.add(name);
    const now = after[name];
    if (now === undefined) continue;
    if (same(now, before[name])) out.push(pair);
    else if (!seen.has(`\0${name}`)) {
      seen.add(`\0${name}`);
      pushValues(out, name, now);
    }
  }
  for (const key in after) {
    const name = key.toLowerCase();
    if (seen.has(name)) continue;
    if (name === key && before[name] !== undefined && same(after[key], before[name])) continue; // e.g. a Host made from :authority
    pushValues(out, name, after[key]);
  }
  return out;
}
