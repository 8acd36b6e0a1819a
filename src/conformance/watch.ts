/**
 * The instrumentation under both `lint` and `checkMiddleware`, in the manner of
 * `wsgiref.validate`: a boundary wraps an app and watches every call across it — the environ
 * it is given, each `startResponse`, the body, each chunk, `close()` — and reports what breaks
 * a rule, by the rule's id (rules.ts). {@link watchMiddleware} puts one boundary outside a
 * middleware and one inside it, and compares the two sides of each request: the environ keys
 * passed inward, the header lists passed outward, the token response, errors, closing and the
 * chunk count.
 */
import type { AsyncLocalStorage } from 'node:async_hooks';
import { FileBody, chunkLength, isBody, toBytes } from '../gateway/body.ts';
import { concat, latin1 } from '../wire/bytes.ts';
import type { App, Body, Chunk, Environ, HeaderList, Middleware, StartResponse, Status } from '../gateway/types.ts';
import { parseStatus, validateHeaders } from '../protocol/headers.ts';
import { TOKEN_LENGTH, isControlName, parseControl } from '../escapes/registry.ts';
import type { RuleId } from './rules.ts';

/** One broken rule, seen at run time. */
export interface Violation {
  rule: RuleId;
  /** What happened, in words. */
  message: string;
}

/** Where a boundary sends what it sees, with the environ of the request it was seen in. */
export type Report = (violation: Violation, environ?: Environ) => void;

const NOTHING = Symbol('nothing');
const KEEP = 64; // bytes of a body kept to compare token responses
const BODY_KINDS = new Set(['websocket', 'trailers', 'http2', 'upgrade']);
const BODYLESS = new Set([204, 205, 304]);

/** What one call of an app through a boundary did. */
export class Call {
  readonly environ: Environ;
  status: number | undefined;
  headers: HeaderList | undefined;
  /** startResponse calls (with and without excInfo). */
  starts = 0;
  /** What the app or its body threw, or NOTHING. */
  threw: unknown = NOTHING;
  /** Chunks yielded (empty ones included), bytes yielded, and whether the body ended. */
  chunks = 0;
  bytes = 0;
  ended = false;
  closes = 0;
  /** The first bytes of the body. */
  head: Uint8Array = new Uint8Array(0);
  /** Bodies given by inner calls of the same request (filled by the inner boundary). */
  readonly inner: Call[] = [];
  finished = false;
  isFile = false;
  /** The app returned a body (which someone must close). */
  hasBody = false;
  /** The body was an array: known whole, so joining its chunks delays nothing. */
  isArray = false;
  constructor(environ: Environ) {
    this.environ = environ;
  }
  get failed(): boolean {
    return this.threw !== NOTHING;
  }
  record(chunk: Chunk): void {
    const n = chunkLength(chunk);
    this.chunks++;
    this.bytes += n;
    if (this.head.byteLength < KEEP && n > 0) this.head = concat([this.head, toBytes(chunk)]).subarray(0, KEEP);
  }
}

/** What a boundary checks: the callee (the app: its response), the caller (what it passes and how it consumes the body). */
export interface BoundaryOptions {
  report: Report;
  /** Check the wrapped app's response: startResponse, chunks, Content-Length, bodyless statuses. */
  callee: boolean;
  /** Check the caller: the environ's shape, closing exactly once, no reads after close, input and errors. */
  caller: boolean;
  /** Told of each call as it starts. */
  onCall?: (call: Call) => void;
  /** Told once a call's body is over (ended, failed or closed). */
  onFinish?: (call: Call) => void;
}

const REQUIRED: Record<string, (v: unknown) => boolean> = {
  method: (v) => typeof v === 'string' && v.length > 0,
  scheme: (v) => v === 'http' || v === 'https',
  target: (v) => typeof v === 'string',
  scriptName: (v) => typeof v === 'string' && !v.endsWith('/'),
  pathInfo: (v) => typeof v === 'string' && (v === '' || v === '*' || v.startsWith('/')),
  queryString: (v) => typeof v === 'string',
  protocol: (v) => v === 'HTTP/1.0' || v === 'HTTP/1.1' || v === 'HTTP/2',
  authority: (v) => typeof v === 'string',
  headers: (v) => Array.isArray(v) && v.every((h) => Array.isArray(h) && h.length === 2 && typeof h[0] === 'string' && typeof h[1] === 'string' && h[0] === h[0].toLowerCase()),
  remoteAddress: (v) => typeof v === 'string',
  remotePort: (v) => typeof v === 'number',
  localAddress: (v) => typeof v === 'string',
  localPort: (v) => typeof v === 'number',
  requestId: (v) => typeof v === 'string',
  streamId: (v) => v === undefined || typeof v === 'number',
  input: (v) => v !== null && typeof v === 'object' && typeof (v as { read?: unknown }).read === 'function' && typeof (v as { bytes?: unknown }).bytes === 'function',
  errors: (v) => v !== null && typeof v === 'object' && typeof (v as { write?: unknown }).write === 'function',
  features: (v) => v !== null && typeof v === 'object' && ['push', 'trailers', 'websocket', 'earlyHints'].every((k) => typeof (v as Record<string, unknown>)[k] === 'boolean'),
  signal: (v) => v instanceof AbortSignal,
};

/** The keys SPEC §2.1 requires. */
export const REQUIRED_KEYS: readonly string[] = Object.keys(REQUIRED);

/** The environ keys that break SPEC §2.1's table (missing, or of the wrong type). */
export function environProblems(environ: Environ): string[] {
  const out: string[] = [];
  for (const [key, ok] of Object.entries(REQUIRED)) {
    if (!(key in environ)) out.push(`'${key}' is missing`);
    else if (!ok(environ[key])) out.push(`'${key}' is ${describe(environ[key])}`);
  }
  return out;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (Array.isArray(v)) return 'a malformed header list';
  if (v === null || v === undefined) return String(v);
  return typeof v === 'object' ? 'an object of the wrong shape' : `${typeof v} ${String(v)}`;
}

/** Wraps `app` in a boundary that watches each call. */
export function watch(app: App, options: BoundaryOptions): App {
  return function watched(environ: Environ, startResponse: StartResponse): Body {
    const call = new Call(environ);
    const report: Report = (v) => options.report(v, call.environ);
    if (options.caller) {
      const problems = environProblems(environ);
      if (problems.length > 0) report({ rule: 'HW-ENV-01', message: `the environ passed to the app is malformed: ${problems.join('; ')}` });
      environ = guardStreams(environ, report);
    }
    options.onCall?.(call);
    const finish = (): void => {
      if (call.finished) return;
      call.finished = true;
      options.onFinish?.(call);
    };
    const start: StartResponse = (status: Status, headers: HeaderList, excInfo?: unknown): void => {
      const replacing = excInfo !== undefined && excInfo !== null;
      if (options.callee) {
        if (call.starts > 0 && !replacing) report({ rule: 'HW-RSP-03', message: `startResponse was called a second time (${String(status)}) without excInfo, after ${call.status}` });
        try {
          validateHeaders(headers, parseStatus(status).code);
        } catch (err) {
          report({ rule: 'HW-RSP-01', message: `startResponse(${JSON.stringify(status)}, …) is invalid: ${(err as Error).message}` });
        }
      }
      call.starts++;
      try {
        call.status = parseStatus(status).code;
      } catch {
        call.status = undefined;
      }
      call.headers = Array.isArray(headers) ? headers.map((h) => [h[0], h[1]]) : undefined;
      startResponse(status, headers, excInfo);
    };
    let body: Body;
    try {
      body = app(environ, start);
    } catch (err) {
      call.threw = err;
      finish();
      throw err;
    }
    if (!isBody(body)) {
      if (options.callee) report({ rule: 'HW-BODY-01', message: `the app returned ${describe(body)}, not an iterable or async iterable of chunks` });
      finish();
      return body;
    }
    call.hasBody = true;
    return watchBody(body, call, options, finish);
  };
}

function watchBody(body: Body, call: Call, options: BoundaryOptions, finish: () => void): Body {
  const report: Report = (v) => options.report(v, call.environ);
  let closedAt = 0;
  const chunk = (value: unknown): void => {
    if (options.callee && typeof value !== 'string' && !(value instanceof Uint8Array)) {
      report({ rule: 'HW-BODY-01', message: `the body yielded ${describe(value)}: chunks are strings or Uint8Arrays` });
      return;
    }
    const n = chunkLength(value);
    if (options.callee && n > 0) {
      if (call.starts === 0) report({ rule: 'HW-RSP-02', message: 'the body yielded a non-empty chunk before startResponse was called' });
      if (call.status !== undefined && BODYLESS.has(call.status)) report({ rule: 'HW-RSP-06', message: `the body yielded ${n} bytes on a ${call.status} response, which has no body` });
    }
    call.record(value as Chunk);
    const declared = declaredLength(call.headers);
    if (options.callee && declared !== undefined && call.bytes > declared && !bodyless(call)) {
      report({ rule: 'HW-RSP-05', message: `the body sent more than the ${declared} bytes its Content-Length declares` });
    }
  };
  const end = (): void => {
    call.ended = true;
    if (options.callee) {
      if (call.starts === 0) report({ rule: 'HW-RSP-02', message: 'the body ended before startResponse was called' });
      const declared = declaredLength(call.headers);
      if (declared !== undefined && call.bytes !== declared && !bodyless(call)) report({ rule: 'HW-RSP-05', message: `Content-Length says ${declared} but the body has ${call.bytes} bytes` });
    }
    finish();
  };
  const fail = (err: unknown): void => {
    call.threw = err;
    finish();
  };
  const close = (): void => {
    call.closes++;
    if (options.caller && call.closes === 2) report({ rule: 'HW-CLOSE-01', message: 'close() was called twice on the same body' });
    closedAt = call.closes;
    try {
      body.close?.();
    } finally {
      finish();
    }
  };
  const afterClose = (): void => {
    if (options.caller && closedAt > 0) report({ rule: 'HW-CLOSE-03', message: 'the body was read after close()' });
  };
  if (body instanceof FileBody) {
    call.isFile = true;
    return body;
  }
  if (Array.isArray(body)) {
    call.isArray = true;
    for (const value of body) chunk(value);
    end();
    const copy = body.slice() as Chunk[] & { close?: () => void };
    copy.close = close;
    return copy;
  }
  if (typeof (body as AsyncIterable<Chunk>)[Symbol.asyncIterator] === 'function') {
    const source = body as AsyncIterable<Chunk>;
    return {
      [Symbol.asyncIterator](): AsyncIterator<Chunk> {
        const it = source[Symbol.asyncIterator]();
        return {
          async next() {
            afterClose();
            let result: IteratorResult<Chunk>;
            try {
              result = await it.next();
            } catch (err) {
              fail(err);
              throw err;
            }
            if (result.done) end();
            else chunk(result.value);
            return result;
          },
          async return(value?: unknown) {
            await it.return?.(value as never);
            return { done: true, value: undefined };
          },
        };
      },
      close,
    };
  }
  const source = body as Iterable<Chunk>;
  return {
    [Symbol.iterator](): Iterator<Chunk> {
      const it = source[Symbol.iterator]();
      return {
        next() {
          afterClose();
          let result: IteratorResult<Chunk>;
          try {
            result = it.next();
          } catch (err) {
            fail(err);
            throw err;
          }
          if (result.done) end();
          else chunk(result.value);
          return result;
        },
        return(value?: unknown) {
          it.return?.(value as never);
          return { done: true, value: undefined };
        },
      };
    },
    close,
  };
}

function bodyless(call: Call): boolean {
  return call.environ.method === 'HEAD' || (call.status !== undefined && (BODYLESS.has(call.status) || call.status < 200));
}

function declaredLength(headers: HeaderList | undefined): number | undefined {
  const field = headers?.find(([n]) => n.toLowerCase() === 'content-length');
  return field !== undefined && /^\d+$/.test(field[1]) ? Number(field[1]) : undefined;
}

const CLOSERS = new Set(['close', 'destroy', 'end', 'cancel']);

// wsgiref.validate's InputWrapper/ErrorWrapper: `close` on input or errors is a violation.
function guardStreams(environ: Environ, sink: Report): Environ {
  const report: Report = (v) => sink(v, environ);
  const wrap = <T extends object>(target: T, key: 'input' | 'errors'): T =>
    new Proxy(target, {
      get(t, prop) {
        if (typeof prop === 'string' && CLOSERS.has(prop)) return () => report({ rule: 'HW-IN-02', message: `environ.${key}.${prop}() was called: the server owns ${key}` });
        const value = Reflect.get(t, prop, t) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
      },
    });
  const input = environ.input as object | undefined;
  const errors = environ.errors as object | undefined;
  if (input !== null && typeof input === 'object') environ.input = wrap(input, 'input') as Environ['input'];
  if (errors !== null && typeof errors === 'object') environ.errors = wrap(errors, 'errors') as Environ['errors'];
  return environ;
}

// ---- both sides of a middleware ----

/** The token (body kind) and push control values of a header list. */
function controls(headers: HeaderList | undefined): { body: string | undefined; push: string[] } {
  let body: string | undefined;
  const push: string[] = [];
  for (const [name, value] of headers ?? []) {
    if (!isControlName(name)) continue;
    const parsed = parseControl(value);
    if (parsed === undefined) continue;
    if (parsed.kind === 'push') push.push(value.trim());
    else body ??= value.trim();
  }
  return { body, push };
}

function valuesOf(headers: HeaderList, name: string): string[] {
  return headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
}

/** Fields repeated in `from` that `to` merged into fewer fields, or whose values it re-ordered. */
export function headerListProblems(from: HeaderList, to: HeaderList, side: 'request' | 'response'): string[] {
  const problems: string[] = [];
  const names = new Set(from.map(([n]) => n.toLowerCase()));
  for (const name of names) {
    if (isControlName(name) || name === 'content-length') continue;
    const before = valuesOf(from, name);
    const after = valuesOf(to, name);
    if (before.length < 2 || after.length === 0) continue;
    // The values that came through must keep their relative order and stay separate fields.
    const kept = after.filter((v) => before.includes(v));
    const expected = before.filter((v) => kept.includes(v));
    if (kept.length < before.length && after.some((v) => before.some((b) => v !== b && v.includes(b)))) {
      problems.push(`the ${before.length} '${name}' ${side} fields ${JSON.stringify(before)} were merged into ${JSON.stringify(after)}`);
    } else if (kept.join('\n') !== expected.join('\n')) {
      problems.push(`the '${name}' ${side} fields ${JSON.stringify(before)} were re-ordered to ${JSON.stringify(kept)}`);
    }
  }
  return problems;
}

/** Options of {@link watchMiddleware}. */
export interface WatchOptions {
  report: Report;
  /** Told of each request's outer call and, through `call.inner`, its inner calls. */
  onCall?: (outer: Call) => void;
  /** Report inner bodies still open when the outer one is closed (default true; the checker counts closes itself). */
  closeCheck?: boolean;
}

/** One request through a watched middleware. */
interface Context {
  outer: Call | undefined;
  spies: Map<string, { calls: number }>;
}

/** The part of `AsyncLocalStorage` the boundaries use. */
type Store<T> = Pick<AsyncLocalStorage<T>, 'run' | 'getStore'>;

/**
 * Where the runtime has no `AsyncLocalStorage` (workerd without Node compatibility) the
 * context follows synchronous calls only: an inner app called after an `await` in the body
 * is then checked on its own, without the comparisons across the middleware.
 */
class SyncStore<T> implements Store<T> {
  #current: T | undefined;
  getStore(): T | undefined {
    return this.#current;
  }
  run<R>(store: T, callback: () => R): R {
    const previous = this.#current;
    this.#current = store;
    try {
      return callback();
    } finally {
      this.#current = previous;
    }
  }
}

// Node's AsyncLocalStorage where the runtime has it (Node, Bun, Deno): loaded through
// process.getBuiltinModule, so that this module loads where there is no node:async_hooks.
const hooks = (globalThis as { process?: NodeJS.Process }).process?.getBuiltinModule?.('node:async_hooks');
const store: Store<Context> = hooks ? new hooks.AsyncLocalStorage<Context>() : new SyncStore<Context>();

/**
 * Wraps a middleware in two boundaries: outside it checks the middleware as an app (its
 * response), inside it checks the middleware as a server (the environ it passes, how it
 * consumes and closes the inner body), and across them what passed through.
 */
export function watchMiddleware(middleware: Middleware, options: WatchOptions): Middleware {
  const { report } = options;
  return (app) => {
    const inner = watch(app, {
      report,
      callee: false,
      caller: true,
      onCall(call) {
        const ctx = store.getStore();
        if (ctx?.outer === undefined) return;
        ctx.outer.inner.push(call);
        compareEnviron(ctx.outer.environ, call.environ, report);
        wrapExtensions(ctx, call, report);
      },
    });
    const outerApp = watch(middleware(inner), {
      report,
      callee: true,
      caller: false,
      onCall(call) {
        const ctx = store.getStore();
        if (ctx !== undefined) ctx.outer = call;
        options.onCall?.(call);
      },
      onFinish: (call) => compareResponse(call, report, options.closeCheck !== false),
    });
    return (environ, startResponse) => {
      const ctx: Context = { outer: undefined, spies: spyExtensions(environ) };
      environ = guardStreams(environ, report);
      return store.run(ctx, () => bindBody(outerApp(environ, startResponse), ctx));
    };
  };
}

// Iterating the body (which may call a lazy inner app) must run in the request's async context.
function bindBody(body: Body, ctx: Context): Body {
  if (!isBody(body) || Array.isArray(body) || body instanceof FileBody) return body;
  if (typeof (body as AsyncIterable<Chunk>)[Symbol.asyncIterator] === 'function') {
    const source = body as AsyncIterable<Chunk>;
    return {
      [Symbol.asyncIterator]() {
        const it = store.run(ctx, () => source[Symbol.asyncIterator]());
        return {
          next: () => store.run(ctx, () => it.next()),
          return: async (v?: unknown) => (await store.run(ctx, () => it.return?.(v as never))) ?? { done: true as const, value: undefined },
        };
      },
      close: () => store.run(ctx, () => body.close?.()),
    };
  }
  const source = body as Iterable<Chunk>;
  return {
    [Symbol.iterator]() {
      const it = store.run(ctx, () => source[Symbol.iterator]());
      return {
        next: () => store.run(ctx, () => it.next()),
        return: (v?: unknown) => store.run(ctx, () => it.return?.(v as never)) ?? { done: true as const, value: undefined },
      };
    },
    close: () => store.run(ctx, () => body.close?.()),
  };
}

const FEATURE_OF: Record<string, keyof Environ['features']> = {
  'hatchway.websocket': 'websocket',
  'hatchway.trailers': 'trailers',
  'hatchway.push': 'push',
};

// Replace each server extension with a counting wrapper, so the inner side can tell whether a
// replacement it was given calls the original.
function spyExtensions(environ: Environ): Map<string, { calls: number }> {
  const spies = new Map<string, { calls: number }>();
  for (const key of Object.keys(environ)) {
    const original = environ[key];
    if (!key.startsWith('hatchway.') || typeof original !== 'function') continue;
    const spy = { calls: 0 };
    spies.set(key, spy);
    const wrapper = Object.assign(function (this: unknown, ...args: unknown[]) {
      spy.calls++;
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    }, original);
    environ[key] = wrapper;
  }
  return spies;
}

function wrapExtensions(ctx: Context, inner: Call, sink: Report): void {
  const report: Report = (v) => sink(v, inner.environ);
  const outer = ctx.outer!;
  for (const [key, spy] of ctx.spies) {
    const value = inner.environ[key];
    if (value === undefined || !(key in inner.environ)) {
      const feature = FEATURE_OF[key];
      const hidden = feature !== undefined && inner.environ.features !== outer.environ.features && inner.environ.features?.[feature] === false;
      if (!hidden) report({ rule: 'HW-ESC-01', message: `the server extension '${key}' was dropped from the environ passed inward` });
      continue;
    }
    if (typeof value !== 'function') {
      report({ rule: 'HW-ESC-01', message: `the server extension '${key}' was replaced by ${describe(value)}` });
      continue;
    }
    inner.environ[key] = Object.assign(function (this: unknown, ...args: unknown[]) {
      const before = spy.calls;
      const result = (value as (...a: unknown[]) => unknown).apply(this, args);
      if (spy.calls === before) report({ rule: 'HW-ESC-01', message: `the server extension '${key}' was replaced by a function that does not call the original` });
      return result;
    }, value);
  }
}

function compareEnviron(outer: Environ, inner: Environ, sink: Report): void {
  const report: Report = (v) => sink(v, outer);
  const required = new Set(REQUIRED_KEYS);
  const missing = Object.keys(outer).filter((k) => !required.has(k) && !k.startsWith('hatchway.') && !(k in inner));
  if (missing.length > 0) report({ rule: 'HW-ENV-02', message: `environ keys ${missing.map((k) => `'${k}'`).join(', ')} were not passed inward` });
  if (Array.isArray(outer.headers) && Array.isArray(inner.headers)) {
    for (const problem of headerListProblems(outer.headers, inner.headers, 'request')) report({ rule: 'HW-HDR-02', message: problem });
  }
}

// Once the outer body is over: what passed from the inner response to the outer one.
function compareResponse(outer: Call, sink: Report, closeCheck: boolean): void {
  const report: Report = (v) => sink(v, outer.environ);
  const inner = outer.inner.filter((c) => c.starts > 0 || c.failed);
  const last = inner[inner.length - 1];
  // Closing: every inner body the middleware was given is closed by the time its own is.
  if (closeCheck) {
    queueMicrotask(() => {
      for (const c of outer.inner) {
        if (c.closes > 0 || !c.hasBody || c.isFile || (outer.closes === 0 && !outer.failed)) continue;
        try {
          report({ rule: 'HW-CLOSE-01', message: `the inner body (${c.status}) was never closed` });
        } catch (err) {
          // Nobody to throw to after the response: lint's throwing mode logs it instead.
          outer.environ.errors.write(String((err as Error).message ?? err));
        }
      }
    });
  }
  if (last === undefined) return;
  // Errors: an inner failure must come out as a failure or an error status.
  if (last.failed && !outer.failed) {
    const committed = last.bytes > 0;
    if (committed && outer.ended) report({ rule: 'HW-ERR-01', message: `the inner body threw after ${last.bytes} bytes (${String(last.threw)}) and the middleware ended its body normally: a truncated response looks complete` });
    else if (!committed && (outer.status === undefined || outer.status < 400) && (outer.ended || outer.closes > 0)) report({ rule: 'HW-ERR-01', message: `the inner app threw (${String(last.threw)}) and the middleware answered ${outer.status ?? 'nothing'}: the error was swallowed` });
  }
  if (last.status === undefined || outer.status !== last.status || outer.headers === undefined) return; // replaced wholesale, or answered
  // PEP 3333: at least one chunk out (an empty one will do) for each chunk the inner body yielded.
  if (last.ended && !last.isArray && outer.ended && !bodyless(outer) && outer.chunks < last.chunks) {
    report({ rule: 'HW-BODY-02', message: `the inner body yielded ${last.chunks} chunks and the middleware sent ${outer.chunks}: it joins chunks (buffers) instead of passing one on for each` });
  }
  for (const problem of headerListProblems(last.headers ?? [], outer.headers, 'response')) report({ rule: 'HW-HDR-01', message: problem });
  const inside = controls(last.headers);
  const outside = controls(outer.headers);
  for (const value of inside.push) if (!outside.push.includes(value) && outer.status >= 200 && outer.status < 300) report({ rule: 'HW-ESC-03', message: `the push control field '${value.split(' ')[0]} …' of a ${outer.status} response was dropped or altered` });
  if (inside.body === undefined || !BODY_KINDS.has(inside.body.split(/\s+/)[0]!)) return;
  const token = inside.body.split(/\s+/)[1]!;
  const innerIsToken = last.ended && last.bytes === TOKEN_LENGTH && latin1(last.head) === token;
  if (!innerIsToken) return;
  const outerIsToken = outer.ended && outer.bytes === TOKEN_LENGTH && latin1(outer.head) === token;
  const encoded = outer.headers.some(([n]) => n.toLowerCase() === 'content-encoding');
  const kind = inside.body.split(/\s+/)[0];
  if (outside.body === inside.body && (!outerIsToken || encoded) && outer.ended) {
    report({ rule: 'HW-ESC-02', message: `the ${kind} token response kept its control field but its body was altered (${outer.bytes} bytes${encoded ? ', content-encoding added' : ''}): pass it byte for byte or replace the whole response` });
  } else if (outside.body !== inside.body && outerIsToken) {
    report({ rule: 'HW-ESC-03', message: `the ${kind} token response's body was passed on but its control field was ${outside.body === undefined ? 'dropped' : 'altered'}: keep the field or replace the whole response` });
  }
}
