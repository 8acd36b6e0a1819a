/**
 * docs/CONFORMANCE.md holds real results: its summary table is what `npm run conformance`
 * produces now, and every npm middleware the issue lists appears with a verdict.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { CONFORMANCE, NPM_SUBJECTS, render, runAll, summaryTable } from '../../scripts/conformance.ts';

const doc = readFileSync(CONFORMANCE, 'utf8');

t.test('every listed npm middleware appears with a verdict and a grade', async (t) => {
  for (const name of ['compression', 'helmet', 'cors', 'morgan', 'express-session', 'body-parser', 'serve-static', 'koa-compress', '@koa/cors', 'hono/compress', 'hono/etag', 'hono/cors', 'hono/secure-headers']) {
    t.ok(NPM_SUBJECTS.some((s) => s.name === name), `${name} is a subject`);
    t.match(doc, new RegExp(`^\\| ${name.replace('/', '\\/')} \\| [^|]+ \\| (pass|\\*\\*fail\\*\\*) \\| (escape-safe|escape-aware|unsafe) \\|`, 'm'), `${name} has a verdict`);
  }
});

t.test('the committed summary is what a fresh run gives (run `npm run conformance` after changing a rule or a middleware)', async (t) => {
  const rows = await runAll();
  const table = summaryTable(rows);
  t.ok(doc.includes(table), 'docs/CONFORMANCE.md summary matches');
  t.match(render(rows), /^# Conformance of bundled and npm middleware/);
  const failing = rows.filter((r) => r.report?.verdict === 'fail');
  for (const row of failing) t.match(doc, new RegExp(`### ${row.subject.name.replace(/[/()]/g, '\\$&')}[\\s\\S]*?\\| HW-`), `${row.subject.name}: the evidence is there`);
});
