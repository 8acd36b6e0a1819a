/**
 * HTTP/1.1 floods (issue 14) on raw sockets: chunk extensions, and pipelined requests from a
 * client that never reads. Each asserts the exact answer, bounded time and memory, that the
 * next client is answered and that nothing is left open.
 */
import t, { type Test } from 'tap';
import { asyncApp } from '../../src/gateway/compose.ts';
import { liveRegistrations } from '../../src/index.ts';
import type { Server } from '../../src/server/index.ts';
import { start } from '../fixtures/server.ts';
import { RawClient, request, sleep } from '../fixtures/clients.ts';

async function clean(t: Test, server: Server): Promise<void> {
  for (let i = 0; i < 150 && (server.connections > 0 || server.inFlight > 0); i++) await sleep(20);
  t.equal(server.connections, 0, 'no socket is left');
  t.equal(server.inFlight, 0, 'no exchange is left');
  t.equal(liveRegistrations(), 0, 'no registration is left');
}

/** Reads the whole body, answers with its length. */
const reader = () => {
  const seen = { calls: 0, bodies: [] as number[], failed: 0 };
  const app = asyncApp(async (environ, startResponse) => {
    seen.calls++;
    try {
      seen.bodies.push((await environ.input.bytes(1 << 20)).length);
    } catch {
      seen.failed++;
      throw new Error('body failed');
    }
    startResponse(200, [['content-type', 'text/plain']]);
    return [`read ${seen.bodies.at(-1)}`];
  });
  return { app, seen };
};

t.test('chunk extensions: over 16 KiB on one chunk is 413 (node:http\'s limit); many small ones are parsed and dropped', async (t) => {
  const { app, seen } = reader();
  const { port, server, url } = await start(t, app);
  // One chunk whose extension is 100 KB: llhttp's HPE_CHUNK_EXTENSIONS_OVERFLOW (CVE-2024-22019).
  const one = await RawClient.connect(t, port);
  one.write(`POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;${'a'.repeat(100_000)}\r\nx\r\n0\r\n\r\n`);
  t.ok(await one.untilClosed(), 'closed');
  t.match(one.received, /^HTTP\/1\.1 413 [^\r]*\r\nConnection: close\r\n/, 'as node:http answers it');
  t.same(seen.bodies, [], 'the body never completed');
  // 2 000 chunks with a 1 000-byte extension each (2 MB of extensions, each under the per-chunk
  // limit): the limit is per chunk, nothing of them is kept, the body arrives whole.
  const many = await RawClient.connect(t, port);
  many.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n');
  const ext = `;${'e'.repeat(999)}`;
  const chunk = `1${ext}\r\nx\r\n`.repeat(100);
  global.gc?.();
  const before = process.memoryUsage().rss;
  const began = performance.now();
  for (let i = 0; i < 20; i++) many.write(chunk);
  many.write('0\r\n\r\n');
  t.ok(await many.untilClosed(), 'answered and closed');
  t.match(many.received, /^HTTP\/1\.1 200 [^]*read 2000/, 'the 2 000-byte body is read');
  const grew = (process.memoryUsage().rss - before) / 2 ** 20;
  t.ok(performance.now() - began < 3_000, `in ${(performance.now() - began).toFixed(0)} ms`);
  t.ok(grew < 32, `RSS grew ${grew.toFixed(1)} MiB`);
  t.equal((await request(`${url}/after`, { method: 'POST', body: 'abc' })).body.toString(), 'read 3', 'the next client is answered');
  await clean(t, server);
});

t.test('a pipelining flood from a client that never reads is cut by sendTimeout', async (t) => {
  let calls = 0;
  let inApp = 0;
  let mostInApp = 0;
  const body = 'y'.repeat(1024);
  const app = asyncApp(async (_environ, startResponse) => {
    calls++;
    mostInApp = Math.max(mostInApp, ++inApp);
    await sleep(1);
    inApp--;
    startResponse(200, [['content-type', 'text/plain'], ['content-length', String(body.length)]]);
    return [body];
  });
  const { port, server, url, logs } = await start(t, app, { sendTimeout: 500 });
  const client = await RawClient.connect(t, port);
  client.socket.pause(); // never reads
  const N = 5_000;
  global.gc?.();
  const before = process.memoryUsage();
  const began = Date.now();
  client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(N));
  let mostInFlight = 0;
  await sleep(50);
  while (server.connections > 0 && Date.now() - began < 8_000) {
    mostInFlight = Math.max(mostInFlight, server.inFlight);
    await sleep(10);
  }
  const after = process.memoryUsage();
  const took = Date.now() - began;
  t.equal(server.connections, 0, `the server cut the connection after ${took} ms`);
  t.ok(took < 5_000, 'within sendTimeout plus the parse');
  t.ok(logs.some((l) => l.includes('send deadline')), 'the send deadline is logged');
  t.ok(calls <= N, `${calls} of ${N} pipelined requests reached the app, at most ${mostInApp} at once, ${mostInFlight} exchanges open at once`);
  const grew = (after.rss - before.rss) / 2 ** 20;
  // Linear in the requests parsed: about 26 KiB per pipelined exchange held at once (5 000 here).
  t.ok(grew < 256, `RSS grew ${grew.toFixed(1)} MiB (arrayBuffers ${((after.arrayBuffers - before.arrayBuffers) / 2 ** 20).toFixed(1)} MiB)`);
  // node:http dispatches every request it has parsed while the earlier ones are unanswered
  // (it pauses the socket only once answered bytes pile up); hatchway runs at most 16 of one
  // connection at once (MAX_PIPELINE in src/server/http1.ts), as nginx and gunicorn queue them.
  t.ok(mostInApp <= 16, `pipelined requests run the app 16 at a time at most (${mostInApp} seen)`);
  t.equal((await request(`${url}/after`)).status, 200, 'the next client is answered');
  await clean(t, server);
});
