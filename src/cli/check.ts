/**
 * `hatchway check <module>[#export]`: loads a middleware (or a factory of one), runs
 * `checkMiddleware` on it and prints the report — a table, or JSON with `--json`. Exit 0 when
 * every rule passes or does not apply, 1 when one fails, 2 when the module cannot be loaded.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { App, HeaderList, Middleware } from '../gateway/types.ts';
import { checkMiddleware, type CheckOptions, type CheckReport } from '../conformance/check.ts';
import { formatReport } from '../conformance/report.ts';
import type { Command } from './args.ts';

/** Why a module gave no middleware (exit status 2). */
export class LoadError extends Error {}

const probe: App = (_environ, startResponse) => {
  startResponse(200, []);
  return [];
};

/** One middleware to check, as a module gave it. */
export interface Loaded {
  name: string;
  middleware: Middleware;
  options?: CheckOptions;
}

/**
 * Loads the middleware named by `module[#export]`; calls a factory with `options` (or none).
 * A module without `#export` whose `conformance` export lists configurations (the bundled
 * middleware convention, docs/CONFORMANCE.md) gives one middleware per entry.
 */
export async function loadSubjects(spec: string, factory: { options?: unknown; call: boolean }, cwd = process.cwd()): Promise<Loaded[]> {
  if (!spec.includes('#') && !factory.call) {
    const mod = await importModule(spec, cwd);
    const entries = mod.conformance as { name: string; make(): Middleware; options?: CheckOptions }[] | undefined;
    if (Array.isArray(entries) && entries.length > 0 && entries.every((e) => typeof e?.make === 'function')) {
      return entries.map((e) => ({ name: `${spec} (${e.name})`, middleware: e.make(), options: e.options }));
    }
  }
  return [{ name: spec, middleware: await loadMiddleware(spec, factory, cwd) }];
}

async function importModule(spec: string, cwd: string): Promise<Record<string, unknown>> {
  const hash = spec.lastIndexOf('#');
  const file = hash === -1 ? spec : spec.slice(0, hash);
  try {
    return (await import(pathToFileURL(resolve(cwd, file)).href)) as Record<string, unknown>;
  } catch (err) {
    throw new LoadError(`cannot load ${file}: ${(err as Error).message}`);
  }
}

/** Loads the middleware named by `module[#export]`; calls a factory with `options` (or none). */
export async function loadMiddleware(spec: string, factory: { options?: unknown; call: boolean }, cwd = process.cwd()): Promise<Middleware> {
  const hash = spec.lastIndexOf('#');
  const file = hash === -1 ? spec : spec.slice(0, hash);
  const name = hash === -1 ? 'default' : spec.slice(hash + 1);
  const mod = await importModule(spec, cwd);
  const exported = mod[name];
  if (typeof exported !== 'function') throw new LoadError(`${file} has no ${name === 'default' ? 'default export' : `export '${name}'`} that is a middleware or a factory`);
  const fn = exported as (arg?: unknown) => unknown;
  let middleware: unknown = fn;
  if (factory.call) middleware = fn(factory.options);
  else {
    // A factory called with an app gives back a middleware (one parameter), not an app.
    let result: unknown;
    try {
      result = fn(probe);
    } catch {
      result = undefined;
    }
    if (typeof result === 'function' && result.length === 1) middleware = fn();
  }
  if (typeof middleware !== 'function') throw new LoadError(`${spec}: the factory returned ${typeof middleware}, not a middleware (app) => app`);
  Object.defineProperty(middleware, 'name', { value: `${file}${hash === -1 ? '' : `#${name}`}` });
  return middleware as Middleware;
}

function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new TypeError(`--header takes 'name: value', not '${text}'`);
  return [text.slice(0, colon).trim().toLowerCase(), text.slice(colon + 1).trim()];
}

/** Runs `hatchway check`; resolves with the exit status. */
export async function runCheck(cmd: Command, out: (text: string) => void = (t) => void process.stdout.write(t), err: (text: string) => void = (t) => void process.stderr.write(t)): Promise<number> {
  const v = cmd.values;
  let options: unknown;
  if (typeof v.options === 'string') {
    try {
      options = JSON.parse(v.options);
    } catch (e) {
      err(`hatchway check: --options is not JSON: ${(e as Error).message}\n`);
      return 2;
    }
  }
  let subjects: Loaded[];
  let headers: HeaderList;
  try {
    headers = ((v.header as string[] | undefined) ?? []).map(parseHeader);
    subjects = await loadSubjects(cmd.target!, { options, call: v.options !== undefined || v.factory === true });
  } catch (e) {
    err(`hatchway check: ${(e as Error).message}\n`);
    return 2;
  }
  const reports: CheckReport[] = [];
  try {
    for (const s of subjects) {
      const own = s.options?.headers;
      const extra: HeaderList = [...headers, ...(Array.isArray(own) ? own : Object.entries(own ?? {}))];
      reports.push(await checkMiddleware(s.middleware, { ...s.options, name: s.name, headers: extra, rules: (v.rule as string[] | undefined) ?? s.options?.rules }));
    }
  } catch (e) {
    err(`hatchway check: ${(e as Error).message}\n`);
    return 2;
  }
  if (v.json) out(JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2) + '\n');
  else out(reports.map((r) => formatReport(r, { color: process.stdout.isTTY === true })).join('\n'));
  return reports.every((r) => r.verdict === 'pass') ? 0 : 1;
}
