import t from 'tap';
import { readFileSync } from 'node:fs';
import { CHECKLIST } from '../../scripts/checklist.ts';
import { renderChecklist } from '../../src/conformance/report.ts';
import { RULES } from '../../src/conformance/rules.ts';

t.test('docs/CHECKLIST.md is what the rules render', async (t) => {
  t.equal(readFileSync(CHECKLIST, 'utf8'), renderChecklist(), 'run `npm run checklist` after changing src/conformance/rules.ts');
});

t.test('every rule is in the checklist with its id, title and both examples', async (t) => {
  const doc = readFileSync(CHECKLIST, 'utf8');
  for (const rule of RULES) {
    t.ok(doc.includes(`### ${rule.id} — ${rule.title}`), rule.id);
  }
  t.equal(doc.match(/^Passes:$/gm)?.length, RULES.length);
  t.equal(doc.match(/^Fails:$/gm)?.length, RULES.length);
});
