/**
 * The README's "writing a middleware and checking it" example, extracted and run: it must
 * print a passing, escape-safe report.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');

export function example(text: string): string {
  const block = /<!-- check-example:start -->\n```ts\n([\s\S]*?)```\n<!-- check-example:end -->/.exec(text);
  if (block === null) throw new Error('README.md lacks the check-example block');
  return block[1]!;
}

t.test('the README example is about ten lines', async (t) => {
  const lines = example(readme).trim().split('\n');
  t.ok(lines.length <= 12, `${lines.length} lines`);
  t.match(lines[0], /from 'hatchway'/);
});

t.test('the README example runs and reports PASS, escape-safe', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'check-example.ts');
  const code = example(readme)
    .replace("from 'hatchway/testing'", `from '${join(root, 'src/testing.ts')}'`)
    .replace("from 'hatchway'", `from '${join(root, 'src/index.ts')}'`);
  writeFileSync(file, code);
  const { code: exit, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) =>
    execFile(process.execPath, [file], { timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout: stdout + stderr })),
  );
  t.equal(exit, 0, stdout);
  t.match(stdout, /^shout: PASS — escape-safe/m);
});
