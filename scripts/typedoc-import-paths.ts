/**
 * A typedoc plugin: names each entry point's page after the import path users type
 * (`hatchway/host`, `hatchway/middleware/cors`), taken from package.json `exports`, so the
 * names cannot drift from what the package really exports. An entry point that no export
 * reaches is an error: it would document a module nobody can import.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { Converter, ReflectionKind, type Application, type Context, type DeclarationReflection } from 'typedoc';

type Exports = Record<string, string | { types?: string; default?: string }>;

/** `./dist/src/host.js` → `src/host.ts`; the `*` of a pattern export stays a `*`. */
function sourceOf(target: string): string {
  return target.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts');
}

/** The import path of the source file `file` (relative to the package root), or undefined. */
export function importPath(exports: Exports, name: string, file: string): string | undefined {
  for (const [key, value] of Object.entries(exports)) {
    const target = typeof value === 'string' ? value : value.default;
    if (target === undefined || !target.startsWith('./dist/')) continue;
    const [prefix, suffix] = sourceOf(target).split('*') as [string, string | undefined];
    if (suffix === undefined) {
      if (file === prefix) return `${name}${key.slice(1)}`;
    } else if (file.startsWith(prefix) && file.endsWith(suffix) && !file.slice(prefix.length).includes('/')) {
      return `${name}${key.slice(1).replace('*', file.slice(prefix.length, file.length - suffix.length))}`;
    }
  }
  return undefined;
}

export function load(app: Application): void {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; exports: Exports };
  const root = new URL('..', import.meta.url).pathname;
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context: Context, reflection: DeclarationReflection) => {
    if (!reflection.kindOf(ReflectionKind.Module)) return;
    const file = context.getSymbolFromReflection(reflection)?.declarations?.[0]?.getSourceFile().fileName;
    if (file === undefined) return;
    const path = importPath(pkg.exports, pkg.name, relative(root, file));
    if (path === undefined) app.logger.error(`${relative(root, file)} is an entry point but no package.json export reaches it`);
    else reflection.name = path;
  });
}
