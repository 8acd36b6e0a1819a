/**
 * The guides' code samples run: every ```ts block of docs/GETTING-STARTED.md is a whole file
 * (its first line names it); it is written out with `hatchway…` imports pointed at the
 * sources, served on a real port, and each `$ command` of the ```console block after it is run
 * with curl, its output compared with the lines shown under it.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { App } from '../src/index.ts';
import { start } from './fixtures/server.ts';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

/** `hatchway`, `hatchway/server`, `hatchway/middleware/x`… → the source files they build from. */
function toSource(specifier: string): string {
  const sub = specifier.slice('hatchway'.length);
  const path =
    sub === '' ? 'src/index.ts' : sub.startsWith('/middleware/') || sub.startsWith('/adapters/') ? `${sub.slice(1)}.ts` : sub === '/server' ? 'src/server/index.ts' : `src${sub}.ts`;
  return pathToFileURL(join(root, path)).href;
}

interface Sample {
  name: string;
  code: string;
  commands: { command: string; expected: string }[];
}

function samples(markdown: string): Sample[] {
  const out: Sample[] = [];
  for (const block of markdown.matchAll(/```(ts|console)\n([\s\S]*?)```/g)) {
    const [, lang, body] = block as unknown as [string, string, string];
    if (lang === 'ts') {
      out.push({ name: /^\/\/ (\S+)/.exec(body)?.[1] ?? `sample-${out.length}.ts`, code: body, commands: [] });
      continue;
    }
    const sample = out.at(-1);
    if (!sample) continue;
    for (const line of body.trimEnd().split('\n')) {
      if (line.startsWith('$ ')) sample.commands.push({ command: line.slice(2), expected: '' });
      else sample.commands.at(-1)!.expected += `${line}\n`;
    }
  }
  return out;
}

const guide = 'docs/GETTING-STARTED.md';
const dir = mkdtempSync(join(root, 'test', '.guides-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const found = samples(readFileSync(join(root, guide), 'utf8'));
t.ok(found.length >= 4, `${guide} has its samples`);

for (const sample of found) {
  t.test(`${guide}: ${sample.name} runs and prints what the guide shows`, async (t) => {
    const file = join(dir, sample.name);
    writeFileSync(file, sample.code.replace(/from '(hatchway[^']*)'/g, (_, s: string) => `from '${toSource(s)}'`));
    const app = ((await import(pathToFileURL(file).href)) as { default: App }).default;
    const { port } = await start(t, app);
    t.ok(sample.commands.length > 0, 'the guide shows commands for it');
    for (const { command, expected } of sample.commands) {
      const { stdout } = await exec('bash', ['-c', command.replaceAll('127.0.0.1:8000', `127.0.0.1:${port}`)], { timeout: 15_000 });
      t.equal(stdout, expected, `$ ${command}`);
    }
  });
}
