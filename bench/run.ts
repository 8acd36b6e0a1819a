/**
 * The one bench runner: every scenario of issue 16, each contender in a fresh process per round,
 * rounds interleaved, warm-up not counted; per contender the server's CPU µs per unit (from
 * /proc: the headline figure) and its ratio to the scenario's baseline, the rate with its spread,
 * p99 latency where the generator reports it, and peak RSS. Load comes from h2load (C) where it
 * can, from a websocket client in a process of its own otherwise. docs/BENCHMARKS.md says more.
 *
 *   npm run bench                                   # every scenario (≤ 20 min on 2 cores; estimate printed)
 *   npm run bench -- --only h1-hello,h2c-hello      # some scenarios (an id, or a prefix: --only ws)
 *   npm run bench -- --rounds 5 --seconds 5         # longer
 *   npm run bench -- --quick --json                 # CI smoke: every contender starts and answers (≤ 60 s)
 *   npm run bench -- --write                        # rewrite docs/BENCHMARKS.md (profiles missed targets)
 *   npm run bench -- --only h2c-hello --gc          # scavenges and mark-compacts per 100k requests
 *   npm run bench -- --only h1 --against ../wt-base # also the hatchway of another checkout (before/after)
 *   npm run bench -- --list                         # the scenario ids
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { loadavg, tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { timing } from './lib/load.ts';
import { measure, type MeasureOptions } from './lib/measure.ts';
import { profileSubject, type ProfileRow } from './lib/profile.ts';
import { machineLine, scenarioTable, targetsTable } from './lib/report.ts';
import { evaluateTargets, TARGETED } from './lib/targets.ts';
import { rewrite } from './lib/docs.ts';
import { killAll } from './lib/proc.ts';
import { allScenarios, externalScenarios } from './scenarios/index.ts';
import type { Context, Scenario, ScenarioResult } from './lib/types.ts';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    rounds: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
    profile: { type: 'boolean' },
    gc: { type: 'boolean', default: false },
    against: { type: 'string' },
    'server-flags': { type: 'string', default: '' },
    list: { type: 'boolean', default: false },
  },
});
const quick = values.quick;
if (quick && values.write) {
  process.stderr.write('--quick measures nothing worth writing: --write needs a full run\n');
  process.exit(2);
}
const rounds = Number(values.rounds);
timing.seconds = Number(values.seconds);
timing.warmup = Number(values.warmup);
const profile = values.profile ?? values.write;
const log = (line: string) => process.stderr.write(`${line}\n`);
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;

const tmp = mkdtempSync(join(tmpdir(), 'hatchway-bench-'));
process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
let cert: ReturnType<Context['tls']> | undefined;
const ctx: Context = {
  quick,
  tmp,
  tls() {
    if (!cert) {
      const keyPath = join(tmp, 'key.pem');
      const certPath = join(tmp, 'cert.pem');
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
        { stdio: 'ignore', timeout: 30_000 },
      );
      cert = { keyPath, certPath, cert: readFileSync(certPath, 'utf8') };
    }
    return cert;
  },
};

const every = allScenarios(ctx);
if (values.list) {
  for (const s of every) console.log(`${s.id.padEnd(16)} ${s.title} (${s.contenders.map((c) => c.name).join(', ')})`);
  process.exit(0);
}
const wanted = values.only?.split(',').map((w) => w.trim()).filter(Boolean);
const picked = (id: string) => !wanted || wanted.some((w) => id === w || id.startsWith(`${w}-`));
const scenarios = every.filter((s) => picked(s.id));
const externals = (await externalScenarios()).filter((e) => picked(e.id));
if (wanted) {
  const unknown = wanted.filter((w) => ![...every, ...externals].some((s) => s.id === w || s.id.startsWith(`${w}-`)));
  if (unknown.length) {
    log(`unknown scenario ${unknown.join(', ')}; --list shows them`);
    process.exit(2);
  }
}
for (const tool of ['h2load', 'nghttp', 'openssl']) {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    log(`${tool} is missing: apt-get install nghttp2-client openssl (docs/BENCHMARKS.md)`);
    process.exit(2);
  }
}

if (values.against) {
  const dir = resolve(values.against);
  if (!existsSync(join(dir, 'src/server/index.ts'))) throw new Error(`--against ${values.against}: no src/server/index.ts there`);
  for (const s of scenarios) {
    s.contenders = s.contenders.flatMap((c) => (c.hatchway ? [c, { ...c, name: `${c.name} (${basename(dir)})`, subject: false, baseline: false, env: { BENCH_HATCHWAY_ROOT: dir } }] : [c]));
  }
}

const env: Record<string, string> = {};
if (scenarios.some((s) => s.contenders.some((c) => (c.config as { tls?: boolean } | undefined)?.tls))) {
  const { keyPath, certPath } = ctx.tls();
  Object.assign(env, { BENCH_TLS_KEY: keyPath, BENCH_TLS_CERT: certPath });
}
const o: MeasureOptions = { rounds, quick, gc: values.gc, serverFlags: values['server-flags'].split(' ').filter(Boolean), env, log };

// The estimate: each contender-round is a start, a check, a warm-up and a measured phase.
const perRound = quick ? 0.6 : 0.8 + timing.warmup + timing.seconds;
const contenderRounds = scenarios.reduce((n, s) => n + s.contenders.length, 0) * (quick ? 1 : rounds);
const profiled = profile && !quick ? scenarios.filter((s) => TARGETED.has(s.id)).length : 0;
const estimate = contenderRounds * perRound + profiled * (perRound + 1);
log(`${scenarios.length} scenarios, ${contenderRounds} contender-rounds${quick ? ' (quick)' : ` of ${timing.warmup} s warm-up + ${timing.seconds} s`}: about ${Math.ceil(estimate / 60)} min${externals.length ? ', plus bench/runtimes.ts' : ''}`);

const started = Date.now();
const machine = machineLine();
const results: ScenarioResult[] = [];
try {
  for (const s of scenarios) {
    s.setup?.();
    results.push(await measure(s, o));
    if (!values.json) console.log(`\n${scenarioTable(results.at(-1)!)}`);
  }
  for (const e of externals) {
    let rows: Record<string, unknown>[];
    try {
      rows = await e.run({ quick, rounds: quick ? 1 : rounds, seconds: timing.seconds, warmup: timing.warmup, ...(quick ? { requests: 20 } : {}), log });
    } catch (err) {
      rows = [{ name: e.id, started: false, answered: false, error: err instanceof Error ? err.message : String(err) }];
    }
    results.push({ id: e.id, title: e.title, about: 'From bench/runtimes.ts.', unit: 'req', load: 'its own', rounds: quick ? 1 : rounds, phases: quick ? 'quick' : 'its own', contenders: [], rows });
    if (!values.json) console.log(`\n${scenarioTable(results.at(-1)!)}`);
  }
} finally {
  killAll();
}

const targets = quick ? [] : evaluateTargets(results);
const profiles = new Map<string, ProfileRow[] | string>();
if (profile && !quick) {
  for (const t of targets.filter((t) => !t.met)) {
    log(`profiling the hatchway contender of ${t.scenario} (target missed)`);
    try {
      profiles.set(t.scenario, await profileSubject(scenarios.find((s) => s.id === t.scenario)!, o));
    } catch (err) {
      profiles.set(t.scenario, err instanceof Error ? err.message : String(err));
    }
  }
}
const minutes = (Date.now() - started) / 60_000;
const end = loadavg().map((n) => n.toFixed(2)).join(', ');
const head = [`Machine: ${machine}, at the end ${end}.`, `Date: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; run took ${minutes.toFixed(1)} min.`, `Command: \`${command}\``];
const targetsText = targets.length ? `### Targets (issue 16), this run\n\n${targetsTable(targets, profiles)}\n` : '';
if (values.json) {
  console.log(JSON.stringify({ machine, command, minutes, quick, scenarios: results, targets, profiles: Object.fromEntries(profiles) }, null, 2));
} else {
  console.log(`\n${head.join('\n')}\n\n${targetsText}`);
}
if (values.write) {
  const file = fileURLToPath(new URL('../docs/BENCHMARKS.md', import.meta.url));
  rewrite(file, [`## Latest run`, '', ...head.map((l) => `${l}  `), '', targetsText, '## Scenarios', '', ...results.map(scenarioTable)].join('\n'));
  log(`wrote ${file}`);
}
log(`done in ${minutes.toFixed(1)} min`);
const failed = results.flatMap((r) => r.contenders.filter((c) => c.error || !c.answered).map((c) => `${r.id}: ${c.name}: ${c.error ?? 'no answer'}`));
for (const f of failed) log(`FAILED ${f}`);
process.exitCode = failed.length ? 1 : 0;
