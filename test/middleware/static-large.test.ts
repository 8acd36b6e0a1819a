/**
 * A 1 GiB file through the static middleware to a reader that is slow at first, over HTTP/1.1
 * and HTTP/2: the server's memory must not grow with the file. The file is sparse (truncate:
 * no disk is used, its bytes read as zeros); the reader runs in its own process
 * (test/fixtures/slow-reader*.ts) so that only the server's memory is measured here.
 */
import t, { type Test } from 'tap';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { App } from '../../src/index.ts';
import { serveStatic } from '../../middleware/static.ts';
import { start } from '../fixtures/server.ts';
import { sleep } from '../fixtures/clients.ts';

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;
const MAX_RSS_GROWTH = 100 * MiB;
const H1_READER = fileURLToPath(new URL('../fixtures/slow-reader.ts', import.meta.url));
const H2_READER = fileURLToPath(new URL('../fixtures/slow-reader-h2.ts', import.meta.url));

// As in http1-backpressure.test.ts: collect now and then so that RSS measures what the
// server holds, not the collector's policy.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const dir = mkdtempSync(join(tmpdir(), 'hatchway-static-large-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'big.bin'), '');
truncateSync(join(dir, 'big.bin'), GiB);

interface ReaderMessage {
  op: 'head' | 'sipped' | 'done' | 'error';
  status?: number;
  received?: number;
  badByte?: number;
  message?: string;
}

function next(child: ChildProcess, timeout = 30_000): Promise<ReaderMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the reader did not answer')), timeout);
    child.once('message', (message: ReaderMessage) => {
      clearTimeout(timer);
      resolve(message);
    });
  });
}

const notFound: App = (_environ, startResponse) => {
  startResponse(404, [['content-type', 'text/plain']]);
  return ['not found'];
};

async function slowRead(t: Test, reader: string, args: string[]): Promise<void> {
  gc();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  let ticks = 0;
  const sampler = setInterval(() => {
    if (++ticks % 5 === 0) gc();
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  t.teardown(() => clearInterval(sampler));
  const child = fork(reader, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const head = await next(child);
  t.equal(head.op, 'head', head.message ?? 'the response starts');
  t.equal(head.status, 200);
  let received = 0;
  for (let i = 0; i < 40; i++) {
    child.send({ op: 'sip' });
    received = (await next(child)).received!;
    await sleep(25);
  }
  await sleep(300);
  t.ok(received < GiB / 4, `the slow reader got ${(received / MiB).toFixed(1)} MiB in the slow phase`);
  child.send({ op: 'fast' });
  const done = await next(child, 60_000);
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  t.equal(done.op, 'done', done.message ?? 'the reader reaches the end');
  t.equal(done.received, GiB, 'every byte arrives');
  t.equal(done.badByte, -1, 'the bytes are the file’s');
  t.ok(peak - baseline < MAX_RSS_GROWTH, `the server's RSS grew by ${((peak - baseline) / MiB).toFixed(1)} MiB (< ${MAX_RSS_GROWTH / MiB} MiB)`);
  child.disconnect();
}

t.test('a 1 GiB file to a slow HTTP/1.1 reader keeps the server’s memory flat', async (t) => {
  const { url } = await start(t, serveStatic(dir, { fallthrough: false })(notFound));
  // chunk size 2^40: the reader's pattern check then expects zeros throughout
  await slowRead(t, H1_READER, [`${url}/big.bin`, String(2 ** 40)]);
});

t.test('a 1 GiB file to a slow HTTP/2 reader keeps the server’s memory flat', async (t) => {
  const { url } = await start(t, serveStatic(dir, { fallthrough: false })(notFound));
  await slowRead(t, H2_READER, [url, '/big.bin']);
});
