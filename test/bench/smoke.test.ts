/**
 * The bench runner's CI smoke run: `node bench/run.ts --quick --json` starts every contender of
 * every scenario, checks its answer (status and body) and drives it with a handful of requests.
 * Nothing is asserted about speed. The runner and everything it started share one process
 * group, killed in teardown whatever happened (test/fixtures/cli.ts).
 */
import t from 'tap';
import { hatchway } from '../fixtures/cli.ts';

interface Report {
  scenarios: { id: string; contenders: { name: string; started: boolean; answered: boolean; error?: string }[]; rows?: Record<string, unknown>[] }[];
}

t.test('every contender of every bench scenario starts and answers (bench --quick)', async (t) => {
  // Coverage of the servers' runs would count code that no test asserts on: leave it out.
  const env = { ...process.env };
  delete env.NODE_V8_COVERAGE;
  const run = hatchway(t, ['--quick', '--json'], { script: 'bench/run.ts', env });
  const { code } = await run.exited;
  const stdout = run.child.stdout!;
  if (!stdout.readableEnded) await new Promise((resolve) => stdout.once('end', resolve)); // the whole report
  t.equal(code, 0, `the runner exits 0\n${run.stderr().slice(-3000)}`);
  const report = JSON.parse(run.stdout()) as Report;
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
