// Renders the degrade table (src/escapes/degrade.ts) into docs/SPEC.md between its markers.
// `npm run spec:table` writes it; test/docs/spec.test.ts fails when the two differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderDegradeTable } from '../src/escapes/degrade.ts';

export const SPEC = new URL('../docs/SPEC.md', import.meta.url);
const START = '<!-- degrade-table:start -->\n';
const END = '\n<!-- degrade-table:end -->';

/** The SPEC text with the block between the markers replaced by the rendered table. */
export function withTable(spec: string): string {
  const from = spec.indexOf(START);
  const to = spec.indexOf(END);
  if (from === -1 || to === -1) throw new Error('docs/SPEC.md lacks the degrade-table markers');
  return spec.slice(0, from + START.length) + renderDegradeTable() + spec.slice(to);
}

if (import.meta.main) {
  writeFileSync(SPEC, withTable(readFileSync(SPEC, 'utf8')));
  console.log('docs/SPEC.md: degrade table rendered');
}
