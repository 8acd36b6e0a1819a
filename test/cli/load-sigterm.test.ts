/**
 * Graceful shutdown under load (issue 14): `hatchway serve` of a small app in a child process,
 * clients issuing thousands of requests over HTTP/1.1 keep-alive and h2c (many streams per
 * session), SIGTERM after about a second. Asserted: every response a client got is complete;
 * the app saw exactly as many requests as complete responses came back (every request the
 * server accepted was answered); every other request failed in a retryable way (connection
 * refused or reset before any response byte, REFUSED_STREAM, or a GOAWAY that excluded it);
 * the process exits 0.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { within } from '../fixtures/clients.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const BIN = join(ROOT, 'bin', 'hatchway.js');
const SIZE = 4096;

/** Counts every request it starts; answers SIZE bytes after 0-20 ms, in two chunks. */
const APP = `
import { writeSync } from 'node:fs';
let seen = 0;
process.on('exit', () => writeSync(1, 'app saw ' + seen + '\\n'));
export default (environ, startResponse) => {
  seen++;
  return {
    async *[Symbol.asyncIterator]() {
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 20)));
      startResponse(200, [['content-type', 'text/plain'], ['content-length', '${SIZE}']]);
      yield 'a'.repeat(${SIZE / 2});
      await new Promise((resolve) => setImmediate(resolve));
      yield 'b'.repeat(${SIZE / 2});
    },
  };
};
`;

interface Tally {
  complete: number;
  truncated: string[];
  retryable: Record<string, number>;
}

function tally(): Tally {
  return { complete: 0, truncated: [], retryable: {} };
}

const bump = (t: Tally, why: string) => (t.retryable[why] = (t.retryable[why] ?? 0) + 1);

/** One HTTP/1.1 request; classifies how it ended. */
function h1(agent: http.Agent, port: number, out: Tally): Promise<'ok' | 'stop'> {
  return new Promise((resolve) => {
    let gotHead = false;
    const req = http.get({ host: '127.0.0.1', port, path: '/h1', agent }, (res) => {
      gotHead = true;
      let n = 0;
      res.on('data', (d: Buffer) => (n += d.length));
      res.on('end', () => {
        if (res.statusCode === 200 && n === SIZE && res.complete) out.complete++;
        else out.truncated.push(`h1 ${res.statusCode} ${n} bytes`);
        resolve('ok');
      });
      res.on('error', () => {
        out.truncated.push(`h1 aborted after ${n} bytes`);
        resolve('ok');
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (gotHead) return; // the response's own error handles it
      // No response byte: the server never accepted it (refused) or closed an idle
      // keep-alive connection as the request went out (reset / hang up) — safe to retry.
      bump(out, `h1 ${err.code ?? err.message}`);
      resolve(err.code === 'ECONNREFUSED' ? 'stop' : 'ok');
    });
  });
}

/** One h2c stream on `session`; classifies how it ended. */
function h2(session: http2.ClientHttp2Session, out: Tally): Promise<'ok' | 'stop'> {
  return new Promise((resolve) => {
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request({ ':path': '/h2' });
    } catch (err) {
      bump(out, `h2 ${(err as NodeJS.ErrnoException).code}`);
      return resolve('stop');
    }
    let status = 0;
    let n = 0;
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (d: Buffer) => (n += d.length));
    stream.on('end', () => {
      if (status === 200 && n === SIZE) out.complete++;
      else out.truncated.push(`h2 ${status} ${n} bytes`);
      resolve('ok');
    });
    let errored = false;
    stream.on('error', (err: NodeJS.ErrnoException) => {
      errored = true;
      if (status !== 0) {
        out.truncated.push(`h2 ${err.code} after the head, ${n} bytes`);
        return resolve('ok');
      }
      // REFUSED_STREAM, or a stream above the GOAWAY's last-stream-id: never processed.
      const code = stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM ? 'REFUSED_STREAM' : (err.code ?? err.message);
      bump(out, `h2 ${code}`);
      resolve('stop');
    });
    stream.on('close', () => {
      if (status === 0 && n === 0 && stream.rstCode !== undefined && stream.listenerCount('error') > 0 && !errored) {
        // Closed without an error event (e.g. GOAWAY'd before it was sent).
        bump(out, `h2 closed rst=${stream.rstCode}`);
        resolve('stop');
      }
    });
    stream.end();
  });
}

t.test('SIGTERM in the middle of HTTP/1.1 and h2c load: everything accepted is answered whole, exit 0', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hatchway-load-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'app.mjs');
  await writeFile(file, APP);
  const child = spawn(NODE, [BIN, 'serve', file, '--port', '0', '--graceful-timeout', '10000'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await within(
    new Promise<string>((resolve) => child.stdout.on('data', () => stdout.match(/serving \S+ on (http:\/\/127\.0\.0\.1:\d+)/)?.[1] && resolve(stdout.match(/on (http:\/\/\S+)/)![1]!))),
    15_000,
  );
  t.ok(url, `listening (${stderr})`);
  if (!url) return;
  const port = Number(new URL(url).port);

  const one = tally();
  const two = tally();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  t.teardown(() => agent.destroy());
  const stopAt = Date.now() + 12_000; // a hard bound on the client loops
  let terminated = false;

  // HTTP/1.1: 16 keep-alive connections, one request at a time each, until refused.
  const h1Loops = Array.from({ length: 16 }, async () => {
    while (Date.now() < stopAt) if ((await h1(agent, port, one)) === 'stop') return;
  });
  // h2c: sessions of 40 concurrent streams; a new session when one goes away, until refused.
  const sessions: http2.ClientHttp2Session[] = [];
  t.teardown(() => sessions.forEach((s) => s.destroy()));
  const h2Loops = Array.from({ length: 4 }, async () => {
    while (Date.now() < stopAt) {
      const session = http2.connect(url);
      sessions.push(session);
      const up = await new Promise<boolean>((resolve) => {
        session.once('connect', () => resolve(true));
        session.once('error', (err: NodeJS.ErrnoException) => {
          bump(two, `h2 connect ${err.code}`);
          resolve(false);
        });
      });
      if (!up) return;
      session.on('error', () => {});
      await Promise.all(
        Array.from({ length: 40 }, async () => {
          while (Date.now() < stopAt && !session.closed && !session.destroyed) if ((await h2(session, two)) === 'stop') return;
        }),
      );
      session.close();
      if (terminated) return; // a fresh session after SIGTERM would only be refused
    }
  });

  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const before = one.complete + two.complete;
  child.kill('SIGTERM');
  terminated = true;
  await Promise.all([...h1Loops, ...h2Loops]);
  const code = await within(exited, 15_000);

  const seen = Number(stdout.match(/app saw (\d+)/)?.[1] ?? NaN);
  const complete = one.complete + two.complete;
  t.equal(code, 0, 'the server exits 0');
  t.ok(before > 500, `${before} responses before SIGTERM`);
  t.ok(one.complete > 100 && two.complete > 100, `HTTP/1.1 ${one.complete}, h2c ${two.complete} complete responses`);
  t.same([...one.truncated, ...two.truncated], [], 'no response is truncated or aborted');
  t.equal(seen, complete, `the app saw ${seen} requests, the clients got ${complete} complete responses: every accepted request was answered`);
  const retryable = { ...one.retryable, ...two.retryable };
  const allowed = /^(h1 (ECONNREFUSED|ECONNRESET|socket hang up)|h2 (REFUSED_STREAM|ERR_HTTP2_GOAWAY_SESSION|ERR_HTTP2_INVALID_SESSION|ERR_HTTP2_STREAM_CANCEL|closed rst=\d+|connect ECONNREFUSED))$/;
  t.same(
    Object.keys(retryable).filter((k) => !allowed.test(k)),
    [],
    `every other request failed retryably: ${JSON.stringify(retryable)}`,
  );
  t.match(stdout, /hatchway: stopped\n/, 'stopped cleanly');
});
