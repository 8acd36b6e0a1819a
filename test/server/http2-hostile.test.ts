/**
 * Hostile HTTP/2 peers, played by Python's h2 library and raw frames: every one of them must
 * get a refusal or a closed connection, and the server must go on answering.
 */
import t, { type Test } from 'tap';
import type { App } from '../../src/index.ts';
import { nextRequestId } from '../../src/gateway/request-id.ts';
import { H2FrontEnd, type H2Limits } from '../../src/server/http2.ts';
import { Listener } from '../../src/server/listener.ts';
import { curl, sleep } from '../fixtures/clients.ts';
import { h2peer } from '../fixtures/h2.ts';
import { start } from '../fixtures/server.ts';
import { testCert } from '../fixtures/tls.ts';

const cert = testCert();
const tls = { cert: cert.cert, key: cert.key };

const hello: App = (environ, startResponse) => {
  if (environ.pathInfo === '/slow') {
    return (async function* () {
      await sleep(200);
      startResponse(200, [['content-type', 'text/plain']]);
      yield 'slow';
    })();
  }
  startResponse(200, [['content-type', 'text/plain']]);
  return ['hello'];
};

/** The server still answers an ordinary h2c request. */
async function stillAnswers(t: Test, url: string): Promise<void> {
  const res = await curl(t, ['-s', '--http2-prior-knowledge', '-w', ' %{http_version}', `${url.replace('https:', 'http:')}/after`]);
  t.equal(res.stdout, 'hello 2', 'the server goes on answering');
}

t.test('a header list over the limit, sent before the client acknowledged SETTINGS, gets a 431', async (t) => {
  const { port, url } = await start(t, hello, { tls });
  for (const secure of [false, true]) {
    const report = await h2peer(t, port, 'big-headers', [100, 1000], secure);
    t.equal(report.status, 431, secure ? 'over TLS' : 'over h2c');
  }
  t.equal((await h2peer(t, port, 'big-headers', [10, 100])).status, 200, 'a header list under the limit passes');
  await stillAnswers(t, url);
});

t.test('streams beyond maxConcurrentStreams are refused, even before the SETTINGS ACK', async (t) => {
  const { port, url } = await start(t, hello, { maxConcurrentStreams: 100 });
  const report = await h2peer(t, port, 'streams', [150]);
  t.equal(report.served, 100);
  t.equal(report.refused, 50, 'REFUSED_STREAM for the rest');
  t.equal(report.terminated, false);
  await stillAnswers(t, url);
});

t.test('an unknown frame is ignored and a DATA frame on stream 0 gets GOAWAY (PROTOCOL_ERROR)', async (t) => {
  const { port, url } = await start(t, hello);
  const report = await h2peer(t, port, 'bogus-frame');
  t.equal(report.before, 200);
  t.equal(report.afterUnknown, 200, 'RFC 9113 §5.5: unknown frame types are ignored');
  t.match(report.events, [{ event: 'ConnectionTerminated', error_code: 1 }]);
  await stillAnswers(t, url);
});

t.test('a header block dribbled a byte at a time is cut off by headersTimeout', async (t) => {
  const { port, url } = await start(t, hello, { headersTimeout: 500, tls });
  for (const secure of [false, true]) {
    const report = await h2peer(t, port, 'dribble', [0.05], secure);
    t.equal(report.outcome, 'closed', secure ? 'over TLS' : 'over h2c');
    t.ok((report.sent as number) < 4000, `closed after ${String(report.sent)} bytes, long before the block was complete`);
  }
  await stillAnswers(t, url);
});

t.test('a plain CONNECT gets a 501; an extended CONNECT the server did not enable is reset', async (t) => {
  const port = await frontEnd(t, hello, false);
  const plain = await h2peer(t, port, 'connect');
  t.equal(plain.status, 501);
  const extended = await h2peer(t, port, 'connect', ['websocket']);
  t.match(extended.frames, [{ type: 4 }, { type: 4 }, { type: 3, stream: 1, error_code: 1 }], 'RST_STREAM (PROTOCOL_ERROR)');
});

t.test('with the connect protocol enabled, only :protocol websocket reaches the app', async (t) => {
  const seen: { method: string; websocket: boolean }[] = [];
  const port = await frontEnd(
    t,
    (environ, startResponse) => {
      seen.push({ method: environ.method, websocket: environ.features.websocket });
      startResponse(426, [['content-type', 'text/plain']]);
      return ['no websocket here'];
    },
    true,
  );
  const other = await h2peer(t, port, 'connect', ['chat']);
  t.equal(other.status, 501, 'any other :protocol gets a 501');
  const websocket = await h2peer(t, port, 'connect', ['websocket']);
  t.equal(websocket.status, 426);
  t.same(seen, [{ method: 'CONNECT', websocket: true }], 'the app saw one websocket CONNECT');
});

/**
 * The HTTP/2 front-end behind a listener of its own, without the rest of the server and
 * without its escape dependencies: a websocket CONNECT then degrades by the table (426).
 */
async function frontEnd(t: Test, app: App, enableConnectProtocol: boolean): Promise<number> {
  const limits: H2Limits = { maxConcurrentStreams: 100, maxHeaderListSize: 16_384, maxSessionMemory: 10, sessionIdleTimeout: 5_000, headersTimeout: 5_000, requestTimeout: 5_000 };
  const h2 = new H2FrontEnd({ app, log: () => {}, nextId: nextRequestId, track: () => {}, enableConnectProtocol }, limits);
  const listener = new Listener({ cleartext: true, prefaceTimeout: 2_000, http1: (socket) => socket.destroy(), http2: (socket) => h2.accept(socket) });
  const { port } = await listener.listen(0, '127.0.0.1');
  t.teardown(async () => {
    const closed = listener.close();
    h2.destroy();
    listener.destroyAll();
    await closed;
  });
  return port;
}
