/**
 * The recognition rule (SPEC §7.3), as a sink that sits between the runner and a protocol
 * front-end. At the commit point it reads the control headers, holds the first bytes of the
 * body until it can tell whether they are the token, asks the degrade table what to do, and
 * does it with the front-end's capabilities. A token never leaves: control headers are always
 * stripped, any other header that carries a token is dropped, and a body that carries one is
 * replaced (before the commit) or torn down (after).
 */
import createError from 'http-errors';
import type { WebSocket } from 'ws';
import { run, type ResponseSink } from '../gateway/run.ts';
import { FileBody, chunkLength, closeBody, toBytes } from '../gateway/body.ts';
import { errorResponse, formatError } from '../gateway/error-response.ts';
import type { Body, Chunk, Environ, HeaderList } from '../gateway/types.ts';
import { HatchwayError } from '../gateway/errors.ts';
import { validateTrailers } from '../protocol/trailers.ts';
import { opensTunnel } from '../protocol/headers.ts';
import { BODY_KINDS, degrade, type EscapeKind, type Outcome, type ProtocolFamily, type Situation } from './degrade.ts';
import { CONTROL_HEADER, isTokenShaped, type EscapeRegistry, type Entry } from './registry.ts';
import { preloadLink, type PushRegistration, type PushResource } from './push.ts';
import { trailersBody, withoutTrailers, type TrailersRegistration } from './trailers.ts';
import { upgradeRequired, type WebSocketRegistration } from './websocket.ts';
import type { Http2Registration } from './http2-app.ts';

/** The front-end capabilities escapes need, beyond the runner's {@link ResponseSink}. */
export interface EscapeCapableSink extends ResponseSink {
  /** Sends a 103 Early Hints with these `Link` values. */
  earlyHints?(links: string[]): void;
  /** Completes the websocket handshake with these extra headers and calls `onSocket`. */
  acceptWebSocket?(headers: HeaderList, registration: WebSocketRegistration, environ: Environ, onSocket: (ws: WebSocket) => void): void;
  /** Pushes these resources (PUSH_PROMISE) before the response. */
  push?(resources: PushResource[]): void;
  /** Runs an HTTP/2 handler on the real stream, with these extra response headers. */
  http2?(registration: Http2Registration, headers: HeaderList, environ: Environ): void;
}

/** What this request can really have, decided by the front-end from the wire, not from environ. */
export interface Eligibility {
  websocket: boolean;
  trailers: boolean;
  push: boolean;
}

/** Everything the escape sink needs to know about its request. */
export interface EscapeContext {
  /** The environ the server built (fallback apps and `onSocket` receive it). */
  environ: Environ;
  registry: EscapeRegistry;
  protocol: ProtocolFamily;
  eligible: Eligibility;
}

const HOLD_NONE = 0;
const HOLD_EXPECT = 1; // a body-kind control header matched: is the body the token?
const HOLD_SNIFF = 2; // no control header, body registrations pending: is the body a token anyway?

/** A body-kind token, seen once in a header. */
interface Claim {
  kind: EscapeKind;
  entry: Entry | undefined;
  token: string;
}

/** Wraps a front-end's sink for one request. */
export class EscapeSink implements ResponseSink {
  readonly #inner: EscapeCapableSink;
  readonly #ctx: EscapeContext;
  readonly #depth: number;
  #hold = HOLD_NONE;
  #status = 0;
  #reason: string | undefined;
  #headers: HeaderList = NO_HEADERS;
  #length: number | undefined;
  #trailers = false;
  // Held chunks, only while holding: the common pass-through allocates nothing here.
  #chunks: Chunk[] = NO_CHUNKS;
  #held = 0;
  #claim: Claim | undefined;
  #encoded = false;
  #scan: Uint8Array[] | undefined; // token bytes to watch for after the commit
  #carry: Uint8Array | undefined;
  // Set once the response was handed to an escape or a fallback: whatever the runner still
  // sends of the original body goes nowhere, and `closed` tells it to stop.
  #detached = false;

  constructor(inner: EscapeCapableSink, ctx: EscapeContext, depth = 0) {
    this.#inner = inner;
    this.#ctx = ctx;
    this.#depth = depth;
  }

  get closed(): boolean {
    return this.#detached || this.#inner.closed;
  }

  head(status: number, reason: string | undefined, headers: HeaderList, length: number | undefined, trailers?: boolean): void {
    const registry = this.#ctx.registry;
    if (opensTunnel(this.#ctx.environ.method, status) && !hasControl(headers)) {
      // Only an honoured escape may answer CONNECT with a 2xx: anything else would tell the
      // client its tunnel (websocket) is open when nothing is behind it.
      this.#detached = true;
      this.#ctx.environ.errors.write('a 2xx answer to CONNECT that is not an escape was refused');
      this.#send(errorResponse(new Error('2xx to CONNECT')));
      this.#release();
      return;
    }
    if (registry.size === 0 && !hasControl(headers)) {
      this.#inner.head(status, reason, headers, length, trailers);
      return;
    }
    this.#status = status;
    this.#reason = reason;
    this.#length = length;
    this.#trailers = trailers === true;
    const clean: HeaderList = [];
    const pushes: Entry[] = [];
    for (const header of headers) {
      const name = header[0].toLowerCase();
      if (name === CONTROL_HEADER) {
        this.#readControl(header[1], pushes);
        continue;
      }
      if (name === 'content-encoding') this.#encoded = true;
      if (registry.leaks(header[1])) continue; // a token copied into another header never leaves
      clean.push(header);
    }
    this.#headers = clean;
    this.#applyPushes(pushes);
    if (this.#claim !== undefined) this.#hold = HOLD_EXPECT;
    else if (registry.pendingBody) this.#hold = HOLD_SNIFF;
    else this.#commit();
  }

  write(chunk: Chunk): boolean {
    if (this.#detached) return true;
    if (this.#hold === HOLD_NONE) return this.#forward(chunk);
    if (this.#chunks === NO_CHUNKS) this.#chunks = [];
    this.#chunks.push(chunk);
    this.#held += chunkLength(chunk);
    // Tokens are 28 bytes: past that, the body cannot be a token.
    if (this.#held > 28) this.#decide(false);
    return true;
  }

  drained(): Promise<void> {
    return this.#hold === HOLD_NONE && !this.#detached ? this.#inner.drained() : Promise.resolve();
  }

  end(chunk?: Chunk, trailers?: HeaderList): void {
    if (this.#detached) return;
    if (this.#hold === HOLD_NONE) {
      if (chunk !== undefined && !this.#clear(chunk)) return;
      this.#inner.end(chunk, trailers);
      return;
    }
    if (chunk !== undefined) {
      if (this.#chunks === NO_CHUNKS) this.#chunks = [];
      this.#chunks.push(chunk);
      this.#held += chunkLength(chunk);
    }
    this.#decide(true);
  }

  async file(status: number, reason: string | undefined, headers: HeaderList, body: FileBody, size: number, bodyless: boolean): Promise<void> {
    const registry = this.#ctx.registry;
    if (registry.size === 0 && !hasControl(headers)) return this.#inner.file(status, reason, headers, body, size, bodyless);
    this.head(status, reason, headers, size);
    if (this.#hold !== HOLD_NONE) {
      // A file is never a token: decide now, as for a body that is not one.
      const claimed = this.#claim !== undefined;
      this.#decide(true, true);
      if (claimed) return; // the fallback answers
    }
    // The head is out (#commit): stream the file through the token scan.
    if (this.#detached) return;
    if (bodyless) {
      this.#inner.end();
      return;
    }
    for await (const chunk of body) {
      if (this.closed) return;
      if (!this.#forward(chunk)) await this.#inner.drained();
    }
    this.#inner.end();
  }

  abort(error: unknown): void {
    if (this.#detached) return; // the original body failed after it was replaced: nothing to tear down
    if (this.#hold !== HOLD_NONE) {
      // Nothing reached the client yet: an error response still can.
      this.#hold = HOLD_NONE;
      this.#send(errorResponse(error));
      this.#release();
      return;
    }
    this.#inner.abort(error);
    this.#release();
  }

  #readControl(value: string, pushes: Entry[]): void {
    const space = value.indexOf(' ');
    const kind = value.slice(0, space) as EscapeKind;
    const token = value.slice(space + 1).trim();
    const entry = space > 0 ? this.#ctx.registry.match(kind, token) : undefined;
    if (entry === undefined) {
      // Forged, replayed, stale or of another kind: stripped. If it claims a body, the body
      // is held so that a token in it is refused rather than sent.
      if (BODY_KINDS.has(kind) && this.#claim === undefined) this.#claim = { kind, entry: undefined, token };
      return;
    }
    entry.used = true;
    if (entry.kind === 'push') pushes.push(entry);
    // One body per response: a second body claim is used up and not honoured.
    else if (BODY_KINDS.has(entry.kind) && this.#claim === undefined) this.#claim = { kind: entry.kind, entry, token };
  }

  #applyPushes(pushes: Entry[]): void {
    if (pushes.length === 0) return;
    const resources = pushes.flatMap((e) => (e.registration as PushRegistration).resources);
    const situation: Situation = this.#ctx.eligible.push && this.#inner.push !== undefined ? 'honoured' : 'ineligible';
    const outcome = degrade('push', this.#ctx.protocol, situation);
    if (outcome === 'push') this.#inner.push!(resources);
    else if (outcome === 'preload') for (const r of resources) this.#headers.push(['link', preloadLink(r)]);
  }

  /**
   * Decides what the held response becomes; `ended` says the whole body is held, `opaque`
   * that the body cannot be a token whatever it holds (a file).
   */
  #decide(ended: boolean, opaque = false): void {
    const hold = this.#hold;
    this.#hold = HOLD_NONE;
    const bytes = concat(this.#chunks);
    const text = ended && !opaque && bytes.byteLength === 28 ? Buffer.from(bytes).toString('latin1') : undefined;
    let claim = this.#claim;
    let situation: Situation;
    if (this.closed) situation = 'client-gone';
    else if (hold === HOLD_EXPECT && claim!.entry === undefined) {
      situation = text !== undefined && isTokenShaped(text) ? 'not-issued' : 'replaced';
    } else if (hold === HOLD_EXPECT) {
      situation = text === claim!.token && !this.#encoded ? this.#eligibility(claim!) : 'body-altered';
    } else {
      // No control header: is the body a pending body token all the same? (Compared in
      // constant time, like every token comparison.)
      let entry: Entry | undefined;
      if (text !== undefined) for (const kind of BODY_KINDS) entry ??= this.#ctx.registry.match(kind, text);
      if (entry !== undefined) {
        entry.used = true;
        claim = { kind: entry.kind, entry, token: entry.token };
        situation = 'header-dropped';
      } else situation = 'replaced';
    }
    // With no registration involved the table has nothing to say: the middleware's response
    // goes out, unless there is nobody left to send it to.
    const outcome = claim === undefined ? (situation === 'client-gone' ? 'release' : 'middleware') : degrade(claim.kind, this.#ctx.protocol, situation);
    this.#execute(outcome, claim, ended);
  }

  #eligibility(claim: Claim): Situation {
    const eligible = this.#ctx.eligible;
    if (claim.kind === 'websocket') return eligible.websocket && this.#inner.acceptWebSocket !== undefined ? 'honoured' : 'ineligible';
    if (claim.kind === 'trailers') {
      if (eligible.trailers) return 'honoured';
      return (claim.entry!.registration as TrailersRegistration).required ? 'ineligible-required' : 'ineligible';
    }
    if (claim.kind === 'http2') return this.#inner.http2 !== undefined ? 'honoured' : 'ineligible';
    return 'honoured';
  }

  #execute(outcome: Outcome, claim: Claim | undefined, ended: boolean): void {
    const registration = claim?.entry?.registration;
    if (outcome !== 'middleware') this.#detached = true;
    switch (outcome) {
      case 'middleware':
        this.#commit();
        for (const chunk of this.#chunks) this.#forward(chunk);
        this.#chunks = NO_CHUNKS;
        if (ended && !this.#detached) this.#inner.end();
        return;
      case 'release':
        this.#release();
        return;
      case 'takeover':
        if (claim!.kind === 'websocket') return this.#websocket(registration as WebSocketRegistration);
        if (claim!.kind === 'trailers') return void this.#streamTrailers(registration as TrailersRegistration, true);
        if (claim!.kind === 'http2') {
          const headers = this.#headers.filter(([name]) => !BODY_HEADERS.has(name.toLowerCase()));
          const reg = registration as Http2Registration;
          this.#inner.http2!(reg, headers, reg.environ ?? this.#ctx.environ);
          this.#release();
          return;
        }
        return this.#fallback(claim!.kind, registration);
      case 'body-without-trailers':
        return void this.#streamTrailers(registration as TrailersRegistration, false);
      case 'refuse':
        this.#ctx.environ.errors.write(new HatchwayError('ERR_HATCHWAY_TOKEN_NOT_ISSUED').message);
        this.#send(errorResponse(new HatchwayError('ERR_HATCHWAY_TOKEN_NOT_ISSUED')));
        this.#release();
        return;
      case 'error':
        this.#send(errorResponse(createError(400, new HatchwayError('ERR_HATCHWAY_TRAILERS_REQUIRED').message, { code: 'ERR_HATCHWAY_TRAILERS_REQUIRED' })));
        this.#release();
        return;
      default:
        return this.#fallback(claim!.kind, registration);
    }
  }

  #websocket(registration: WebSocketRegistration): void {
    const environ = this.#ctx.environ;
    const headers = this.#headers.filter(([name]) => !BODY_HEADERS.has(name.toLowerCase()));
    this.#inner.acceptWebSocket!(headers, registration, environ, (ws) => {
      try {
        registration.onSocket(ws, environ);
      } catch (err) {
        environ.errors.write(formatError(err));
        ws.close(1011, 'internal error');
      }
    });
    this.#release();
  }

  /** Streams a trailers registration's body, then sends (or drops and reports) its trailers. */
  async #streamTrailers(registration: TrailersRegistration, send: boolean): Promise<void> {
    const inner = this.#inner;
    let body: Body | undefined;
    let iterator: Iterator<Chunk> | AsyncIterator<Chunk> | undefined;
    let exhausted = false;
    let committed = false;
    try {
      body = trailersBody(registration);
      const headers = this.#headers.filter(([name]) => name.toLowerCase() !== 'content-length');
      if (send && registration.names?.length) headers.push(['trailer', registration.names.join(', ')]);
      const isAsync = typeof (body as AsyncIterable<Chunk>)[Symbol.asyncIterator] === 'function';
      iterator = isAsync ? (body as AsyncIterable<Chunk>)[Symbol.asyncIterator]() : (body as Iterable<Chunk>)[Symbol.iterator]();
      inner.head(this.#status, this.#reason, headers, undefined, send);
      committed = true;
      for (;;) {
        const result = await iterator.next();
        if (result.done) {
          exhausted = true;
          break;
        }
        if (inner.closed) return;
        if (chunkLength(result.value) > 0 && !inner.write(result.value)) await inner.drained();
      }
      const trailers = await registration.trailers();
      validateTrailers(trailers);
      if (inner.closed) return;
      if (send) inner.end(undefined, trailers);
      else {
        inner.end();
        registration.onDropped?.(trailers);
      }
    } catch (err) {
      exhausted = true;
      this.#ctx.environ.errors.write(formatError(err));
      if (committed) inner.abort(err);
      else this.#send(errorResponse(err));
    } finally {
      if (!exhausted) await Promise.resolve(iterator?.return?.()).catch(() => {});
      const err = closeBody(body);
      if (err !== undefined) this.#ctx.environ.errors.write(formatError(err));
      this.#release();
    }
  }

  /** Runs the registration's fallback app in place of the response. */
  #fallback(kind: EscapeKind, registration: unknown): void {
    this.#chunks = NO_CHUNKS;
    if (this.#depth > 0) {
      // A fallback whose own token did not survive: nothing more to fall back to.
      this.#send(errorResponse(new Error('escape fallback failed')));
      return;
    }
    const reg = registration as { fallback?: import('../gateway/types.ts').App } | undefined;
    const app =
      reg?.fallback ??
      (kind === 'websocket' ? upgradeRequired : kind === 'trailers' ? withoutTrailers(registration as TrailersRegistration) : upgradeRequired);
    const done = run(app, this.#ctx.environ, new EscapeSink(this.#inner, this.#ctx, this.#depth + 1));
    if (done !== undefined) done.finally(() => this.#release()).catch(() => {});
    else this.#release();
  }

  #commit(): void {
    this.#hold = HOLD_NONE;
    if (opensTunnel(this.#ctx.environ.method, this.#status)) {
      this.#detached = true;
      this.#ctx.environ.errors.write('a 2xx answer to CONNECT that is not an escape was refused');
      this.#send(errorResponse(new Error('2xx to CONNECT')));
      this.#release();
      return;
    }
    const registry = this.#ctx.registry;
    if (registry.size > 0) {
      this.#scan = registry.tokens().map((t) => Buffer.from(t, 'latin1'));
    }
    // The length the runner computed was for the body it saw; it still holds.
    this.#inner.head(this.#status, this.#reason, this.#headers, this.#length, this.#trailers);
  }

  /** Passes a chunk on, unless it would leak a token (then the response is torn down). */
  #forward(chunk: Chunk): boolean {
    if (this.#detached || !this.#clear(chunk)) return true;
    return this.#inner.write(chunk);
  }

  /** Scans a chunk (with the tail of the last one) for tokens; tears down on a hit. */
  #clear(chunk: Chunk): boolean {
    if (this.#scan === undefined) return true;
    const bytes = toBytes(chunk);
    const view = this.#carry ? Buffer.concat([this.#carry, bytes]) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (const token of this.#scan) {
      if (view.indexOf(token) !== -1) {
        this.#ctx.environ.errors.write('a response body carried an escape token: the response was torn down so the token does not leave');
        this.#inner.abort(new HatchwayError('ERR_HATCHWAY_INVALID_OPTION', 'token in body'));
        this.#scan = undefined;
        return false;
      }
    }
    this.#carry = view.subarray(Math.max(0, view.byteLength - 27));
    return true;
  }

  #send(response: { status: number; headers: HeaderList; body: string }): void {
    if (this.#inner.closed) return;
    this.#inner.head(response.status, undefined, response.headers, undefined);
    this.#inner.end(this.#ctx.environ.method === 'HEAD' ? undefined : response.body);
  }

  #release(): void {
    this.#ctx.registry.release();
  }
}

const NO_CHUNKS: Chunk[] = Object.freeze([]) as unknown as Chunk[];
const NO_HEADERS: HeaderList = Object.freeze([]) as unknown as HeaderList;

// Headers that describe a body: meaningless on a 101.
const BODY_HEADERS = new Set(['content-type', 'content-length', 'content-encoding', 'cache-control', 'etag', 'last-modified']);

function hasControl(headers: HeaderList): boolean {
  for (let i = 0; i < headers.length; i++) {
    const name = headers[i]![0];
    if (name.length === CONTROL_HEADER.length && name.toLowerCase() === CONTROL_HEADER) return true;
  }
  return false;
}

function concat(chunks: Chunk[]): Uint8Array {
  if (chunks.length === 1) return toBytes(chunks[0]);
  return Buffer.concat(chunks.map(toBytes));
}
