/**
 * The escape sink (SPEC §7.3) sits between the runner and a protocol front-end. It only holds,
 * forwards and scans: what a response becomes is decided by {@link recognize} and the degrade
 * table (`degrade.ts`), and done here with the front-end's capabilities. A token never
 * leaves: control fields are stripped, and a token in the reason phrase, a field, a trailer
 * or the body (scanned with a carry across chunks) is dropped or tears the response down.
 */
import { run, type ResponseSink } from '../gateway/run.ts';
import { type FileBody, chunkLength, toBytes } from '../gateway/body.ts';
import { errorResponse, formatError } from '../gateway/error-response.ts';
import type { Chunk, Environ, HeaderList } from '../gateway/types.ts';
import { HatchwayError } from '../gateway/errors.ts';
import { bodyForbidden, opensTunnel } from '../protocol/headers.ts';
import { degrade, type Outcome, type ProtocolFamily } from './degrade.ts';
import { TOKEN_LENGTH, isControlName, type EscapeRegistry } from './registry.ts';
import { needsBody, recognize, type Recognition } from './recognize.ts';
import { BODY_FIELDS, NOT_CARRIED, TOKEN_DESCRIBING, answerBody, defaultFallback, withCarried, without } from './fields.ts';
import { preloadLink, type PushRegistration, type PushResource } from './push.ts';
import { streamTrailers, trailersRequired, type TrailersRegistration } from './trailers.ts';
import type { WebSocketRegistration } from './websocket.ts';
import type { Http2Registration } from './http2-app.ts';
import type { WebSocket } from 'ws';

/** The front-end capabilities escapes need, beyond the runner's {@link ResponseSink}. */
export interface EscapeCapableSink extends ResponseSink {
  /** Sends a 103 Early Hints with these `Link` values. */
  earlyHints?(links: string[]): void;
  /** Completes the websocket handshake with these extra headers and calls `onSocket` (synchronously, or never if it fails). */
  acceptWebSocket?(headers: HeaderList, registration: WebSocketRegistration, environ: Environ, onSocket: (ws: WebSocket) => void): void;
  /** Pushes these resources (PUSH_PROMISE) before the response. */
  push?(resources: PushResource[]): void;
  /** Runs an HTTP/2 handler on the real stream, with these extra response headers; settles when the handler did. */
  http2?(registration: Http2Registration, headers: HeaderList, environ: Environ): void | Promise<void>;
}

/** What this request can really have, decided by the front-end from the wire, not from environ. */
export interface Eligibility {
  websocket: boolean;
  trailers: boolean;
  push: boolean;
}

/** Everything the escape sink needs to know about its request. */
export interface EscapeContext {
  /** The environ the server built (fallback apps receive it). */
  environ: Environ;
  registry: EscapeRegistry;
  protocol: ProtocolFamily;
  eligible: Eligibility;
}

const PASS = 0; // forwarding (scanning once the request has registrations)
const HOLD = 1; // holding the first bytes until recognize() can tell
const DETACHED = 2; // an escape, a fallback or an error answers: the runner's writes go nowhere

/** Wraps a front-end's sink for one request. */
export class EscapeSink implements ResponseSink {
  readonly #inner: EscapeCapableSink;
  readonly #ctx: EscapeContext;
  /** Set on a fallback's sink: the token response's fields it inherits. */
  readonly #carried: HeaderList | undefined;
  #state = PASS;
  #status = 0;
  #reason: string | undefined;
  #headers: HeaderList = [];
  #length: number | undefined;
  #trailers = false;
  #chunks: Chunk[] = [];
  #held = 0;
  #scan: Buffer[] | undefined;
  #tail: Buffer | undefined;

  constructor(inner: EscapeCapableSink, ctx: EscapeContext, carried?: HeaderList) {
    this.#inner = inner;
    this.#ctx = ctx;
    this.#carried = carried;
  }

  get closed(): boolean {
    return this.#state === DETACHED || this.#inner.closed;
  }

  head(status: number, reason: string | undefined, headers: HeaderList, length: number | undefined, trailers?: boolean): void {
    const { registry, environ } = this.#ctx;
    if (registry.size === 0 && this.#carried === undefined && !hasControl(headers) && !opensTunnel(environ.method, status)) {
      this.#inner.head(status, reason, headers, length, trailers);
      return;
    }
    this.#status = status;
    this.#reason = reason;
    this.#headers = headers;
    this.#length = length;
    this.#trailers = trailers === true;
    if (needsBody(environ.method, status, headers, registry)) this.#state = HOLD;
    else this.#decide(undefined, false);
  }

  write(chunk: Chunk): boolean {
    if (this.#state === PASS) return this.#forward(chunk);
    if (this.#state === HOLD) {
      this.#chunks.push(chunk);
      this.#held += chunkLength(chunk);
      // Past TOKEN_LENGTH bytes the body cannot be a token: decide now.
      if (this.#held > TOKEN_LENGTH) this.#decide(concat(this.#chunks), false);
    }
    return true;
  }

  drained(): Promise<void> {
    return this.#state === PASS ? this.#inner.drained() : Promise.resolve();
  }

  end(chunk?: Chunk, trailers?: HeaderList): void {
    if (this.#state === DETACHED) return;
    if (this.#state === HOLD) {
      if (chunk !== undefined) this.#chunks.push(chunk);
      this.#decide(concat(this.#chunks), true, trailers);
      return;
    }
    if (chunk !== undefined && !this.#clear(chunk)) return;
    this.#inner.end(chunk, trailers && this.#cleanTrailers(trailers));
  }

  async file(status: number, reason: string | undefined, headers: HeaderList, body: FileBody, size: number, bodyless: boolean): Promise<void> {
    if (this.#ctx.registry.size === 0 && this.#carried === undefined && !hasControl(headers) && !opensTunnel(this.#ctx.environ.method, status)) {
      return this.#inner.file(status, reason, headers, body, size, bodyless);
    }
    this.#status = status;
    this.#reason = reason;
    this.#headers = headers;
    this.#length = size;
    this.#decide(undefined, false); // a file is never a token
    if (this.#state !== PASS) return;
    if (!bodyless) {
      for await (const chunk of body) {
        if (this.closed) return;
        if (!this.#forward(chunk)) await this.#inner.drained();
      }
    }
    if (!this.closed) this.#inner.end();
  }

  abort(error: unknown): void {
    if (this.#state === DETACHED) return; // the original body failed after it was replaced
    if (this.#state === HOLD) this.#fail(error, false); // nothing reached the client: an error response still can (the runner logged it)
    else {
      this.#inner.abort(error);
      this.#release();
    }
  }

  /** Asks recognize() and the table what the response is, then does it. */
  #decide(held: Uint8Array | undefined, ended: boolean, trailers?: HeaderList): void {
    this.#state = PASS;
    const { registry, eligible, environ, protocol } = this.#ctx;
    const inner = this.#inner;
    const can = {
      websocket: eligible.websocket && inner.acceptWebSocket !== undefined,
      trailers: eligible.trailers,
      push: eligible.push && inner.push !== undefined,
      http2: inner.http2 !== undefined,
    };
    const r = recognize({ method: environ.method, status: this.#status, headers: this.#headers, held, ended, registry, can, clientGone: inner.closed });
    for (const e of [r.entry, ...r.pushes, ...r.spent]) if (e !== undefined) e.used = true;
    this.#execute(degrade(r.kind, protocol, r.situation), r, ended, trailers);
  }

  #execute(outcome: Outcome, r: Recognition, ended: boolean, trailers: HeaderList | undefined): void {
    const registration = r.entry?.registration;
    const bodyless = bodyForbidden(this.#ctx.environ.method, this.#status);
    if (outcome === 'middleware' || (outcome === 'answer' && !r.bodyIsToken)) return this.#pass(r, ended, trailers, outcome === 'answer' && bodyless);
    this.#state = DETACHED;
    this.#chunks = [];
    switch (outcome) {
      case 'answer': {
        const text = answerBody(this.#status);
        const fields = without(this.#clean(true), BODY_FIELDS);
        if (text !== '') fields.push(['content-type', 'text/plain; charset=utf-8'], ['x-content-type-options', 'nosniff']);
        fields.push(['content-length', String(Buffer.byteLength(text))]);
        if (!this.#tunnelRefused()) this.#send(this.#status, fields, text);
        return this.#release();
      }
      case 'takeover':
        if (r.kind === 'websocket') return this.#websocket(registration as WebSocketRegistration);
        if (r.kind === 'http2') return this.#http2(registration as Http2Registration);
        return this.#withTrailers(r, registration as TrailersRegistration, true);
      case 'body-without-trailers':
        return this.#withTrailers(r, registration as TrailersRegistration, false);
      case 'fallback':
      case 'emulate':
        return this.#fallback(r, registration);
      case 'refuse':
        return this.#fail(new HatchwayError('ERR_HATCHWAY_TOKEN_NOT_ISSUED'));
      case 'error':
        return this.#fail(trailersRequired());
      default:
        return this.#release(); // 'release': the client is gone
    }
  }

  /** Sends the response that reached the server (control fields stripped, tokens never). */
  #pass(r: Recognition, ended: boolean, trailers: HeaderList | undefined, dropDescribing: boolean): void {
    const headers = this.#clean(dropDescribing);
    this.#applyPushes(r, headers);
    if (this.#tunnelRefused()) return;
    this.#scan = this.#ctx.registry.size > 0 ? this.#ctx.registry.tokens().map((t) => Buffer.from(t, 'latin1')) : undefined;
    this.#inner.head(this.#status, this.#cleanReason(), headers, dropDescribing ? undefined : this.#length, this.#trailers);
    const chunks = this.#chunks;
    this.#chunks = [];
    for (const chunk of chunks) this.#forward(chunk);
    if (ended && this.#state === PASS) this.#inner.end(undefined, trailers && this.#cleanTrailers(trailers));
  }

  #websocket(registration: WebSocketRegistration): void {
    const environ = this.#ctx.environ;
    // onSocket runs first, then the registrations are released (SPEC §7.2), on every protocol.
    try {
      this.#inner.acceptWebSocket!(without(this.#clean(true), BODY_FIELDS), registration, environ, (ws) => {
        try {
          registration.onSocket(ws, environ);
        } catch (err) {
          environ.errors.write(formatError(err));
          ws.close(1011, 'internal error');
        } finally {
          this.#release();
        }
      });
    } catch (err) {
      environ.errors.write(formatError(err));
      this.#inner.abort(err);
      this.#release();
    }
  }

  #http2(registration: Http2Registration): void {
    const environ = this.#ctx.environ;
    let done: void | Promise<void> = undefined;
    try {
      done = this.#inner.http2!(registration, without(this.#clean(true), BODY_FIELDS), registration.environ ?? environ);
    } catch (err) {
      environ.errors.write(formatError(err));
      this.#inner.abort(err);
    }
    // The handler runs first; its registrations are released when it settled.
    Promise.resolve(done).finally(() => this.#release()).catch(() => {});
  }

  #withTrailers(r: Recognition, registration: TrailersRegistration, send: boolean): void {
    const headers = this.#clean(true);
    this.#applyPushes(r, headers);
    if (this.#tunnelRefused()) return this.#release();
    const head = { method: this.#ctx.environ.method, status: this.#status, reason: this.#cleanReason(), headers };
    void streamTrailers(this.#scanning(), registration, head, send, this.#ctx.environ, (t) => this.#cleanTrailers(t)).finally(() => this.#release());
  }

  /** Runs the registration's fallback (or its kind's default) with the token response's fields. */
  #fallback(r: Recognition, registration: unknown): void {
    if (this.#carried !== undefined) return this.#fail(new HatchwayError('ERR_HATCHWAY_FALLBACK_FAILED')); // a fallback's own token did not survive
    const own = (registration as { fallback?: import('../gateway/types.ts').App } | undefined)?.fallback;
    const app = own ?? defaultFallback(r.kind as 'websocket' | 'trailers' | 'http2', registration);
    const done = run(app, this.#ctx.environ, new EscapeSink(this.#inner, this.#ctx, without(this.#clean(true), NOT_CARRIED)));
    if (done === undefined) this.#release();
    else done.finally(() => this.#release()).catch(() => {});
  }

  #applyPushes(r: Recognition, headers: HeaderList): void {
    if (r.pushes.length === 0) return;
    const resources = r.pushes.flatMap((e) => (e.registration as PushRegistration).resources);
    const outcome = degrade('push', this.#ctx.protocol, r.pushSituation);
    if (outcome === 'push') this.#inner.push!(resources);
    else if (outcome === 'preload') for (const resource of resources) headers.push(['link', preloadLink(resource)]);
  }

  /** The one CONNECT guard (after recognition): a 2xx that is not a takeover would fake a tunnel. */
  #tunnelRefused(): boolean {
    if (!opensTunnel(this.#ctx.environ.method, this.#status)) return false;
    this.#fail(new HatchwayError('ERR_HATCHWAY_CONNECT_NOT_ESCAPE'));
    return true;
  }

  /** The response's fields without control fields and tokens (and, if asked, without those computed over the token body), plus the carried ones. */
  #clean(dropDescribing: boolean): HeaderList {
    const registry = this.#ctx.registry;
    const out: HeaderList = [];
    for (const field of this.#headers) {
      if (isControlName(field[0]) || (dropDescribing && TOKEN_DESCRIBING.has(field[0].toLowerCase()))) continue;
      if (registry.leaks(field[1])) this.#leak(`field ${field[0].toLowerCase()}`);
      else out.push(field);
    }
    return this.#carried === undefined ? out : withCarried(out, this.#carried);
  }

  #cleanReason(): string | undefined {
    const reason = this.#reason;
    if (reason === undefined || !this.#ctx.registry.leaks(reason)) return reason;
    this.#leak('reason phrase');
    return undefined;
  }

  #cleanTrailers(trailers: HeaderList): HeaderList {
    if (this.#ctx.registry.size === 0) return trailers;
    return trailers.filter(([name, value]) => !this.#ctx.registry.leaks(value) || (this.#leak(`trailer ${name.toLowerCase()}`), false));
  }

  #leak(where: string): void {
    this.#ctx.environ.errors.write(formatError(new HatchwayError('ERR_HATCHWAY_TOKEN_LEAK', where)));
  }

  /** The inner sink seen through the body scan (for responses an escape writes itself). */
  #scanning(): ResponseSink {
    const inner = this.#inner;
    const self = this;
    return {
      get closed() {
        return inner.closed;
      },
      head(status, reason, headers, length, trailers) {
        self.#scan = self.#ctx.registry.tokens().map((t) => Buffer.from(t, 'latin1'));
        inner.head(status, reason, headers, length, trailers);
      },
      write: (chunk) => (this.#clear(chunk) ? inner.write(chunk) : true),
      drained: () => inner.drained(),
      end: (chunk, trailers) => {
        if (chunk === undefined || this.#clear(chunk)) inner.end(chunk, trailers);
      },
      file: (...args) => inner.file(...args),
      abort: (error) => inner.abort(error),
    };
  }

  #forward(chunk: Chunk): boolean {
    if (this.#state !== PASS || !this.#clear(chunk)) return true;
    return this.#inner.write(chunk);
  }

  /** Scans a chunk (with the tail of the last one) for tokens; tears the response down on a hit. */
  #clear(chunk: Chunk): boolean {
    if (this.#scan === undefined) return true;
    const bytes = toBytes(chunk);
    const view = this.#tail ? Buffer.concat([this.#tail, bytes]) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (const token of this.#scan) {
      if (view.indexOf(token) === -1) continue;
      this.#leak('body');
      this.#scan = undefined;
      this.#state = DETACHED;
      this.#inner.abort(new HatchwayError('ERR_HATCHWAY_TOKEN_LEAK', 'body'));
      this.#release();
      return false;
    }
    this.#tail = view.subarray(Math.max(0, view.byteLength - (TOKEN_LENGTH - 1)));
    return true;
  }

  /** Answers with an error response in place of whatever the runner still has. */
  #fail(err: unknown, log = true): void {
    this.#state = DETACHED;
    const e = errorResponse(err);
    if (log && e.log) this.#ctx.environ.errors.write(formatError(err));
    this.#send(e.status, e.headers, e.body);
    this.#release();
  }

  #send(status: number, headers: HeaderList, body: string): void {
    if (this.#inner.closed) return;
    const empty = body === '' || bodyForbidden(this.#ctx.environ.method, status);
    this.#inner.head(status, undefined, headers, undefined);
    this.#inner.end(empty ? undefined : body);
  }

  #release(): void {
    this.#ctx.registry.release();
  }
}

function hasControl(headers: HeaderList): boolean {
  for (let i = 0; i < headers.length; i++) if (isControlName(headers[i]![0])) return true;
  return false;
}

function concat(chunks: Chunk[]): Uint8Array {
  if (chunks.length === 1) return toBytes(chunks[0]);
  return Buffer.concat(chunks.map(toBytes));
}
