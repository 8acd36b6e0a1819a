/**
 * The probes `checkMiddleware` drives a middleware with: each is a request for the in-memory
 * client (`hatchway/testing`) and an inner app that answers it in one particular way — a
 * streaming body, a sync one, a lazy `startResponse`, a failure, a 304, a token of every kind…
 * — plus what the probe itself verifies beyond what the boundaries see.
 */
import { acceptWebSocket } from '../escapes/websocket.ts';
import { sendWithTrailers } from '../escapes/trailers.ts';
import { associate } from '../escapes/push.ts';
import type { App, Chunk, HeaderList } from '../gateway/types.ts';
import type { TestRequest, TestResponse } from '../testing.ts';
import type { Call, Violation } from './watch.ts';

/** What a probe's app and verifier can see of the running check. */
export interface ProbeContext {
  /** The middleware's (outer) call of this request, once it started. */
  outer(): Call | undefined;
  /** Records a violation the probe saw itself (beyond what the boundaries see). */
  report(violation: Violation): void;
  /** Chunks the probe's body produced (for the stall probe). */
  produced: number;
}

/** One probe. */
export interface Probe {
  /** The probe's name: what `CheckOptions.probes` and a rule's `probes` list it by (`plain`, `websocket`…). */
  readonly name: string;
  /** What it does, for reports. */
  readonly title: string;
  /** The request the in-memory client sends through the middleware. */
  readonly request: TestRequest;
  /** Builds the inner app that answers the request in the probe's particular way. */
  app(ctx: ProbeContext): App;
  /** Checks on the response, after the request (and a few ms for closing) are over. */
  verify?(res: TestResponse, ctx: ProbeContext): void;
}

/** The unknown environ key every probe request carries (HW-ENV-02). */
export const PROBE_KEY = 'conformance.probe';

const text: HeaderList = [['content-type', 'text/plain; charset=utf-8']];
const RESPONSE_FIELDS: HeaderList = [...text, ['x-hw-b', '1'], ['set-cookie', 'a=1; Path=/'], ['x-hw-a', '1'], ['set-cookie', 'b=2; Path=/'], ['x-hw-b', '2']];
const REQUEST_FIELDS: HeaderList = [['x-hw-probe', '1'], ['accept', 'text/plain'], ['x-hw-probe', '2'], ['accept-encoding', 'gzip, deflate, br']];
const HANDSHAKE: HeaderList = [['connection', 'Upgrade'], ['upgrade', 'websocket'], ['sec-websocket-version', '13'], ['sec-websocket-key', 'dGhlIHNhbXBsZSBub25jZQ==']];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function* chunks(parts: Chunk[]): AsyncGenerator<Chunk> {
  for (const part of parts) {
    await sleep(0);
    yield part;
  }
}

const streaming: App = (_environ, startResponse) => {
  startResponse(200, RESPONSE_FIELDS);
  return chunks(['alpha-', 'beta-', 'gamma']);
};

/** Every probe, by name. */
export const PROBES: readonly Probe[] = [
  {
    name: 'plain',
    title: 'GET; an async body of three chunks with repeated response fields',
    request: { path: '/probe/plain?q=1', headers: REQUEST_FIELDS },
    app: () => streaming,
  },
  {
    name: 'sync',
    title: 'GET; a sync generator body',
    request: { path: '/probe/sync', headers: REQUEST_FIELDS },
    app: () => (_environ, startResponse) => {
      startResponse(200, text);
      return (function* () {
        yield 'one-';
        yield 'two-';
        yield 'three';
      })();
    },
  },
  {
    name: 'array',
    title: 'GET; an array body',
    request: { path: '/probe/array', headers: REQUEST_FIELDS },
    app: () => (_environ, startResponse) => {
      startResponse(200, text);
      return ['an ', 'array'];
    },
  },
  {
    name: 'lazy',
    title: 'GET; startResponse(203) called during iteration',
    request: { path: '/probe/lazy', headers: REQUEST_FIELDS },
    app: () => (_environ, startResponse) =>
      (async function* () {
        await sleep(0);
        // Called late, as an asyncApp does (SPEC §3.3).
        startResponse(203, [...text, ['x-hw-lazy', '1']]);
        yield 'lazy';
      })(),
    verify(res, ctx) {
      const outer = ctx.outer();
      const inner = outer?.inner[0];
      if (inner === undefined || inner.status !== 203) return;
      if (res.status !== 203) ctx.report({ rule: 'HW-RSP-04', message: `the inner app called startResponse(203) during iteration, and the response was ${res.status}` });
      else if (res.status === 203 && res.header('x-hw-lazy') === undefined) ctx.report({ rule: 'HW-RSP-04', message: 'the inner app\'s late startResponse lost its x-hw-lazy field' });
    },
  },
  {
    name: 'slow',
    title: 'GET; an async body that waits for its first chunk to come out before yielding the next',
    request: { path: '/probe/slow', headers: REQUEST_FIELDS },
    app: (ctx) => (_environ, startResponse) => {
      startResponse(200, text);
      return (async function* () {
        yield 'first-';
        const until = Date.now() + 250;
        while ((ctx.outer()?.bytes ?? 0) === 0 && Date.now() < until) await sleep(5);
        if ((ctx.outer()?.bytes ?? 0) === 0 && !ctx.outer()?.finished) {
          ctx.report({ rule: 'HW-BODY-03', message: 'the first chunk had not come out of the middleware 250 ms after the inner body yielded it, while the inner body waited before its next chunk' });
        }
        yield 'second';
      })();
    },
  },
  {
    name: 'throw-call',
    title: 'GET; the inner app throws when called',
    request: { path: '/probe/throw-call' },
    app: () => () => {
      throw new Error('conformance probe: the inner app failed');
    },
  },
  {
    name: 'throw-early',
    title: 'GET; the inner body throws before its first chunk',
    request: { path: '/probe/throw-early' },
    app: () => (_environ, startResponse) => {
      startResponse(200, text);
      return (async function* () {
        await sleep(0);
        throw new Error('conformance probe: the inner body failed before its first chunk');
      })();
    },
  },
  {
    name: 'throw-late',
    title: 'GET; the inner body throws after its first chunk',
    request: { path: '/probe/throw-late' },
    app: () => (_environ, startResponse) => {
      startResponse(200, text);
      return (async function* () {
        yield 'partial-';
        await sleep(0);
        throw new Error('conformance probe: the inner body failed after its first chunk');
      })();
    },
    verify(res, ctx) {
      const inner = ctx.outer()?.inner[0];
      if (inner?.failed && inner.bytes > 0 && !res.aborted && res.status < 400) ctx.report({ rule: 'HW-ERR-01', message: `the inner body failed after its first chunk, and the client got a complete-looking ${res.status} (${res.body.byteLength} bytes) instead of an aborted response` });
    },
  },
  {
    name: 'head',
    title: 'HEAD; 200 with a Content-Length and no body bytes',
    request: { method: 'HEAD', path: '/probe/head' },
    app: () => (_environ, startResponse) => {
      startResponse(200, [...text, ['content-length', '42']]);
      return [];
    },
    verify(_res, ctx) {
      // Only bytes the middleware added to the inner app's HEAD response (its own answer may carry a body the server drops).
      const outer = ctx.outer();
      const inner = outer?.inner[0];
      if (outer !== undefined && inner !== undefined && outer.status === inner.status && outer.bytes > inner.bytes) ctx.report({ rule: 'HW-RSP-06', message: `the middleware yielded ${outer.bytes} body bytes on a HEAD response` });
    },
  },
  {
    name: 'not-modified',
    title: 'GET with If-None-Match; 304 without a body',
    request: { path: '/probe/not-modified', headers: [['if-none-match', '"v1"']] },
    app: () => (_environ, startResponse) => {
      startResponse(304, [['etag', '"v1"']]);
      return [];
    },
  },
  {
    name: 'input',
    title: 'POST a JSON body; the inner app reads environ.input',
    request: { method: 'POST', path: '/probe/input', headers: [['content-type', 'application/json']], body: '{"probe":"body"}' },
    app: (ctx) => (environ, startResponse) =>
      (async function* () {
        const declared = environ.input.length;
        const bytes = await environ.input.bytes(1 << 20);
        if (declared !== undefined && bytes.byteLength !== declared) ctx.report({ rule: 'HW-IN-01', message: `the input passed inward declared ${declared} bytes and yielded ${bytes.byteLength}` });
        startResponse(200, text);
        yield `read ${bytes.byteLength} bytes`;
      })(),
  },
  {
    name: 'disconnect',
    title: 'GET; the client goes away after the first bytes of a five-chunk body',
    request: { path: '/probe/disconnect', disconnectAfter: 1 },
    app: () => (_environ, startResponse) => {
      startResponse(200, text);
      return chunks(['a'.repeat(100), 'b'.repeat(100), 'c'.repeat(100), 'd'.repeat(100), 'e'.repeat(100)]);
    },
  },
  {
    name: 'stall',
    title: 'GET; 256 chunks of 16 KiB to a client that stops reading after the first bytes',
    request: { path: '/probe/stall', stallAfter: 1, timeout: 200 },
    app: (ctx) => (_environ, startResponse) => {
      startResponse(200, [['content-type', 'application/octet-stream']]);
      return (async function* () {
        for (let i = 0; i < 256; i++) {
          ctx.produced++;
          yield new Uint8Array(16 * 1024);
          await sleep(0);
        }
      })();
    },
    verify(_res, ctx) {
      if (ctx.produced > 32) ctx.report({ rule: 'HW-BODY-05', message: `the middleware read ${ctx.produced} chunks (${ctx.produced * 16} KiB) of the inner body while the client read none after the first` });
    },
  },
  {
    name: 'websocket',
    title: 'a websocket handshake; the inner app answers with a websocket token',
    request: { path: '/probe/ws', headers: HANDSHAKE },
    app: () => (environ, startResponse) => acceptWebSocket(environ, startResponse, { onSocket: (ws) => ws.close() }),
    verify: verifyEscape,
  },
  {
    name: 'trailers',
    title: 'GET with TE: trailers; the inner app answers with a trailers token',
    request: { path: '/probe/trailers', headers: [['te', 'trailers']] },
    app: () => (environ, startResponse) =>
      sendWithTrailers(environ, startResponse, { headers: text, names: ['x-probe-sum'], body: ['a', 'b'], trailers: () => [['x-probe-sum', 'ab']] }),
    verify: verifyEscape,
  },
  {
    name: 'push',
    title: 'HTTP/2 with push allowed; the inner app associates /probe.css with a 200',
    request: { path: '/probe/push', protocol: 'HTTP/2', features: { push: true } },
    app: () => (environ, startResponse) => {
      startResponse(200, [['content-type', 'text/html'], ...associate(environ, [{ path: '/probe.css', as: 'style' }])]);
      return ['<link rel=stylesheet href=/probe.css>'];
    },
  },
  {
    name: 'length',
    title: 'GET; 200 with an explicit Content-Length',
    request: { path: '/probe/length' },
    app: () => (_environ, startResponse) => {
      startResponse(200, [...text, ['content-length', '10']]);
      return ['0123456789'];
    },
  },
];

// The server's own recognition (hatchway/testing runs the real one): what reached it.
function verifyEscape(res: TestResponse, ctx: ProbeContext): void {
  const situation = res.escape?.situation;
  if (situation === 'body-altered') ctx.report({ rule: 'HW-ESC-02', message: `the server found the ${res.escape!.kind} control field with an altered body (situation body-altered: the client got ${res.status})` });
  if (situation === 'header-dropped') ctx.report({ rule: 'HW-ESC-03', message: `the server found a ${res.escape!.kind} token body without its control field (situation header-dropped: the client got ${res.status})` });
  if (situation === 'not-issued') ctx.report({ rule: 'HW-ESC-03', message: `the server found a control field naming no token of this request (situation not-issued: the client got ${res.status})` });
}

/** The probe with this name. */
export function probeByName(name: string): Probe {
  const found = PROBES.find((p) => p.name === name);
  if (found === undefined) throw new TypeError(`unknown conformance probe '${name}'`);
  return found;
}
