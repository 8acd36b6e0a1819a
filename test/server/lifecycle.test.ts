/**
 * The request lifecycle and the environ builder in memory: what every front-end (HTTP/1.x,
 * HTTP/2 streams, pushed requests) relies on, without sockets.
 */
import t from 'tap';
import { EventEmitter } from 'node:events';
import type { App, Environ, HeaderList } from '../../src/index.ts';
import type { ResponseSink } from '../../src/host.ts';
import { nextRequestId } from '../../src/gateway/request-id.ts';
import { buildEnviron, type RequestFields } from '../../src/server/environ.ts';
import { InFlight, RequestLifecycle, installOptions } from '../../src/server/lifecycle.ts';

const EMPTY = { length: 0, read: async () => null, bytes: async () => new Uint8Array(0), text: async () => '', async *[Symbol.asyncIterator]() {} };

function fields(signal: AbortSignal, over: Partial<RequestFields> = {}): RequestFields {
  return {
    method: 'GET',
    scheme: 'http',
    target: '/a%20b?x=1',
    protocol: 'HTTP/1.1',
    authority: 'example.test',
    headers: [['host', 'example.test']],
    streamId: undefined,
    input: EMPTY,
    features: { push: false, trailers: false, websocket: false, earlyHints: true },
    signal,
    ...over,
  };
}

function memorySink(out: string[], throwOn?: string): ResponseSink {
  return {
    closed: false,
    head(status: number, _reason: string | undefined, _headers: HeaderList) {
      if (throwOn === 'head') throw new Error('sink bug');
      out.push(`head ${status}`);
    },
    write: (chunk) => (out.push(`write ${String(chunk)}`), true),
    drained: () => Promise.resolve(),
    end: (chunk) => void out.push(`end ${chunk === undefined ? '' : String(chunk)}`),
    file: async () => {},
    abort: () => void out.push('abort'),
  };
}

const host = (lines: string[], app: App) => ({ app, log: (line: string) => lines.push(line), nextId: nextRequestId });

t.test('buildEnviron makes one shape on every path, splitting the target and taking an id', async (t) => {
  const lines: string[] = [];
  const peer = { remoteAddress: '10.0.0.1', remotePort: 4000, localAddress: '10.0.0.2', localPort: 80 };
  const signal = new AbortController().signal;
  const h1 = buildEnviron(host(lines, () => []), peer, fields(signal));
  const h2 = buildEnviron(host(lines, () => []), {}, fields(signal, { protocol: 'HTTP/2', streamId: 1 }));
  t.same(Object.keys(h1), Object.keys(h2), 'the same fields in the same order');
  t.equal(h1.pathInfo, '/a b');
  t.equal(h1.queryString, 'x=1');
  t.equal(h1.scriptName, '');
  t.equal(h1.remoteAddress, '10.0.0.1');
  t.equal(h2.remoteAddress, '', 'an unknown address is the empty string');
  t.equal(h2.localPort, 0);
  t.not(h1.requestId, h2.requestId);
  h1.errors.write('one\ntwo');
  t.same(lines, [`[hatchway ${h1.requestId}] one\n[hatchway ${h1.requestId}] two`]);
  // A malformed %-escape keeps its raw form; the runner answers 400 unless the app takes raw paths (SPEC §2.2).
  t.equal(buildEnviron(host(lines, () => []), peer, fields(signal, { target: '/%zz' })).pathInfo, '/%zz', 'a malformed target keeps its raw path');
  t.throws(() => buildEnviron(host(lines, () => []), peer, fields(signal, { target: '/a%00b' })), { code: 'ERR_HATCHWAY_BAD_PATH' }, 'a NUL is refused before any app');
});

t.test('a lifecycle releases once and aborts only when the response did not finish', async (t) => {
  let released = 0;
  const register: App = (environ, startResponse) => {
    (environ['hatchway.trailers'] as (r: unknown) => string)({ body: [], trailers: () => [], onRelease: () => released++ });
    startResponse(200, []);
    return ['ok'];
  };
  for (const finished of [true, false]) {
    const lines: string[] = [];
    const out: string[] = [];
    const lifecycle = new RequestLifecycle();
    const environ: Environ = buildEnviron(host(lines, register), {}, fields(lifecycle.signal));
    lifecycle.serve(host(lines, register), environ, memorySink(out), installOptions('HTTP/1', false, true, false, true));
    t.same(out, ['head 200', 'write ok', 'end '], 'the app ran into the sink');
    lifecycle.closed(finished);
    lifecycle.closed(finished);
    lifecycle.release();
    t.equal(released, 1, 'released exactly once');
    t.equal(environ.signal.aborted, !finished, finished ? 'a finished response is not aborted' : 'an unfinished one is');
    released = 0;
  }
});

t.test('a throwing sink fails its request only: logged, aborted, never thrown', async (t) => {
  const lines: string[] = [];
  const out: string[] = [];
  const lifecycle = new RequestLifecycle();
  const app: App = (_environ, startResponse) => {
    startResponse(200, []);
    return ['x'];
  };
  const environ = buildEnviron(host(lines, app), {}, fields(lifecycle.signal));
  t.doesNotThrow(() => lifecycle.serve(host(lines, app), environ, memorySink(out, 'head'), installOptions('HTTP/1', false, false, false, false)));
  t.same(out, ['abort']);
  t.match(lines.join('\n'), /sink bug/);
});

t.test('install options are shared, frozen and say what the request can have', async (t) => {
  const a = installOptions('HTTP/2', true, true, false, true);
  t.equal(a, installOptions('HTTP/2', true, true, false, true), 'no object per request');
  t.same(a, { protocol: 'HTTP/2', eligible: { websocket: true, trailers: true, push: false }, earlyHints: true });
  t.ok(Object.isFrozen(a) && Object.isFrozen(a.eligible));
  t.equal(installOptions('HTTP/1', false, false, false, false).protocol, 'HTTP/1');
});

t.test('InFlight counts exchanges until their close and resolves idle()', async (t) => {
  const inFlight = new InFlight();
  await inFlight.idle();
  const a = new EventEmitter();
  const b = new EventEmitter();
  inFlight.track(a);
  inFlight.track(b);
  t.equal(inFlight.size, 2);
  let idle = false;
  const done = inFlight.idle().then(() => (idle = true));
  a.emit('close');
  a.emit('close');
  await Promise.resolve();
  t.equal(inFlight.size, 1);
  t.notOk(idle, 'a second close of one exchange does not count another');
  b.emit('close');
  await done;
  t.equal(inFlight.size, 0);
});
