/**
 * Loading the app module of `hatchway serve`, and saying where it went wrong: a syntax error
 * with file:line:column and a code frame (Node gives an ESM syntax error no location, so the
 * module is loaded once more in a child process, whose uncaught-error printout has it); a
 * throw at import time with its stack; a missing module with the path it was looked for at.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HatchwayError } from '../wire/errors.ts';
import type { App } from '../gateway/types.ts';
import { splitTarget } from './args.ts';

/** Why the app could not be loaded: the whole text to print (it may span lines). */
export class AppLoadError extends Error {}

/** Loads the app named by `module[#export]` or `module:export`, relative to `cwd`. */
export async function loadApp(spec: string, cwd = process.cwd()): Promise<App> {
  const { file, name } = splitTarget(spec);
  const path = resolve(cwd, file);
  const url = pathToFileURL(path).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new AppLoadError(describeLoadFailure(err, file, path, url));
  }
  let app = mod[name];
  // `export default { app }` and CommonJS-style `module.exports = app` both land here.
  if (name === 'default' && typeof app !== 'function' && app && typeof (app as { app?: unknown }).app === 'function') app = (app as { app: unknown }).app;
  if (typeof app !== 'function') {
    const exported = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
    throw new AppLoadError(`${new HatchwayError('ERR_HATCHWAY_INVALID_MODULE', spec).message}${exported.length ? ` (functions it exports: ${exported.join(', ')})` : ''}`);
  }
  return app as App;
}

function describeLoadFailure(err: unknown, file: string, path: string, url: string): string {
  const e = err as NodeJS.ErrnoException & { url?: string };
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && (e.url === url || e.message.includes(path))) return `cannot find the app module ${file} (looked at ${path}): ERR_MODULE_NOT_FOUND`;
  if (e instanceof SyntaxError || e?.name === 'SyntaxError') {
    const where = locateSyntaxError(e, url);
    if (where) return `syntax error in ${where.file}:${where.line}:${where.column}: ${e.message}\n${codeFrame(where.file, where.line, where.column)}`;
    return `syntax error loading ${file}: ${e.message}`;
  }
  const stack = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(err);
  return `${file} threw while it was being imported:\n${stack}`;
}

interface Location {
  file: string;
  line: number;
  column: number;
}

/** Node's printout of an uncaught syntax error: `FILE:LINE`, the source line(s), a caret line. */
function parsePrintout(text: string): Location | undefined {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^((?:file:\/\/|\/)\S+?):(\d+)$/.exec(lines[i]!);
    if (!m) continue;
    for (let j = i + 1; j < Math.min(lines.length, i + 8); j++) {
      if (/^\s*\^+\s*$/.test(lines[j]!)) {
        const file = m[1]!.startsWith('file:') ? fileURLToPath(m[1]!) : m[1]!;
        return { file, line: Number(m[2]), column: lines[j]!.indexOf('^') + 1 };
      }
    }
  }
  return undefined;
}

function locateSyntaxError(err: Error, url: string): Location | undefined {
  // TypeScript's (amaro's) syntax errors carry the printout in their stack.
  const own = parsePrintout(err.stack ?? '');
  if (own) return own;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(url)})`], {
    encoding: 'utf8',
    timeout: 10_000,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  return parsePrintout(child.stderr ?? '');
}

/** Two lines either side, the line numbered, a caret under the column. */
export function codeFrame(file: string, line: number, column: number): string {
  let source: string[];
  try {
    source = readFileSync(file, 'utf8').split(/\r?\n/);
  } catch {
    return '';
  }
  const first = Math.max(1, line - 2);
  const last = Math.min(source.length, line + 2);
  const width = String(last).length;
  const out: string[] = [];
  for (let n = first; n <= last; n++) {
    out.push(`${n === line ? '>' : ' '} ${String(n).padStart(width)} | ${source[n - 1]}`);
    if (n === line) out.push(`  ${' '.repeat(width)} | ${' '.repeat(Math.max(0, column - 1))}^`);
  }
  return out.join('\n');
}
