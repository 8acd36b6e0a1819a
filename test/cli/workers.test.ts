/**
 * `hatchway serve --workers N`: N processes on one port, a dead worker replaced, a graceful
 * stop on SIGTERM with exit 0. Runs the real CLI with the pinned node.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const BIN = join(ROOT, 'bin', 'hatchway.js');

/** One request on a fresh connection: the pid of the worker that answered. */
function pid(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += String(d)));
      res.on('end', () => resolve(Number(body)));
    });
    req.on('error', reject);
    // A connection handed to the worker that was just killed gets no answer: give up on it.
    req.setTimeout(2_000, () => req.destroy(new Error('no answer')));
    req.end();
  });
}

async function until<T>(probe: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}

t.test('workers share the port, a dead one is replaced, SIGTERM stops them all with exit 0', async (t) => {
  // Its own process group, so teardown can take the workers down with the primary.
  const child = spawn(NODE, [BIN, 'serve', 'examples/pid.ts', '--workers', '2', '--port', '0'], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  const port = await until(() => {
    const m = /on http:\/\/127\.0\.0\.1:(\d+) with 2 workers/.exec(out);
    return m ? Number(m[1]) : undefined;
  });
  t.ok(port, `the primary announced the port (stdout: ${out}${err})`);
  const pids = new Set<number>();
  for (let i = 0; i < 20 && pids.size < 2; i++) pids.add(await pid(port!));
  t.equal(pids.size, 2, 'two worker processes answered');
  t.notOk(pids.has(child.pid!), 'the primary serves nothing itself');

  const [victim] = [...pids];
  process.kill(victim!, 'SIGKILL');
  const replaced = await until(async () => {
    const p = await pid(port!).catch(() => undefined);
    return p !== undefined && !pids.has(p) ? p : undefined;
  }, 40_000);
  t.ok(replaced, 'a new worker answers after one died');
  t.match(err, new RegExp(`worker ${victim} died`));

  process.kill(child.pid!, 'SIGTERM');
  t.equal(await exited, 0);
  t.match(out, /stopping 2 workers gracefully[\s\S]*stopped/);
});
