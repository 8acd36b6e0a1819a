/**
 * The guides' code samples run. The convention, for docs/*.md and README.md (the site's front
 * page):
 *
 * - a ```ts or ```js block is a whole module: imports and all, written as a user would save it;
 * - a ```ts fragment block (the info string says `fragment`) is a sketch — SPEC.md's interface
 *   outlines, or a sample that continues the one before it — and is not checked alone;
 * - docs/CHECKLIST.md's ```js blocks are the rules' examples, printed from
 *   src/conformance/rules.ts: each must be the source of the example it stands for, which
 *   test/conformance/rules.test.ts runs against its rule.
 *
 * Every module is typechecked against the sources (`hatchway…` imports pointed at them). Those
 * of docs/GETTING-STARTED.md are also run: each is a whole file (its first line names it),
 * served on a real port, and each `$ command` of the ```console block after it is run with curl,
 * its output compared with the lines shown under it. README.md's check example is run by
 * test/docs/readme-check.test.ts.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { App } from '../src/index.ts';
import { RULES } from '../src/conformance/rules.ts';
import { exampleSource } from '../src/conformance/report.ts';
import { start } from './fixtures/server.ts';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

/** `hatchway`, `hatchway/server`, `hatchway/middleware/x`… → the source files they build from. */
function toSource(specifier: string): string {
  const sub = specifier.slice('hatchway'.length);
  const path =
    sub === ''
      ? 'src/index.ts'
      : sub.startsWith('/middleware/') || sub.startsWith('/adapters/')
        ? `${sub.slice(1)}.ts`
        : sub === '/server'
          ? 'src/server/index.ts'
          : sub.startsWith('/host/')
            ? `src/hosts/${sub.slice('/host/'.length)}.ts`
            : `src${sub}.ts`;
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

/** Every fenced block of `markdown` with its info string (`ts`, `ts fragment`, `console`…). */
function blocks(markdown: string): { info: string; lang: string; code: string; line: number }[] {
  return [...markdown.matchAll(/^```([^\n]*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    info: m[1]!.trim(),
    lang: m[1]!.trim().split(/\s+/)[0]!,
    code: m[2]!,
    line: markdown.slice(0, m.index).split('\n').length,
  }));
}

const guides = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

t.test('docs/CHECKLIST.md: every sample is the source of the rule example it stands for', async (t) => {
  const markdown = readFileSync(join(root, 'docs/CHECKLIST.md'), 'utf8');
  let checked = 0;
  for (const rule of RULES) {
    const start = markdown.indexOf(`### ${rule.id} `);
    const end = markdown.indexOf('\n### ', start + 1);
    const section = markdown.slice(start, end === -1 ? undefined : end);
    const [pass, fail] = blocks(section).filter((b) => b.lang === 'js');
    t.equal(pass?.code.trimEnd(), exampleSource(rule.examples.pass), `${rule.id}: the passing example`);
    t.equal(fail?.code.trimEnd(), exampleSource(rule.examples.fail), `${rule.id}: the failing example`);
    checked += 2;
  }
  t.equal(checked, blocks(markdown).filter((b) => b.lang === 'js').length, 'no other ```js block');
});

t.test('every runnable sample of every guide typechecks', async (t) => {
  const typesDir = mkdtempSync(join(root, 'test', '.guides-types-'));
  t.teardown(() => rmSync(typesDir, { recursive: true, force: true }));
  const written: string[] = [];
  for (const guide of guides) {
    if (guide === 'docs/CHECKLIST.md') continue;
    for (const block of blocks(readFileSync(join(root, guide), 'utf8'))) {
      if (block.lang !== 'ts' && block.lang !== 'js') continue;
      if (block.info.split(/\s+/).includes('fragment')) continue;
      const name = `${guide.replace(/\W+/g, '-')}-L${block.line}.${block.lang}`;
      const code = block.code.replace(/from '(hatchway[^']*)'/g, (_, s: string) => `from '${relative(typesDir, fileURLToPath(toSource(s))).replaceAll('\\', '/')}'`);
      writeFileSync(join(typesDir, name), `// ${guide}:${block.line}\n${code}`);
      written.push(`${guide}:${block.line}`);
    }
  }
  t.ok(written.length >= 6, `${written.length} samples: ${written.join(', ')}`);
  writeFileSync(join(typesDir, 'tsconfig.json'), JSON.stringify({ extends: '../../tsconfig.json', compilerOptions: { allowJs: true, checkJs: true }, include: ['*.ts', '*.js'] }));
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = await exec(process.execPath, [tsc, '--noEmit', '-p', join(typesDir, 'tsconfig.json')], { cwd: root, timeout: 120_000 }).then(
    () => '',
    (err: { stdout: string }) => err.stdout,
  );
  t.equal(result, '', 'tsc reports no errors in the samples');
});

t.test('every runnable sample of every guide runs: it exits 0, or it is a server still serving after a second', async (t) => {
  const runDir = mkdtempSync(join(root, 'test', '.guides-run-'));
  t.teardown(() => rmSync(runDir, { recursive: true, force: true }));
  let ran = 0;
  for (const guide of guides) {
    // CHECKLIST's are rule examples (run by rules.test.ts); GETTING-STARTED's run above, with curl.
    if (guide === 'docs/CHECKLIST.md' || guide === 'docs/GETTING-STARTED.md') continue;
    for (const block of blocks(readFileSync(join(root, guide), 'utf8'))) {
      if (block.lang !== 'ts' && block.lang !== 'js') continue;
      if (block.info.split(/\s+/).includes('fragment')) continue;
      const file = join(runDir, `${guide.replace(/\W+/g, '-')}-L${block.line}.${block.lang === 'ts' ? 'ts' : 'mjs'}`);
      writeFileSync(file, block.code.replace(/from '(hatchway[^']*)'/g, (_, s: string) => `from '${toSource(s)}'`));
      const outcome = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = execFile(process.execPath, [file], { cwd: runDir, env: { ...process.env, PORT: '0' } }, () => {});
        let stderr = '';
        child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => {
          child.kill('SIGTERM');
          resolve({ code: null, stderr });
        }, 1_500);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, stderr });
        });
      });
      ran++;
      t.ok(outcome.code === null || outcome.code === 0, `${guide}:${block.line} ${outcome.code === null ? 'serves' : 'exits 0'}`, { stderr: outcome.stderr.slice(0, 2000) });
    }
  }
  t.ok(ran >= 1, `${ran} samples ran`);
});
