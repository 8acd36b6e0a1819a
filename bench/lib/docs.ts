/**
 * `--write`: docs/BENCHMARKS.md keeps its hand-written parts, and the runner owns what lies
 * between the two markers (put at the end of the file if they are missing).
 */
import { readFileSync, writeFileSync } from 'node:fs';

export const BEGIN = '<!-- bench:generated:begin — written by `npm run bench -- --write`; edit outside the markers -->';
export const END = '<!-- bench:generated:end -->';

/** Replaces the generated part of `file` with `generated`. */
export function rewrite(file: string, generated: string): void {
  const text = readFileSync(file, 'utf8');
  const begin = text.indexOf('<!-- bench:generated:begin');
  const end = text.indexOf(END);
  const block = `${BEGIN}\n\n${generated.trim()}\n\n${END}`;
  const next = begin >= 0 && end > begin ? text.slice(0, begin) + block + text.slice(end + END.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}
