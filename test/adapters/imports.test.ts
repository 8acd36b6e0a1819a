import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

// The adapters are written as an outside author would write them: against the package's
// public entry points only (`hatchway` and `hatchway/host`), never a module behind them.
const root = new URL('../../', import.meta.url).pathname;
const PUBLIC = new Set(['src/index.ts', 'src/host.ts']);

function files(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

t.test('adapters import only the public entry modules of src/', async (t) => {
  const offenders: string[] = [];
  const checked = files('adapters');
  t.ok(checked.length > 5, 'the adapters were found');
  for (const file of checked) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const [, specifier] of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
      if (!specifier!.startsWith('.')) continue;
      const target = relative(root, resolve(root, dirname(file), specifier!));
      if (target.startsWith('src/') && !PUBLIC.has(target)) offenders.push(`${file} imports ${target}`);
    }
  }
  t.same(offenders, []);
});
