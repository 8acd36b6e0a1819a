/**
 * What keeps an entry point from loading outside Node, found by bundling it as a Worker is
 * bundled (esbuild, browser platform, the `workerd`/`worker`/`browser` conditions, no tree
 * shaking, so every module's top level is in): no `node:` module may be imported, and no
 * Node global (`Buffer`, `process`, `setImmediate`, …) may be used as a free variable —
 * `define` renames exactly those, not properties or strings. Reads through `globalThis`
 * (`globalThis.Buffer`, the native fast paths) are the portable way and are not counted.
 * Each exception is listed with the reason it is harmless.
 */
import t from 'tap';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GLOBALS = ['Buffer', 'process', 'setImmediate', 'clearImmediate', 'global', '__dirname', '__filename', 'require'];

/** The neutral entry points: `hatchway`, the fetch adapter, the workerd host, every middleware but compression and static. */
const ENTRIES = [
  'src/index.ts',
  'adapters/fetch.ts',
  'src/hosts/workerd.ts',
  ...['access-log', 'cookies', 'cors', 'errors', 'limits', 'lint', 'proxy-headers', 'router', 'session'].map((m) => `middleware/${m}.ts`),
];

/** Allowed, and why. */
const ALLOWED_IMPORTS: Record<string, string> = {
  'find-my-way -> node:assert': "the router's find-my-way; a Worker aliases it (docs/RUNTIMES.md, test/runtimes/fixtures/assert-shim.cjs)",
};
const ALLOWED_GLOBALS: Record<string, string> = {
  'src/conformance/rules.ts Buffer': "a checklist rule's failing example (shown in docs/CHECKLIST.md), run only by the checker's self-test on Node",
  'src/server/body-reader.ts process': 'StreamBodyReader reads a node:stream Readable; only a host with Node streams makes one',
};

const builtins = new Set(builtinModules);
const isBuiltin = (path: string): boolean => path.startsWith('node:') || builtins.has(path.split('/')[0]!);
/** A package's name for a file in node_modules, else the path in the checkout. */
function short(path: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  return m ? m[1]! : path.replace(ROOT, '');
}

for (const entry of ENTRIES) {
  t.test(`${entry} imports no node: module and uses no Node global`, async (t) => {
    const imports: string[] = [];
    const record: Plugin = {
      name: 'node-builtins',
      setup(b) {
        b.onResolve({ filter: /.*/ }, (args) => {
          if (!isBuiltin(args.path)) return undefined;
          imports.push(`${short(args.importer)} -> ${args.path}`);
          return { path: args.path, external: true };
        });
      },
    };
    const result = await build({
      entryPoints: [`${ROOT}${entry}`],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      conditions: ['workerd', 'worker', 'browser'],
      treeShaking: false,
      logLevel: 'silent',
      plugins: [record],
      define: Object.fromEntries(GLOBALS.filter((g) => g !== 'require').map((g) => [g, `__NODE_GLOBAL_${g}`])),
    });
    const globals = new Set<string>();
    let file = '';
    for (const line of result.outputFiles[0]!.text.split('\n')) {
      const m = /^\/\/ (\S+)$/.exec(line); // esbuild names each module's code with its path
      if (m) file = m[1]!.replace(/^(\.\.\/)+(main|wt-[\w-]+)\//, '');
      for (const g of line.matchAll(/__NODE_GLOBAL_(\w+)/g)) globals.add(`${file} ${g[1]}`);
    }
    t.same([...new Set(imports)].filter((i) => !(i in ALLOWED_IMPORTS)), [], 'node: imports');
    t.same([...globals].filter((g) => !(g in ALLOWED_GLOBALS)), [], 'free Node globals');
  });
}
