/**
 * The documentation site builds clean: `typedoc` with the repo's typedoc.json (the config
 * `npm run docs` uses, `validation.notDocumented` on) runs once, into a temporary directory, and
 * every warning it prints fails. One run takes about 7 s on two cores, so the test runs it
 * rather than reading a stale build.
 *
 * It also checks what the site is: one page per import path of package.json `exports`, named
 * as users type it, and every guide of docs/ among the project documents.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const typedoc = join(root, 'node_modules', 'typedoc', 'bin', 'typedoc');

/**
 * Warnings waiting for TSDoc in the four places other branches were editing when the docs were
 * written (src/server, src/cli, src/escapes, adapters): each is listed exactly, so a new warning
 * anywhere still fails; these are reported as `todo` until the doc comments land, and this list
 * must then be emptied.
 */
const PENDING = new Set<string>([]);

interface Project {
  children?: { name: string }[];
  documents?: { name: string }[];
}

const out = mkdtempSync(join(root, 'test', '.typedoc-'));
t.teardown(() => rmSync(out, { recursive: true, force: true }));

// stdout and stderr are both read: typedoc logs warnings to stdout, errors to stderr.
const run = await exec(process.execPath, [typedoc, '--out', join(out, 'html'), '--json', join(out, 'api.json'), '--logLevel', 'Warn'], {
  cwd: root,
  timeout: 90_000,
  env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
}).catch((err: { stdout: string; stderr: string; code: number }) => ({ ...err, failed: err.code }));
// eslint-disable-next-line no-control-regex
const log = `${run.stdout}\n${run.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
const warnings = [...log.matchAll(/^\[warning\] (.*)$/gm)].map((m) => m[1]!.replace(/, does not have any documentation$/, '')).filter((w) => !/^Found \d+ errors and \d+ warnings$/.test(w));

t.test('`npm run docs` builds without errors', async (t) => {
  t.notOk('failed' in run, 'typedoc exited cleanly', { log });
  t.notMatch(log, /\[error\]/, 'no errors');
});

t.test('`npm run docs` builds with zero warnings (notDocumented included)', async (t) => {
  const config = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8')) as { validation?: Record<string, boolean> };
  t.equal(config.validation?.notDocumented, true, 'typedoc.json validates that every export is documented');
  t.same(
    warnings.filter((w) => !PENDING.has(w)),
    [],
    'no warnings',
  );
  const pending = warnings.filter((w) => PENDING.has(w));
  t.same(pending, [], 'the warnings in src/server and src/escapes are gone', { todo: pending.length > 0 ? `${pending.length} doc comments to apply in src/server and src/escapes` : false });
});

t.test('one page per import path, named as users import it', async (t) => {
  const project = JSON.parse(readFileSync(join(out, 'api.json'), 'utf8')) as Project;
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
  const expected: string[] = [];
  for (const key of Object.keys(pkg.exports)) {
    if (key === './package.json') continue;
    if (!key.includes('*')) {
      expected.push(`hatchway${key.slice(1)}`);
      continue;
    }
    // `./middleware/*`: every module of middleware/ is a page of its own.
    const dir = key.slice(2, key.indexOf('*') - 1);
    for (const file of readdirSync(join(root, dir))) if (file.endsWith('.ts')) expected.push(`hatchway/${dir}/${file.slice(0, -3)}`);
  }
  t.same(project.children?.map((c) => c.name).sort(), expected.sort());
});

t.test('the guides of docs/ are on the site', async (t) => {
  const project = JSON.parse(readFileSync(join(out, 'api.json'), 'utf8')) as Project;
  const documents = new Set(project.documents?.map((d) => d.name));
  for (const guide of readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md'))) {
    t.ok(documents.has(guide.replace(/\.md$/, '')), guide);
  }
});
