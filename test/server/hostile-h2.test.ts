/**
 * Hostile HTTP/2 peers on raw frames (test/fixtures/py/h2_hostile.py), for issue 14: each case
 * asserts the exact frames the server answered with, that the next client is answered, and
 * that no session, socket, exchange or registration is left.
 */
import t, { type Test } from 'tap';
import type { App } from '../../src/gateway/types.ts';
import { liveRegistrations } from '../../src/index.ts';
import type { Server } from '../../src/server/index.ts';
import { sleep } from '../fixtures/clients.ts';
import { exchange, h2peer, pythonPeer, session } from '../fixtures/h2.ts';
import { start } from '../fixtures/server.ts';

const PEER = new URL('../fixtures/py/h2_hostile.py', import.meta.url).pathname;
const { NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, ENHANCE_YOUR_CALM } = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, ENHANCE_YOUR_CALM: 11 };

interface Report {
  [key: string]: unknown;
  goaways?: [number, number][];
  eof?: boolean;
}

/** Runs the raw-frame peer in `mode`; resolves with its JSON report. */
function hostile(t: Test, port: number, mode: string, args: (string | number)[] = []): Promise<Report> {
  return pythonPeer<Report>(t, PEER, [String(port), mode, ...args.map(String)], 20_000);
}

/** Nothing is left: no session, no connection, no exchange, no registration. */
async function clean(t: Test, server: Server): Promise<void> {
  for (let i = 0; i < 150 && (server.sessions > 0 || server.connections > 0 || server.inFlight > 0); i++) await sleep(20);
  t.equal(server.sessions, 0, 'no session is left');
  t.equal(server.connections, 0, 'no socket is left');
  t.equal(server.inFlight, 0, 'no stream is left');
  t.equal(liveRegistrations(), 0, 'no registration is left');
}

/** The next client gets its answer. */
async function answers(t: Test, url: string): Promise<void> {
  const s = await session(t, url);
  const reply = await exchange(s, { ':path': '/next' });
  t.equal(reply.status, 200, 'the next client is answered');
  s.close();
}

/** An app that records which streams reached it and drains each request body. */
function recording(): { app: App; seen: { id: number; path: string; headers: [string, string][] }[] } {
  const seen: { id: number; path: string; headers: [string, string][] }[] = [];
  const app: App = async function* (environ, startResponse) {
    seen.push({ id: environ.streamId ?? 0, path: environ.pathInfo, headers: [...environ.headers] as [string, string][] });
    try {
      for await (const _ of environ.input);
    } catch {
      // a reset body: answered all the same, the reset wins on the wire
    }
    startResponse(200, [['content-type', 'text/plain']]);
    yield 'ok';
  };
  return { app, seen };
}

t.test('a content-length mismatch resets that stream alone (PROTOCOL_ERROR); its sibling is answered', async (t) => {
  const { app } = recording();
  const { server, port, url } = await start(t, app);
  const report = await hostile(t, port, 'cl-mismatch');
  t.equal(report.first, `rst:${PROTOCOL_ERROR}`, 'RST_STREAM PROTOCOL_ERROR on the lying stream (RFC 9113 §8.1.1)');
  t.equal(report.sibling, 200, 'the sibling stream on the same connection is answered');
  t.equal(report.after, 200, 'and so is a stream opened after it');
  t.same(report.goaways, undefined);
  await answers(t, url);
  await clean(t, server);
});

t.test('after a rapid-reset GOAWAY no stream above its last-stream-id reaches the app', async (t) => {
  const { app, seen } = recording();
  // A high stream limit, so that the reset budget rather than Node's rejected-stream count trips.
  const { server, port, url } = await start(t, app, { maxConcurrentStreams: 1000 });
  const report = await hostile(t, port, 'rapid-reset', [1500, 40, 200]);
  const [first] = report.goaways ?? [];
  t.ok(first, 'the server sent GOAWAY');
  t.equal(first![1], ENHANCE_YOUR_CALM, 'GOAWAY ENHANCE_YOUR_CALM');
  const highest = Math.max(0, ...seen.map((s) => s.id));
  t.ok(highest <= first![0], `the app saw streams up to ${highest}, the GOAWAY said ${first![0]}`);
  t.equal(seen.filter((s) => s.path === '/tail').length, 0, 'none of the honest streams sent behind the resets ran');
  t.ok(report.goaways!.every(([last]) => last <= first![0]), `a later GOAWAY never raises the last-stream-id: ${JSON.stringify(report.goaways)}`);
  t.equal(report.eof, true, 'the connection is closed');
  await answers(t, url);
  await clean(t, server);
});

t.test('graceful shutdown sends two GOAWAYs (RFC 9113 §6.8) and serves a stream opened between them', async (t) => {
  let server: Server | undefined;
  const app: App = async function* (environ, startResponse) {
    if (environ.pathInfo === '/shutdown') {
      void server!.close();
      await sleep(300);
    }
    startResponse(200, []);
    yield environ.pathInfo;
  };
  const started = await start(t, app);
  server = started.server;
  const report = await hostile(t, started.port, 'two-phase');
  const [notice, ...rest] = report.goaways ?? [];
  t.same(notice, [2 ** 31 - 1, NO_ERROR], 'first GOAWAY: NO_ERROR, last-stream-id 2^31-1');
  t.ok(rest.length >= 1, 'then the real one after the PING round trip');
  // node:http2 may repeat the final GOAWAY as the session closes; it never changes.
  t.ok(rest.every((g) => g[0] === 3 && g[1] === NO_ERROR), `the real last-stream-id is 3: ${JSON.stringify(rest)}`);
  t.equal(report.pinged, 1, 'the first GOAWAY came with a PING');
  t.equal(report.first, 200, 'the stream in flight finished');
  t.equal(report.between, 200, 'the stream opened between the two GOAWAYs is answered, not refused');
  t.equal(report.eof, true, 'then the connection closes');
  await clean(t, server);
});

t.test('a CONTINUATION flood ends the connection (GOAWAY INTERNAL_ERROR) before the app sees it', async (t) => {
  const { app, seen } = recording();
  const { server, port, url } = await start(t, app);
  const report = await hostile(t, port, 'continuation-flood', [10_000]);
  t.same(report.goaways?.map(([, code]) => code), [INTERNAL_ERROR], 'one GOAWAY INTERNAL_ERROR (nghttp2 caps CONTINUATION frames, CVE-2024-27316)');
  t.equal(report.eof, true);
  t.equal(seen.length, 0, 'the app never ran');
  await answers(t, url);
  await clean(t, server);
});

t.test('PING and SETTINGS floods from a peer that never reads end the connection (GOAWAY INTERNAL_ERROR)', async (t) => {
  const { app } = recording();
  const { server, port, url } = await start(t, app);
  for (const mode of ['ping-flood', 'settings-flood']) {
    const report = await hostile(t, port, mode, [20_000]);
    t.same(report.goaways, [[0, INTERNAL_ERROR]], `${mode}: nghttp2's outbound-queue limit trips (CVE-2019-9512, -9515)`);
    t.equal(report.eof, true, `${mode}: closed`);
  }
  await answers(t, url);
  await clean(t, server);
});

t.test('malformed pseudo-headers and forbidden fields get RST_STREAM PROTOCOL_ERROR; CR/LF/NUL values never reach the app', async (t) => {
  const { app, seen } = recording();
  const { server, port, url } = await start(t, app);
  const report = await hostile(t, port, 'bad-headers');
  const rst = `rst:${PROTOCOL_ERROR}`;
  t.same(report.cases, {
    'no-path': rst,
    'unknown-pseudo': rst,
    'pseudo-after-regular': rst,
    'duplicate-path': rst,
    'status-in-request': rst,
    'uppercase-name': rst,
    'connection-header': rst,
    'te-not-trailers': rst,
    // nghttp2 drops a field whose value holds CR, LF or NUL (RFC 9113 §8.2.1): the request runs without it.
    'crlf-value': 200,
    'lf-value': 200,
    'nul-value': 200,
    'empty-path': rst,
  });
  t.equal(report.after, 200, 'a good stream on the same connection is answered');
  t.same(report.goaways, [], 'the connection lives');
  t.equal(seen.length, 4, 'only the three dropped-field requests and the good one ran');
  t.notOk(
    seen.some((s) => s.headers.some(([name, value]) => name === 'x-a' || /[\r\n\0]/.test(value))),
    'no header with CR, LF or NUL reached the app',
  );
  await answers(t, url);
  await clean(t, server);
});

t.test("CR/LF in the app's own header value is a 500, and never splits the response head", async (t) => {
  const { server, url } = await start(t, (environ, startResponse) => {
    if (environ.pathInfo === '/next') {
      startResponse(200, []);
      return ['ok'];
    }
    startResponse(200, [['x-a', environ.pathInfo === '/lf' ? 'one\nx-b: two' : 'one\r\nx-b: two']]);
    return ['never'];
  });
  const s = await session(t, url);
  for (const path of ['/crlf', '/lf']) {
    const reply = await exchange(s, { ':path': path });
    t.equal(reply.status, 500, path);
    t.equal(reply.headers['x-b'], undefined, 'no injected field');
    t.equal(reply.headers['x-a'], undefined);
  }
  s.close();
  await answers(t, url);
  await clean(t, server);
});

t.test('a stream flood past the limit and a header list over the limit before the SETTINGS ACK leave nothing behind', async (t) => {
  const { app, seen } = recording();
  const slow: App = async function* (environ, startResponse) {
    if (environ.pathInfo === '/slow') await sleep(200);
    yield* app(environ, startResponse) as AsyncIterable<string>;
  };
  const { server, port, url } = await start(t, slow, { maxConcurrentStreams: 100 });
  const flood = await h2peer(t, port, 'streams', [150]);
  t.equal(flood.served, 100);
  t.equal(flood.refused, 50, 'REFUSED_STREAM for the rest');
  const big = await h2peer(t, port, 'big-headers', [100, 1000]);
  t.equal(big.status, 431);
  t.equal(seen.filter((s) => s.path === '/big').length, 0, 'the oversized request never ran');
  await answers(t, url);
  await clean(t, server);
});
