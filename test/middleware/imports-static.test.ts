import t from 'tap';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

// The bundled middleware is written as an outside author would write it: against the
// package's public entry points only (`hatchway`, and `hatchway/host` if a host's tools are
// needed), never a module behind them. (This file checks static, router and access-log.)
const root = new URL('../../', import.meta.url).pathname;
const PUBLIC = new Set(['src/index.ts', 'src/host.ts']);
const FILES = ['middleware/static.ts', 'middleware/router.ts', 'middleware/access-log.ts'];

t.test('static, router and access-log import only the public entry modules of src/', async (t) => {
  const offenders: string[] = [];
  for (const file of FILES) {
    const text = readFileSync(join(root, file), 'utf8');
    const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!);
    t.ok(specifiers.includes('../src/index.ts'), `${file} imports hatchway`);
    for (const specifier of specifiers) {
      if (!specifier.startsWith('.')) continue;
      const target = relative(root, resolve(root, dirname(file), specifier));
      if (!PUBLIC.has(target)) offenders.push(`${file} imports ${target}`);
    }
  }
  t.same(offenders, []);
});
