// Renders docs/CHECKLIST.md from the rules (src/conformance/rules.ts). `npm run checklist`
// writes it; test/conformance/checklist.test.ts fails when the two differ.
import { writeFileSync } from 'node:fs';
import { renderChecklist } from '../src/conformance/report.ts';

export const CHECKLIST = new URL('../docs/CHECKLIST.md', import.meta.url);

if (import.meta.main) {
  writeFileSync(CHECKLIST, renderChecklist());
  console.log('docs/CHECKLIST.md: rendered from src/conformance/rules.ts');
}
