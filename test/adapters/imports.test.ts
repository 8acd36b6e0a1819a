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

/** The files (from the package root) that `file` imports by a relative path. */
function relativeImports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)]
    .map(([, specifier]) => specifier!)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => relative(root, resolve(root, dirname(file), specifier)));
}

t.test('adapters import only the public entry modules of src/', async (t) => {
  const checked = files('adapters');
  t.ok(checked.length > 5, 'the adapters were found');
  const offenders = checked.flatMap((file) => relativeImports(file).filter((target) => target.startsWith('src/') && !PUBLIC.has(target)).map((target) => `${file} imports ${target}`));
  t.same(offenders, []);
});

t.test('the hosts for other runtimes (src/hosts/) import only public entry points', async (t) => {
  const entries = new Set([...PUBLIC, ...readdirSync(join(root, 'adapters')).filter((f) => f.endsWith('.ts')).map((f) => `adapters/${f}`)]);
  const checked = files('src/hosts');
  t.ok(checked.length > 0, 'the hosts were found');
  const offenders = checked.flatMap((file) => relativeImports(file).filter((target) => !entries.has(target) && !target.startsWith('src/hosts/')).map((target) => `${file} imports ${target}`));
  t.same(offenders, []);
});

// The Bun and Deno hosts are thin layers an outside author could write: the public entry
// points (`hatchway`, `hatchway/host`, `hatchway/adapters/fetch`) and each other only.
t.test('the runtime hosts import only public entry points and their siblings', async (t) => {
  const offenders: string[] = [];
  const checked = files('src/hosts');
  t.ok(checked.length >= 2, 'the hosts were found');
  const allowed = new Set([...PUBLIC, 'adapters/fetch.ts']);
  for (const file of checked) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const [, specifier] of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
      if (specifier!.startsWith('node:')) offenders.push(`${file} imports ${specifier} (a host runs where Node's builtins may not)`);
      if (!specifier!.startsWith('.')) continue;
      const target = relative(root, resolve(root, dirname(file), specifier!));
      if (!allowed.has(target) && !target.startsWith('src/hosts/')) offenders.push(`${file} imports ${target}`);
    }
  }
  t.same(offenders, []);
});
