import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

// The bundled middleware is the model outside authors copy: it may import the package's
// public entry modules (`hatchway`, `hatchway/host`), its siblings and npm packages, never a
// module behind the entry points.
const root = new URL('../../', import.meta.url).pathname;
const PUBLIC = new Set(['src/index.ts', 'src/host.ts']);

t.test('middleware imports only the public entry modules of src/', async (t) => {
  const offenders: string[] = [];
  const checked = readdirSync(join(root, 'middleware')).filter((name) => name.endsWith('.ts'));
  t.ok(checked.length >= 7, 'the middleware files were found');
  for (const name of checked) {
    const file = join('middleware', name);
    const text = readFileSync(join(root, file), 'utf8');
    for (const [, specifier] of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
      if (!specifier!.startsWith('.')) continue;
      const target = relative(root, resolve(root, dirname(file), specifier!));
      if (target.startsWith('src/') && !PUBLIC.has(target)) offenders.push(`${file} imports ${target}`);
      if (!target.startsWith('src/') && !target.startsWith('middleware/')) offenders.push(`${file} imports ${target}`);
    }
  }
  t.same(offenders, []);
});

t.test('each middleware file is listed in typedoc.json', async (t) => {
  const typedoc = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8')) as { entryPoints: string[] };
  for (const name of readdirSync(join(root, 'middleware')).filter((n) => n.endsWith('.ts'))) {
    t.ok(typedoc.entryPoints.includes(`middleware/${name}`), `middleware/${name}`);
  }
});
