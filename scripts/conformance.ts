// Regenerates docs/CONFORMANCE.md from real runs of `checkMiddleware`: every bundled middleware
// in middleware/ and popular npm middleware through the adapters. `npm run conformance` writes
// it; test/docs/conformance.test.ts fails when the committed summary differs from a fresh run.
//
// The bundled-middleware convention: a module in middleware/ exports
//   export const conformance: { name: string; make(): Middleware; options?: CheckOptions }[]
// — one entry per configuration worth checking (`options.headers` lets an auth gate through).
// A module without it is checked through its default export when that is a factory that,
// called with no options, returns a middleware; a module with neither is listed as skipped.
import { readdirSync, writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import compression from 'compression';
import cors from 'cors';
import helmet from 'helmet';
import morgan from 'morgan';
import session from 'express-session';
import bodyParser from 'body-parser';
import serveStatic from 'serve-static';
import koaCompress from 'koa-compress';
import koaCors from '@koa/cors';
import Koa from 'koa';
import { Hono, type MiddlewareHandler } from 'hono';
import { compress as honoCompress } from 'hono/compress';
import { etag as honoEtag } from 'hono/etag';
import { cors as honoCors } from 'hono/cors';
import { secureHeaders as honoSecureHeaders } from 'hono/secure-headers';
import type { App, Environ, Middleware } from '../src/index.ts';
import { checkMiddleware, type CheckOptions, type CheckReport } from '../src/testing.ts';
import { RULES } from '../src/conformance/rules.ts';
import { fromConnect, type ConnectMiddleware } from '../adapters/connect.ts';
import { fromKoa, type KoaMiddleware } from '../adapters/koa.ts';
import { fromFetch, toFetch } from '../adapters/fetch.ts';

export const CONFORMANCE = new URL('../docs/CONFORMANCE.md', import.meta.url);
const MIDDLEWARE_DIR = new URL('../middleware/', import.meta.url);

/** One middleware to check. */
export interface Subject {
  name: string;
  /** How it is run: `native`, or the adapter. */
  through: string;
  /** The construction, as shown in the report. */
  code: string;
  make(): Middleware;
  options?: CheckOptions;
}

/** One row of the report. */
export interface Row {
  subject: Subject;
  report?: CheckReport;
  skipped?: string;
}

const quiet = () => new PassThrough().resume();

/**
 * A Hono middleware as hatchway middleware, from the fetch adapters alone: a Hono app runs the
 * middleware, and its final handler hands the (possibly changed) Request to the inner hatchway
 * app through `toFetch`, with the environ carried through Hono's `c.env` so extensions and
 * middleware keys reach the inner app; `fromFetch` turns the Hono app back into an app.
 */
function fromHono(middleware: MiddlewareHandler): Middleware {
  return (inner: App): App => {
    const hono = new Hono<{ Bindings: Environ }>();
    hono.use(middleware);
    // Hono's default error handler, writing to environ.errors instead of the console.
    hono.onError((err, c) => {
      c.env.errors.write(String(err));
      return c.text('Internal Server Error', 500);
    });
    hono.all('*', (c) => {
      const outer = c.env;
      const carry: App = (environ, startResponse) =>
        inner({ ...outer, method: environ.method, target: environ.target, pathInfo: environ.pathInfo, queryString: environ.queryString, headers: environ.headers, input: environ.input }, startResponse);
      return toFetch(carry, { errors: outer.errors })(c.req.raw);
    });
    return fromFetch((request, environ) => hono.fetch(request, environ));
  };
}

const connect = (m: unknown) => fromConnect(m as ConnectMiddleware);
// A silent Koa: its default error listener would print the failing probes' errors.
const koa = (m: unknown) => {
  const app = new Koa();
  app.silent = true;
  return fromKoa(m as KoaMiddleware, { app });
};

/** The npm middleware of the report, each through its adapter. */
export const NPM_SUBJECTS: Subject[] = [
  { name: 'compression', through: 'fromConnect', code: 'compression()', make: () => connect(compression()) },
  { name: 'helmet', through: 'fromConnect', code: 'helmet()', make: () => connect(helmet()) },
  { name: 'cors', through: 'fromConnect', code: "cors({ origin: 'https://client.example', credentials: true })", make: () => connect(cors({ origin: 'https://client.example', credentials: true })) },
  { name: 'morgan', through: 'fromConnect', code: "morgan('tiny', { stream })", make: () => connect(morgan('tiny', { stream: quiet() })) },
  {
    name: 'express-session',
    through: 'fromConnect',
    code: "session({ secret: 's3cret', resave: false, saveUninitialized: true })",
    make: () => connect(session({ secret: 's3cret', resave: false, saveUninitialized: true })),
  },
  { name: 'body-parser', through: 'fromConnect', code: 'bodyParser.json()', make: () => connect(bodyParser.json()) },
  { name: 'serve-static', through: 'fromConnect', code: "serveStatic('docs/')", make: () => connect(serveStatic(fileURLToPath(new URL('../docs/', import.meta.url)))) },
  { name: 'koa-compress', through: 'fromKoa', code: 'compress()', make: () => koa(koaCompress()) },
  { name: '@koa/cors', through: 'fromKoa', code: 'cors()', make: () => koa(koaCors()) },
  { name: 'hono/compress', through: 'fromFetch + toFetch', code: 'compress()', make: () => fromHono(honoCompress()) },
  { name: 'hono/etag', through: 'fromFetch + toFetch', code: 'etag()', make: () => fromHono(honoEtag()) },
  { name: 'hono/cors', through: 'fromFetch + toFetch', code: 'cors()', make: () => fromHono(honoCors()) },
  { name: 'hono/secure-headers', through: 'fromFetch + toFetch', code: 'secureHeaders()', make: () => fromHono(honoSecureHeaders()) },
];

/** The bundled middleware present in middleware/ now, by the convention above. */
export async function bundledSubjects(): Promise<{ subjects: Subject[]; skipped: Row[] }> {
  let files: string[] = [];
  try {
    files = readdirSync(MIDDLEWARE_DIR).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.test.ts')).sort();
  } catch {
    return { subjects: [], skipped: [] };
  }
  const subjects: Subject[] = [];
  const skipped: Row[] = [];
  for (const file of files) {
    const base = file.replace(/\.ts$/, '');
    const placeholder: Subject = { name: `middleware/${base}`, through: 'native', code: '', make: () => (app) => app };
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(fileURLToPath(new URL(file, MIDDLEWARE_DIR))).href)) as Record<string, unknown>;
    } catch (err) {
      skipped.push({ subject: placeholder, skipped: `cannot be loaded: ${(err as Error).message.split('\n')[0]}` });
      continue;
    }
    const entries = mod.conformance as { name: string; make(): Middleware; options?: CheckOptions }[] | undefined;
    if (Array.isArray(entries) && entries.length > 0) {
      for (const e of entries) subjects.push({ name: `middleware/${base}${e.name === base ? '' : ` (${e.name})`}`, through: 'native', code: `conformance: ${e.name}`, make: e.make, options: e.options });
      continue;
    }
    const factory = mod.default;
    if (typeof factory === 'function') {
      try {
        const made = (factory as () => unknown)();
        if (typeof made === 'function' && made.length === 1) {
          subjects.push({ name: `middleware/${base}`, through: 'native', code: 'default()', make: () => (factory as () => Middleware)() });
          continue;
        }
      } catch {
        // needs options: fall through
      }
    }
    skipped.push({ subject: placeholder, skipped: 'exports neither `conformance` nor a default factory that works without options' });
  }
  return { subjects, skipped };
}

/** Runs every check. */
export async function runAll(): Promise<Row[]> {
  const { subjects, skipped } = await bundledSubjects();
  const rows: Row[] = [];
  for (const subject of [...subjects, ...NPM_SUBJECTS]) {
    try {
      rows.push({ subject, report: await checkMiddleware(subject.make(), { name: subject.name, ...subject.options }) });
    } catch (err) {
      rows.push({ subject, skipped: `the check could not run: ${(err as Error).message}` });
    }
  }
  return [...rows, ...skipped];
}

const failing = (report: CheckReport) => report.rules.filter((r) => r.verdict === 'fail').map((r) => r.id);

/** The summary table: one line per middleware (what the drift test compares). */
export function summaryTable(rows: Row[]): string {
  const lines = ['| middleware | through | verdict | escape grade | websocket / trailers / push | failing rules |', '|---|---|---|---|---|---|'];
  for (const { subject, report, skipped } of rows) {
    if (report === undefined) {
      lines.push(`| ${subject.name} | ${subject.through} | skipped | — | — | ${skipped} |`);
      continue;
    }
    const e = report.escapes;
    const fails = failing(report);
    lines.push(`| ${subject.name} | ${subject.through} | ${report.verdict === 'pass' ? 'pass' : '**fail**'} | ${report.grade} | ${e.websocket} / ${e.trailers} / ${e.push} | ${fails.length === 0 ? '—' : fails.join(', ')} |`);
  }
  return lines.join('\n');
}

/** The whole of docs/CONFORMANCE.md. */
export function render(rows: Row[]): string {
  const out = [
    '# Conformance of bundled and npm middleware',
    '',
    '<!-- Generated by `npm run conformance` (scripts/conformance.ts) from real runs of checkMiddleware; test/docs/conformance.test.ts fails when the summary drifts. -->',
    '',
    `Each middleware below was driven by \`checkMiddleware()\` (\`hatchway/testing\`) with every probe, on the real runner and the`,
    `real escape recognition, against the ${RULES.length} rules of [CHECKLIST.md](CHECKLIST.md). npm middleware runs through the`,
    'adapters of [ADAPTERS.md](ADAPTERS.md): Connect/Express middleware through `fromConnect`, Koa middleware through `fromKoa`,',
    "and Hono middleware in a Hono app hosted with `fromFetch` whose final handler calls the inner app through `toFetch`, the",
    "environ carried in Hono's `c.env`. A failure is the middleware's or the adapter's as they are combined here; the evidence",
    'says what was seen.',
    '',
    '**Bundled middleware** (`middleware/*.ts`) are found by a convention: a module exports',
    '`conformance: { name, make(): Middleware, options? }[]` — one entry per configuration worth checking — or, failing that,',
    'a default factory that returns a middleware when called without options. `npm run conformance` regenerates this page with',
    'whatever middleware exists at that moment.',
    '',
    '**Grades.** `escape-safe`: every token response passed and was honoured; `escape-aware`: none was altered, some were',
    'replaced wholesale; `unsafe`: an HW-ESC rule fails.',
    '',
    summaryTable(rows),
    '',
    '## Evidence',
    '',
  ];
  for (const { subject, report } of rows) {
    if (report === undefined) continue;
    out.push(`### ${subject.name}`, '', `\`${subject.code}\` through ${subject.through === 'native' ? 'nothing (native)' : `\`${subject.through}\``} — ${report.verdict}, ${report.grade}; ${report.counts.pass} pass, ${report.counts.fail} fail, ${report.counts['n/a']} not applicable.`, '');
    const fails = report.rules.filter((r) => r.verdict === 'fail');
    if (fails.length === 0) {
      out.push('Every applicable rule passes.', '');
      continue;
    }
    out.push('| rule | probe | seen |', '|---|---|---|');
    for (const r of fails) out.push(`| ${r.id} ${r.title.replace(/\|/g, '\\|')} | \`${r.evidence!.probe}\` | ${r.evidence!.message.replace(/\|/g, '\\|').replace(/\n/g, ' ')}${r.evidence!.count > 1 ? ` (+${r.evidence!.count - 1} more)` : ''} |`);
    out.push('');
  }
  return out.join('\n');
}

if (import.meta.main) {
  const rows = await runAll();
  writeFileSync(CONFORMANCE, render(rows));
  console.log(summaryTable(rows));
  process.exit(0);
}
