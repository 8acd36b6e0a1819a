/**
 * nghttp2's own clients against the one-port server: nghttp prints every frame, h2load drives
 * load over h2c and TLS on the same port.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { App } from '../../src/index.ts';
import { start } from '../fixtures/server.ts';
import { testCert } from '../fixtures/tls.ts';

const cert = testCert();
const tls = { cert: cert.cert, key: cert.key };

/** Runs a peer binary to completion (killed at teardown, and after 30 s in any case). */
function run(t: Test, command: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    t.teardown(() => {
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const app: App = (environ, startResponse) =>
  (async function* () {
    const body = await environ.input.bytes();
    startResponse(200, [['content-type', 'text/plain'], ['x-protocol', environ.protocol]]);
    yield `${environ.scheme} ${environ.method} ${environ.target} ${body.byteLength}\n`;
  })();

t.test('nghttp sees our SETTINGS limits, the response and END_STREAM, over h2c and TLS', async (t) => {
  const { port } = await start(t, app, { tls });
  for (const url of [`http://127.0.0.1:${port}/frames`, `https://127.0.0.1:${port}/frames`]) {
    const { code, out } = await run(t, 'nghttp', ['-nv', '-y', url]);
    t.equal(code, 0, url);
    t.match(out, /SETTINGS_MAX_CONCURRENT_STREAMS\(0x03\):100/);
    t.match(out, /SETTINGS_MAX_HEADER_LIST_SIZE\(0x06\):16384/);
    t.match(out, /recv \(stream_id=13\) :status: 200/);
    t.match(out, /recv \(stream_id=13\) x-protocol: HTTP\/2/);
    t.match(out, /recv DATA frame <length=\d+, flags=0x01, stream_id=13>\s+; END_STREAM/);
    t.notMatch(out, /GOAWAY frame <[^>]*>\s+\(last_stream_id=\d+, error_code=(?!NO_ERROR)/, 'no GOAWAY with an error');
  }
});

t.test('nghttp uploads a request body over h2c', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hatchway-nghttp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'body.bin');
  writeFileSync(file, Buffer.alloc(100_000, 0x62));
  const { port } = await start(t, app);
  const { code, out } = await run(t, 'nghttp', ['-v', '-d', file, `http://127.0.0.1:${port}/upload`]);
  t.equal(code, 0);
  t.match(out, /http POST \/upload 100000/);
});

t.test('h2load completes every request over h2c and over TLS on one port', async (t) => {
  const { port } = await start(t, app, { tls });
  for (const url of [`http://127.0.0.1:${port}/load`, `https://127.0.0.1:${port}/load`]) {
    const { code, out } = await run(t, 'h2load', ['-n', '400', '-c', '4', '-m', '10', url]);
    t.equal(code, 0, url);
    t.match(out, /requests: 400 total, 400 started, 400 done, 400 succeeded, 0 failed, 0 errored/, url);
    t.match(out, /status codes: 400 2xx/);
  }
  const { out } = await run(t, 'h2load', ['--h1', '-n', '200', '-c', '4', `http://127.0.0.1:${port}/load`]);
  t.match(out, /200 succeeded, 0 failed/, 'and HTTP/1.1 on the same port');
});
