/**
 * The bench runner's CI smoke run: `node bench/run.ts --quick --json` starts every contender of
 * every scenario, checks its answer (status and body) and drives it with a handful of requests.
 * Nothing is asserted about speed. The runner and everything it started share one process
 * group, killed in teardown whatever happened.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface Report {
  scenarios: { id: string; contenders: { name: string; started: boolean; answered: boolean; error?: string }[]; rows?: Record<string, unknown>[] }[];
}

t.test('every contender of every bench scenario starts and answers (bench --quick)', async (t) => {
  // Coverage of the servers' runs would count code that no test asserts on: leave it out.
  const env = { ...process.env };
  delete env.NODE_V8_COVERAGE;
  const child = spawn(process.execPath, ['bench/run.ts', '--quick', '--json'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  t.equal(code, 0, `the runner exits 0\n${err.slice(-3000)}`);
  const report = JSON.parse(out) as Report;
  t.ok(report.scenarios.length >= 19, 'every scenario ran');
  for (const s of report.scenarios) {
    for (const c of s.contenders) {
      t.ok(c.started, `${s.id}: ${c.name} started`);
      t.ok(c.answered && c.error === undefined, `${s.id}: ${c.name} answered${c.error ? `: ${c.error}` : ''}`);
    }
    for (const row of s.rows ?? []) {
      if ('started' in row) t.ok(row.started, `${s.id}: ${String(row.name)} started`);
      if ('answered' in row) t.ok(row.answered, `${s.id}: ${String(row.name)} answered`);
    }
  }
});
