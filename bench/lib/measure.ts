/**
 * One scenario's rounds: every contender in a fresh process each round, the order rotated from
 * round to round so that drift on a shared machine hits every contender alike; per round the
 * check, a warm-up (not counted), then the measured phase with the server's CPU time read from
 * /proc before and after, and its peak RSS (VmHWM) at the end.
 */
import { fileURLToPath } from 'node:url';
import { timing } from './load.ts';
import { cpuMicros, peakRssMiB, startServer, stopServer, type Running } from './proc.ts';
import type { ContenderResult, ContenderSpec, Driver, RoundResult, Scenario, ScenarioResult, Spread } from './types.ts';

/** How the runner runs the rounds. */
export interface MeasureOptions {
  rounds: number;
  quick: boolean;
  /** Count scavenges and mark-compacts in the measured phase (the servers run with `--trace-gc`). */
  gc: boolean;
  /** Extra Node/V8 flags for every server. */
  serverFlags: string[];
  /** Extra environment for every server (BENCH_TLS_KEY, …). */
  env: Record<string, string>;
  log: (line: string) => void;
}

/** The file of a contender's server. */
export function serverFile(spec: ContenderSpec): string {
  return fileURLToPath(new URL(`../servers/${spec.server}.ts`, import.meta.url));
}

/** Starts a contender's server with the runner's options (and any extra flags). */
export function startContender(spec: ContenderSpec, o: MeasureOptions, execArgv: string[] = []): Promise<Running> {
  return startServer(serverFile(spec), {
    config: spec.config ?? {},
    env: { ...o.env, ...spec.env },
    execArgv: [...o.serverFlags, ...(o.gc ? ['--trace-gc'] : []), ...execArgv],
    keepStdout: o.gc,
  });
}

export async function measure(scenario: Scenario, o: MeasureOptions): Promise<ScenarioResult> {
  const specs = scenario.contenders;
  const results: ContenderResult[] = specs.map((spec) => ({
    name: spec.name,
    baseline: spec.baseline === true,
    subject: spec.subject === true,
    started: false,
    answered: false,
    rounds: [],
  }));
  const rounds = o.quick ? 1 : o.rounds;
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < specs.length; k++) {
      const i = (k + round) % specs.length;
      const result = results[i]!;
      if (round > 0 && !result.started) continue; // it never started: do not try again
      const error = await oneRound(scenario, specs[i]!, o, result);
      if (error !== undefined) {
        result.error = error;
        result.failedRounds = (result.failedRounds ?? 0) + 1;
      }
      const last = result.rounds.at(-1)!;
      o.log(`${scenario.id} round ${round + 1}/${rounds} ${specs[i]!.name}: ${error !== undefined ? `FAILED ${error}` : `${fmt(last.rate)} ${scenario.unit}/s, ${last.cpuPerUnit.toFixed(2)} µs CPU/${scenario.unit}`}`);
    }
  }
  summarize(results);
  const phases = o.quick ? 'quick' : `${timing.warmup} s warm-up + ${timing.seconds} s`;
  return { id: scenario.id, title: scenario.title, about: scenario.about, unit: scenario.unit, load: scenario.load.describe, rounds, phases, contenders: results };
}

/** One fresh process of one contender: its figures go to `result.rounds`; resolves with the error of a failed round. */
async function oneRound(scenario: Scenario, spec: ContenderSpec, o: MeasureOptions, result: ContenderResult): Promise<string | undefined> {
  let server: Running | undefined;
  let driver: Driver | undefined;
  try {
    server = await startContender(spec, o);
    result.started = true;
    await scenario.check(server, spec);
    result.answered = true;
    driver = scenario.load.open(server);
    if (!o.quick) await driver.run('warm');
    const mark = server.stdout().length;
    const before = cpuMicros(server.pid);
    const sample = await driver.run(o.quick ? 'quick' : 'measure');
    const cpu = cpuMicros(server.pid) - before;
    const round: RoundResult = { rate: sample.units / sample.seconds, cpuPerUnit: cpu / sample.units, rssMiB: peakRssMiB(server.pid) };
    if (sample.p99Ms !== undefined) round.p99Ms = sample.p99Ms;
    if (o.gc) {
      await new Promise((resolve) => setTimeout(resolve, 100)); // the last trace lines
      const counts = gcCounts(server.stdout().slice(mark));
      round.gc = { scavenges: (counts.scavenges * 1e5) / sample.units, markCompacts: (counts.markCompacts * 1e5) / sample.units };
    }
    result.rounds.push(round);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await driver?.close().catch(() => {});
    if (server) await stopServer(server);
  }
}

/** Scavenges and mark-compacts in a `--trace-gc` log. */
export function gcCounts(trace: string): { scavenges: number; markCompacts: number } {
  return { scavenges: (trace.match(/: Scavenge/g) ?? []).length, markCompacts: (trace.match(/: Mark-Compact/g) ?? []).length };
}

/** The median (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function spread(xs: number[]): Spread {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/** Medians, spreads and the ratios to the baseline's medians. */
function summarize(results: ContenderResult[]): void {
  for (const r of results) {
    if (r.rounds.length === 0) continue;
    r.rate = spread(r.rounds.map((x) => x.rate));
    r.cpu = spread(r.rounds.map((x) => x.cpuPerUnit));
    r.rssMiB = median(r.rounds.map((x) => x.rssMiB));
    const p99 = r.rounds.flatMap((x) => (x.p99Ms === undefined ? [] : [x.p99Ms]));
    if (p99.length) r.p99Ms = median(p99);
    const gc = r.rounds.flatMap((x) => (x.gc ? [x.gc] : []));
    if (gc.length) r.gc = { scavenges: median(gc.map((g) => g.scavenges)), markCompacts: median(gc.map((g) => g.markCompacts)) };
  }
  const base = results.find((r) => r.baseline);
  if (!base?.rate || !base.cpu) return;
  for (const r of results) {
    if (!r.rate || !r.cpu) continue;
    r.rateRatio = r.rate.median / base.rate.median;
    r.cpuRatio = r.cpu.median / base.cpu.median;
    r.rssRatio = r.rssMiB! / base.rssMiB!;
  }
}

/** A rate for a progress line. */
function fmt(n: number): string {
  return n >= 100 ? String(Math.round(n)) : n.toFixed(1);
}
