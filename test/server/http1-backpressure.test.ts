/**
 * Backpressure end to end: a 1 GiB streamed response to a reader that is slow at first. The
 * producer must stay within a bounded distance of what the client has received, and the
 * server's memory must not grow with the size of the response. The reader runs in its own
 * process (test/fixtures/slow-reader.ts) so that only the server's memory is measured here.
 */
import t from 'tap';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { App } from '../../src/gateway/types.ts';
import { start } from '../fixtures/server.ts';
import { sleep } from '../fixtures/clients.ts';

const CHUNK = 64 * 1024;
const TOTAL = 1024 * 1024 * 1024;
const CHUNKS = TOTAL / CHUNK;
const MiB = 1024 * 1024;
/**
 * How far the producer may run ahead of the client: the kernel's loopback socket buffers
 * (send up to 4 MiB, receive autotuned), node's stream buffers on both sides, and a chunk in
 * flight. An unbounded producer is hundreds of MiB ahead by the end of the slow phase.
 */
const MAX_AHEAD = 24 * MiB;
const MAX_RSS_GROWTH = 100 * MiB;
const READER = fileURLToPath(new URL('../fixtures/slow-reader.ts', import.meta.url));

// V8 collects external memory lazily (roughly 64 MiB of dead Buffers at a time), so without a
// collection now and then RSS would measure the collector's policy, not the server. A forced
// collection frees garbage only: chunks the server still holds stay, and would show.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const GC_EVERY = 128; // chunks: 8 MiB

interface ReaderMessage {
  op: 'head' | 'sipped' | 'done' | 'error';
  status?: number;
  te?: string;
  received?: number;
  badByte?: number;
  message?: string;
}

/** The next message from the reader (bounded by `timeout`). */
function next(child: ChildProcess, timeout = 30_000): Promise<ReaderMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the reader did not answer')), timeout);
    child.once('message', (message: ReaderMessage) => {
      clearTimeout(timer);
      resolve(message);
    });
  });
}

t.test('a 1 GiB response to a slow reader keeps the producer bounded and memory flat', async (t) => {
  let produced = 0;
  let closes = 0;
  const app: App = (_environ, startResponse) => {
    startResponse(200, [['content-type', 'application/octet-stream']]);
    return {
      async *[Symbol.asyncIterator]() {
        for (let i = 0; i < CHUNKS; i++) {
          if (i % GC_EVERY === 0) gc();
          // A fresh, fully written chunk each time: buffering them would cost real memory.
          const chunk = Buffer.allocUnsafe(CHUNK).fill(i & 0xff);
          produced += CHUNK;
          yield chunk;
        }
      },
      close: () => closes++,
    };
  };
  const { url } = await start(t, app);

  gc();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  t.teardown(() => clearInterval(sampler));

  const child = fork(READER, [url, String(CHUNK)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const head = await next(child);
  t.equal(head.op, 'head');
  t.equal(head.status, 200);
  t.equal(head.te, 'chunked');

  // Slow phase: short sips with pauses between them, then a full stop.
  let maxAhead = 0;
  let received = 0;
  for (let i = 0; i < 40; i++) {
    child.send({ op: 'sip' });
    const sip = await next(child);
    received = sip.received!;
    maxAhead = Math.max(maxAhead, produced - received);
    await sleep(25);
    maxAhead = Math.max(maxAhead, produced - received);
  }
  await sleep(500);
  maxAhead = Math.max(maxAhead, produced - received);
  t.ok(maxAhead <= MAX_AHEAD, `the producer stays at most ${MAX_AHEAD / MiB} MiB ahead of the reader (max ${(maxAhead / MiB).toFixed(1)} MiB)`);
  t.ok(produced < TOTAL / 4, `the producer is held far from the end (${(produced / MiB).toFixed(1)} MiB of 1024)`);
  t.comment(`slow phase: received ${(received / MiB).toFixed(1)} MiB, produced ${(produced / MiB).toFixed(1)} MiB`);

  // Fast phase: read everything.
  child.send({ op: 'fast' });
  const done = await next(child, 50_000);
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  t.equal(done.op, 'done', done.message ?? 'the reader reaches the end');
  t.equal(done.received, TOTAL, 'every byte arrives');
  t.equal(done.badByte, -1, 'the bytes are the ones produced, in order');
  t.ok(peak - baseline < MAX_RSS_GROWTH, `the server's RSS grew by ${((peak - baseline) / MiB).toFixed(1)} MiB (< ${MAX_RSS_GROWTH / MiB} MiB)`);
  await sleep(20);
  t.equal(closes, 1, 'the body is closed once');
  child.disconnect();
});
