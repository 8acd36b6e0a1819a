/**
 * The escape sink (SPEC §7.3) sits between the runner and a protocol front-end. It only holds,
 * forwards and scans: what a response becomes is decided by {@link recognize} and the degrade
 * table (`degrade.ts`), and done here with the front-end's capabilities. A token never
 * leaves: control fields are stripped, and a token in the reason phrase, a field, a trailer
 * or the body (scanned with a carry across chunks) is dropped or tears the response down.
 */
import { run, type ResponseSink } from '../gateway/run.ts';
import { FLUSH, type FileBody, chunkLength, concatBytes } from '../gateway/body.ts';
import type { App, Chunk, HeaderList } from '../gateway/types.ts';
import { HatchwayError } from '../gateway/errors.ts';
import { bodyForbidden, opensTunnel } from '../protocol/headers.ts';
import { degrade, type Outcome } from './degrade.ts';
import { TOKEN_LENGTH, hasControl } from './registry.ts';
import { ScannedSink, TokenScan, lastBytes } from './scan.ts';
import { capabilities, needsBody, recognize, type Recognition } from './recognize.ts';
import { BODY_FIELDS, NOT_CARRIED, TOKEN_DESCRIBING, defaultFallback, withCarried } from './fields.ts';
import { pushOrPreload } from './push.ts';
import { streamTrailers, trailersRequired, type TrailersRegistration } from './trailers.ts';
import type { WebSocketRegistration } from './websocket.ts';
import type { Http2Registration } from './http2-app.ts';
import type { UpgradeRegistration } from './upgrade.ts';
import { answerApp, errorApp, takeHttp2, takeUpgrade, takeWebSocket } from './outcomes.ts';
import type { EscapeCapableSink, EscapeContext } from './capabilities.ts';

export type { EscapeCapableSink, EscapeContext, EscapeDecision, Eligibility } from './capabilities.ts';

const PASS = 0; // forwarding (scanning once the request has registrations)
const HOLD = 1; // holding the first bytes until recognize() can tell
const DETACHED = 2; // an escape, a fallback or an error answers: the runner's writes go nowhere

// Shared empties, never written: a request that holds nothing allocates nothing for it.
const NO_HEADERS: HeaderList = [];
const NO_CHUNKS: Chunk[] = [];

/** The held body for recognition: a lone string chunk as it is (the token body `[token]`), else its bytes. */
function heldBody(chunks: readonly Chunk[]): Uint8Array | string {
  return chunks.length === 1 && typeof chunks[0] === 'string' ? chunks[0] : concatBytes(chunks);
}

/** Wraps a front-end's sink for one request. */
export class EscapeSink implements ResponseSink {
  #inner: EscapeCapableSink;
  readonly #ctx: EscapeContext;
  /** Set on a fallback's sink: the token response's fields it inherits. */
  readonly #carried: HeaderList | undefined;
  #state = PASS;
  #status = 0;
  #reason: string | undefined;
  #headers: HeaderList = NO_HEADERS;
  #length: number | undefined;
  #trailers = false;
  /** The body held while recognition waits (none until the first held chunk). */
  #chunks: Chunk[] | undefined;
  #held = 0;
  #scan: TokenScan | undefined;

  constructor(inner: EscapeCapableSink, ctx: EscapeContext, carried?: HeaderList) {
    this.#inner = inner;
    this.#ctx = ctx;
    this.#carried = carried;
  }

  get closed(): boolean {
    return this.#state === DETACHED || this.#inner.closed;
  }

  /** Puts `observer` between this sink and the front-end's (the report extension), before the commit. */
  observe(observer: (inner: EscapeCapableSink) => EscapeCapableSink): void {
    this.#inner = observer(this.#inner);
  }

  head(status: number, reason: string | undefined, headers: HeaderList, length: number | undefined, trailers?: boolean): void {
    if (this.#plain(status, headers)) return this.#inner.head(status, reason, headers, length, trailers);
    this.#keep(status, reason, headers, length, trailers === true);
    if (needsBody(this.#ctx.environ.method, status, headers, this.#ctx.registry)) this.#state = HOLD;
    else this.#decide(undefined, false);
  }

  write(chunk: Chunk): boolean {
    if (this.#state === PASS) return this.#forward(chunk);
    if (this.#state === HOLD) {
      (this.#chunks ??= []).push(chunk);
      this.#held += chunkLength(chunk);
      // Past TOKEN_LENGTH bytes the body cannot be a token: decide now.
      if (this.#held > TOKEN_LENGTH) this.#decide(undefined, false);
    }
    return true;
  }

  drained(): Promise<void> {
    return this.#state === PASS ? this.#inner.drained() : Promise.resolve();
  }

  end(chunk?: Chunk, trailers?: HeaderList): void {
    if (this.#state === DETACHED) return;
    if (this.#state === HOLD) {
      if (chunk !== undefined) (this.#chunks ??= []).push(chunk);
      return this.#decide(heldBody(this.#chunks ?? NO_CHUNKS), true, trailers);
    }
    this.#end(chunk, trailers);
  }

  async file(status: number, reason: string | undefined, headers: HeaderList, body: FileBody, size: number, bodyless: boolean): Promise<void> {
    if (this.#plain(status, headers)) return this.#inner.file(status, reason, headers, body, size, bodyless);
    this.#keep(status, reason, headers, size, false);
    this.#decide(undefined, false); // a file is never a token
    if (this.#state !== PASS) return;
    if (!bodyless) {
      for await (const chunk of body) {
        if (this.closed) return;
        if (!this.#forward(chunk)) await this.#inner.drained();
      }
    }
    if (!this.closed) this.#end(undefined, undefined);
  }

  abort(error: unknown): void {
    if (this.#state === DETACHED) return; // the original body failed after it was replaced
    if (this.#state === HOLD) return this.#fail(error, false); // nothing reached the client: an error response still can (the runner logged it)
    this.#inner.abort(error);
    this.#release();
  }

  /** No registration, no control field, no CONNECT: nothing to recognise (the common case). */
  #plain(status: number, headers: HeaderList): boolean {
    const { registry, environ } = this.#ctx;
    return registry.size === 0 && this.#carried === undefined && !hasControl(headers) && !opensTunnel(environ.method, status);
  }

  #keep(status: number, reason: string | undefined, headers: HeaderList, length: number | undefined, trailers: boolean): void {
    this.#status = status;
    this.#reason = reason;
    this.#headers = headers;
    this.#length = length;
    this.#trailers = trailers;
    this.#scan = new TokenScan(this.#ctx.registry, this.#ctx.environ.errors);
  }

  /** Asks recognize() and the table what the response is, then does it. */
  #decide(held: Uint8Array | string | undefined, ended: boolean, trailers?: HeaderList): void {
    this.#state = PASS;
    const { registry, eligible, environ, protocol } = this.#ctx;
    const can = capabilities(eligible, this.#inner);
    const r = recognize({ method: environ.method, status: this.#status, headers: this.#headers, held, ended, registry, can, clientGone: this.#inner.closed });
    if (r.entry !== undefined) r.entry.used = true;
    for (const e of r.pushes) e.used = true;
    for (const e of r.spent) e.used = true;
    const outcome = degrade(r.kind, protocol, r.situation);
    if (this.#ctx.onDecision !== undefined) {
      const push = r.pushes.length > 0 ? { situation: r.pushSituation, outcome: degrade('push', protocol, r.pushSituation) } : undefined;
      // A response that claims only pushes is told as the push row's decision.
      const told = r.kind === 'none' && push !== undefined ? { kind: 'push' as const, ...push } : { kind: r.kind, situation: r.situation, outcome };
      this.#ctx.onDecision({ ...told, fallback: this.#carried !== undefined, push });
    }
    this.#execute(outcome, r, ended, trailers);
  }

  #execute(outcome: Outcome, r: Recognition, ended: boolean, trailers: HeaderList | undefined): void {
    const registration = r.entry?.registration;
    if (outcome === 'middleware' || (outcome === 'answer' && !r.bodyIsToken)) {
      // An answer without the token body is the middleware's own; bodyless, nothing the token body had describes it.
      return this.#pass(r, ended, trailers, outcome === 'answer' && bodyForbidden(this.#ctx.environ.method, this.#status));
    }
    this.#state = DETACHED;
    this.#chunks = undefined;
    switch (outcome) {
      case 'answer':
        if (!this.#tunnelRefused()) this.#respond(answerApp(this.#status, this.#scan!.reason(this.#reason), this.#fields(BODY_FIELDS)));
        return;
      case 'takeover':
        if (r.kind === 'websocket') return takeWebSocket(this.#inner, registration as WebSocketRegistration, this.#fields(BODY_FIELDS), this.#ctx.environ, this.#releaser());
        if (r.kind === 'http2') return takeHttp2(this.#inner, registration as Http2Registration, this.#fields(BODY_FIELDS), this.#ctx.environ, this.#releaser());
        if (r.kind === 'upgrade') {
          const requested = this.#ctx.eligible.upgrade ?? [];
          return takeUpgrade(this.#inner, registration as UpgradeRegistration, this.#fields(BODY_FIELDS), this.#ctx.environ, requested, this.#releaser());
        }
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
    const headers = this.#fields(dropDescribing ? TOKEN_DESCRIBING : undefined);
    this.#applyPushes(r, headers);
    if (this.#tunnelRefused()) return;
    const scan = this.#scan!;
    scan.start();
    this.#inner.head(this.#status, scan.reason(this.#reason), headers, dropDescribing ? undefined : this.#length, this.#trailers);
    const chunks = this.#chunks ?? NO_CHUNKS;
    this.#chunks = undefined;
    for (const chunk of chunks) this.#forward(chunk);
    if (ended && this.#state === PASS) this.#end(undefined, trailers);
  }

  #withTrailers(r: Recognition, registration: TrailersRegistration, send: boolean): void {
    const headers = this.#fields(TOKEN_DESCRIBING);
    this.#applyPushes(r, headers);
    if (this.#tunnelRefused()) return;
    const scan = this.#scan!;
    const head = { method: this.#ctx.environ.method, status: this.#status, reason: scan.reason(this.#reason), headers };
    const sink = new ScannedSink(this.#inner, scan, () => {
      this.#inner.abort(new HatchwayError('ERR_HATCHWAY_TOKEN_LEAK', 'body'));
      this.#release();
    });
    const done = streamTrailers(sink, registration, head, send, this.#ctx.environ);
    if (done === undefined) this.#release();
    else void done.finally(this.#releaser());
  }

  /** Runs the registration's fallback (or its kind's default) with the token response's fields. */
  #fallback(r: Recognition, registration: unknown): void {
    if (this.#carried !== undefined) return this.#fail(new HatchwayError('ERR_HATCHWAY_FALLBACK_FAILED')); // a fallback's own token did not survive
    const app = (registration as { fallback?: App }).fallback ?? defaultFallback(r.kind as 'websocket' | 'trailers' | 'http2' | 'upgrade', registration);
    this.#respond(app, new EscapeSink(this.#inner, this.#ctx, this.#fields(NOT_CARRIED)));
  }

  /** Runs `app` in place of the response (into `sink`, default the front-end's), then releases. */
  #respond(app: App, sink: ResponseSink = this.#inner): void {
    const done = run(app, this.#ctx.environ, sink);
    if (done === undefined) this.#release();
    else done.finally(this.#releaser()).catch(() => {});
  }

  #applyPushes(r: Recognition, headers: HeaderList): void {
    if (r.pushes.length > 0) pushOrPreload(r.pushes, degrade('push', this.#ctx.protocol, r.pushSituation), this.#inner, headers);
  }

  /** The one CONNECT guard (after recognition): a 2xx that is not a takeover would fake a tunnel. */
  #tunnelRefused(): boolean {
    if (!opensTunnel(this.#ctx.environ.method, this.#status)) return false;
    this.#fail(new HatchwayError('ERR_HATCHWAY_CONNECT_NOT_ESCAPE'));
    return true;
  }

  /** The response's fields, scanned and without `drop`, plus those a fallback carries. */
  #fields(drop: ReadonlySet<string> | undefined): HeaderList {
    const own = this.#scan!.fields(this.#headers, drop);
    return this.#carried === undefined ? own : withCarried(own, this.#carried);
  }

  #forward(chunk: Chunk): boolean {
    if (this.#state !== PASS) return true;
    const out = this.#scan === undefined ? chunk : this.#scan.body(chunk);
    if (out === false) return this.#torn();
    // FLUSH (an explicit commit, SPEC §3.4) is the one empty chunk a front-end must see.
    if (chunk === FLUSH) return this.#inner.write(FLUSH);
    return chunkLength(out) === 0 || this.#inner.write(out);
  }

  #end(chunk: Chunk | undefined, trailers: HeaderList | undefined): void {
    const scan = this.#scan;
    if (scan === undefined) return this.#inner.end(chunk, trailers);
    const last = lastBytes(scan, chunk);
    if (last === false) this.#torn();
    else this.#inner.end(last, trailers && scan.trailers(trailers));
  }

  /** A body that carries a token is torn down instead of leaving. */
  #torn(): true {
    this.#state = DETACHED;
    this.#inner.abort(new HatchwayError('ERR_HATCHWAY_TOKEN_LEAK', 'body'));
    this.#release();
    return true;
  }

  /** Answers with an error response in place of whatever the runner still has. */
  #fail(err: unknown, log = true): void {
    this.#state = DETACHED;
    this.#respond(errorApp(err, log));
  }

  #release(): void {
    this.#ctx.registry.release();
  }

  /** {@link #release} as a callback, made only for the requests that hand it on (escapes, fallbacks). */
  #releaser(): () => void {
    return () => this.#ctx.registry.release();
  }
}
