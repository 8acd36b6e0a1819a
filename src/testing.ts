/**
 * `hatchway/testing` — an in-memory client for apps and middleware, in the manner of Fastify's
 * `inject` and Hono's `app.request`: no socket, but the real runner, the real escape
 * registry and the real recognition rule, so an escape is honoured or degraded exactly as the
 * server would (SPEC §7.4). A websocket handshake that is honoured answers `101` (there is no
 * socket to hand `onSocket`); push is recorded; `upgradeTo` runs its emulation, as on any host
 * without a real HTTP/2 stream.
 *
 * @example
 * ```ts
 * import { request } from 'hatchway/testing';
 *
 * const res = await request(app, { path: '/hello', headers: { accept: 'text/plain' } });
 * assert.equal(res.status, 200);
 * assert.equal(res.text, 'Hello\n');
 * ```
 *
 * @module
 */
import { run } from './gateway/run.ts';
import { replayInput } from './conformance/helpers.ts';
import { toBytes, type FileBody } from './gateway/body.ts';
import { nextRequestId } from './gateway/request-id.ts';
import type { App, Chunk, Environ, Features, HeaderList, Middleware, Protocol } from './gateway/types.ts';
import { checkMiddleware, type CheckOptions, type CheckReport, type Grade } from './conformance/check.ts';
import { headerHasToken } from './protocol/headers.ts';
import { isWebSocketH1 } from './protocol/websocket.ts';
import { splitTarget } from './protocol/target.ts';
import { installEscapes } from './escapes/install.ts';
import type { EscapeCapableSink, EscapeDecision } from './escapes/capabilities.ts';
import type { PushResource } from './escapes/push.ts';
import { liveRegistrations } from './escapes/registry.ts';

/** What to send. */
export interface TestRequest {
  /** The request method, any case (default `GET`; sent upper-cased). */
  method?: string;
  /** The request target: a path with an optional query (`/a?b=1`). */
  path?: string;
  /** Request header fields, as a header list or an object; names are lower-cased. */
  headers?: HeaderList | Record<string, string>;
  /** The request body (a string is UTF-8); a `content-length` is added unless a length or `transfer-encoding` field is given. */
  body?: string | Uint8Array;
  /** Default `HTTP/1.1`. */
  protocol?: Protocol;
  /** Overrides of what the connection can have (default: decided from the request, as the server does). */
  features?: Partial<Features>;
  /** Install the escape extensions, as hatchway's server does (default true); false is a host without them. */
  escapes?: boolean;
  /** Extra environ keys (a session, a user), as an outer middleware would add. */
  environ?: Record<string, unknown>;
  /** Gives up after this many ms (default 5 000): the response then has `timedOut` set. */
  timeout?: number;
  /** The client goes away once this many body bytes arrived (the signal aborts, the sink closes): the early-return path. */
  disconnectAfter?: number;
  /** The client stops reading once this many body bytes arrived (writes return `false`, `drained()` waits) until the timeout. */
  stallAfter?: number;
}

/** What came back. */
export interface TestResponse {
  /** The final status sent (101 for a websocket takeover; 0 when no response was sent). */
  status: number;
  /** The reason phrase given to `startResponse` (`'200 OK'` gives `OK`), or `undefined`. */
  reason: string | undefined;
  /** The response header fields as the server sent them, in order, with their duplicates. */
  headers: HeaderList;
  /** The whole response body as the client received it (empty for a takeover). */
  body: Buffer;
  /** The body as UTF-8. */
  text: string;
  /** The trailer fields sent after the body (empty when there were none, or the client could not take them). */
  trailers: HeaderList;
  /** The escape sink's decisions, the response's first (and a fallback's after it). */
  escape: EscapeDecision | undefined;
  /** Every escape decision of the request, in order: the response's, then a fallback's. */
  decisions: EscapeDecision[];
  /** A websocket handshake was honoured (the response is the `101`). */
  upgraded: boolean;
  /** Resources pushed (PUSH_PROMISE) with the response. */
  pushed: PushResource[];
  /** The `Link` values of each 103 Early Hints sent before the response. */
  earlyHints: string[][];
  /** The response was torn down after its head (a reset). */
  aborted: boolean;
  /** The request's `timeout` ran out before the response ended (the response is what arrived by then). */
  timedOut: boolean;
  /** Lines written to `environ.errors`. */
  logs: string[];
  /** The client went away (`disconnectAfter`). */
  disconnected: boolean;
  /** The first value of a response field (case-insensitive), or `undefined`. */
  header(name: string): string | undefined;
}


/** Sends one request to `app` in memory and collects the whole response. */
export async function request(app: App, options: TestRequest = {}): Promise<TestResponse> {
  const method = (options.method ?? 'GET').toUpperCase();
  const target = options.path ?? '/';
  const protocol = options.protocol ?? 'HTTP/1.1';
  const headers: HeaderList = Array.isArray(options.headers)
    ? options.headers.map(([n, v]) => [n.toLowerCase(), v])
    : Object.entries(options.headers ?? {}).map(([n, v]) => [n.toLowerCase(), v]);
  const body = options.body === undefined ? new Uint8Array(0) : toBytes(options.body);
  if (body.byteLength > 0 && !headers.some(([n]) => n === 'content-length' || n === 'transfer-encoding')) headers.push(['content-length', String(body.byteLength)]);
  const h2 = protocol === 'HTTP/2';
  const te = headers.filter(([n]) => n === 'te').map(([, v]) => v).join(', ');
  const features: Features = {
    push: false,
    trailers: h2 || (protocol === 'HTTP/1.1' && headerHasToken(te, 'trailers')),
    websocket: !h2 && protocol === 'HTTP/1.1' && isWebSocketH1(method, headers),
    earlyHints: protocol !== 'HTTP/1.0',
    ...options.features,
  };
  const logs: string[] = [];
  const controller = new AbortController();
  const { pathInfo, queryString } = splitTarget(target, method);
  const requestId = nextRequestId();
  const environ: Environ = {
    method,
    scheme: 'http',
    target,
    scriptName: '',
    pathInfo,
    queryString,
    protocol,
    authority: headers.find(([n]) => n === 'host')?.[1] ?? 'localhost',
    headers,
    remoteAddress: '127.0.0.1',
    remotePort: 40000,
    localAddress: '127.0.0.1',
    localPort: 80,
    requestId,
    streamId: h2 ? 1 : undefined,
    input: replayInput(body),
    errors: { write: (line: string) => void logs.push(line) },
    features,
    signal: controller.signal,
    ...options.environ,
  };
  const sink = new MemorySink(features, controller, options);
  const decisions: EscapeDecision[] = [];
  let done: Promise<void> | undefined;
  let release: (() => void) | undefined;
  if (options.escapes === false) done = run(app, environ, sink);
  else {
    const installed = installEscapes(environ, sink, {
      protocol: h2 ? 'HTTP/2' : 'HTTP/1',
      eligible: { websocket: features.websocket, trailers: features.trailers, push: features.push },
      earlyHints: features.earlyHints,
      onDecision: (d) => decisions.push(d),
    });
    release = () => installed.registry.release();
    done = run(app, environ, installed.sink);
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    Promise.all([done, sink.finished]).then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), options.timeout ?? 5_000))),
  ]);
  clearTimeout(timer);
  if (timedOut) controller.abort(new Error('test request timed out'));
  release?.();
  const bytes = Buffer.concat(sink.chunks);
  const out = sink.headers;
  return {
    status: sink.status,
    reason: sink.reason,
    headers: out,
    body: bytes,
    text: bytes.toString('utf8'),
    trailers: sink.trailers,
    escape: decisions[0],
    decisions,
    upgraded: sink.upgraded,
    pushed: sink.pushed,
    earlyHints: sink.hints,
    aborted: sink.aborted,
    timedOut,
    logs,
    disconnected: sink.disconnected,
    header: (name) => out.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1],
  };
}

/** An in-memory front-end sink with the escape capabilities the request's features allow. */
class MemorySink implements EscapeCapableSink {
  status = 0;
  reason: string | undefined;
  headers: HeaderList = [];
  chunks: Buffer[] = [];
  trailers: HeaderList = [];
  pushed: PushResource[] = [];
  hints: string[][] = [];
  upgraded = false;
  aborted = false;
  disconnected = false;
  #closed = false;
  #written = 0;
  readonly #controller: AbortController;
  readonly #disconnectAfter: number;
  readonly #stallAfter: number;
  #finish!: () => void;
  readonly finished = new Promise<void>((resolve) => (this.#finish = resolve));
  acceptWebSocket?: EscapeCapableSink['acceptWebSocket'];
  push?: EscapeCapableSink['push'];

  constructor(features: Features, controller: AbortController, options: TestRequest) {
    this.#controller = controller;
    this.#disconnectAfter = options.disconnectAfter ?? Infinity;
    this.#stallAfter = options.stallAfter ?? Infinity;
    if (features.websocket) {
      this.acceptWebSocket = (headers) => {
        this.status = 101;
        this.headers = [['upgrade', 'websocket'], ['connection', 'Upgrade'], ...headers];
        this.upgraded = true;
        this.#done();
      };
    }
    if (features.push) this.push = (resources) => void this.pushed.push(...resources);
  }

  get closed(): boolean {
    return this.#closed;
  }

  earlyHints(links: string[]): void {
    if (this.status === 0) this.hints.push(links);
  }

  head(status: number, reason: string | undefined, headers: HeaderList, length: number | undefined): void {
    this.status = status;
    this.reason = reason;
    this.headers = length === undefined ? [...headers] : [...headers, ['content-length', String(length)]];
  }

  write(chunk: Chunk): boolean {
    if (this.#closed) return false;
    const bytes = Buffer.from(toBytes(chunk));
    this.chunks.push(bytes);
    this.#written += bytes.byteLength;
    if (this.#written >= this.#disconnectAfter) {
      // The client leaves, as a socket closing would: the signal aborts, the sink is closed.
      this.disconnected = true;
      this.#done();
      this.#controller.abort(new Error('the test client went away'));
      return false;
    }
    return this.#written < this.#stallAfter;
  }

  drained(): Promise<void> {
    if (this.#closed || this.#written < this.#stallAfter) return Promise.resolve();
    // A client that stopped reading: nothing drains until it gives up (the request's timeout).
    const signal = this.#controller.signal;
    return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
  }

  end(chunk?: Chunk, trailers?: HeaderList): void {
    if (chunk !== undefined) this.write(chunk);
    if (trailers !== undefined) this.trailers = trailers;
    this.#done();
  }

  async file(status: number, reason: string | undefined, headers: HeaderList, body: FileBody, size: number, bodyless: boolean): Promise<void> {
    this.head(status, reason, headers, size);
    if (!bodyless) for await (const chunk of body) this.write(chunk);
    this.#done();
  }

  abort(): void {
    this.aborted = true;
    this.#done();
  }

  #done(): void {
    this.#closed = true;
    this.#finish();
  }
}

/** Registrations not yet released in this process: 0 after every finished test request. */
export { liveRegistrations };

export { checkMiddleware, type CheckOptions, type CheckReport, type ConformanceEntry, type RuleResult, type ProbeResult, type Evidence, type Grade, type Verdict } from './conformance/check.ts';
export { formatReport } from './conformance/report.ts';
export { PROBES, type Probe } from './conformance/probes.ts';

/** What {@link assertConformance} needs of a test object: tap's (or node:test's `t.assert`) `ok`. */
export interface Assertions {
  /** Asserts that `value` is truthy; `extra` is the diagnostic (the evidence and the hint) shown on failure. */
  ok(value: unknown, message: string, extra: Record<string, unknown>): unknown;
}

/** Options of {@link assertConformance}: those of `checkMiddleware`, and the grade you promise. */
export interface AssertConformanceOptions extends CheckOptions {
  /** Also assert this escape grade (`'escape-safe'`, `'escape-aware'`). */
  grade?: Grade;
}

/**
 * The tap helper: one line in an author's suite checks a middleware against the whole
 * checklist — one failing assertion per broken rule, with its evidence and hint.
 *
 * @example
 * ```ts
 * import t from 'tap';
 * import { assertConformance } from 'hatchway/testing';
 *
 * t.test('my middleware keeps the checklist', (t) => assertConformance(t, myMiddleware(), { grade: 'escape-safe' }));
 * ```
 */
export async function assertConformance(t: Assertions, middleware: Middleware, options: AssertConformanceOptions = {}): Promise<CheckReport> {
  const report = await checkMiddleware(middleware, options);
  for (const rule of report.rules) {
    if (rule.verdict !== 'fail') continue;
    t.ok(false, `${rule.id} ${rule.title}`, { seen: rule.evidence?.message, probe: rule.evidence?.probe, reproduce: rule.evidence?.reproduce, hint: rule.hint });
  }
  if (report.verdict === 'pass') t.ok(true, `${report.name} passes the hatchway checklist (${report.counts.pass} rules, ${report.counts['n/a']} not applicable)`, { grade: report.grade });
  if (options.grade !== undefined) t.ok(report.grade === options.grade, `${report.name} is ${options.grade}`, { grade: report.grade, escapes: report.escapes });
  return report;
}
