/**
 * The profile that explains a missed target: the scenario's hatchway contender runs once more
 * with `--cpu-prof` under the same load (warm-up and measured phase), and the functions with the
 * most self time in the profile are listed with their file and line.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startContender, type MeasureOptions } from './measure.ts';
import { stopServer } from './proc.ts';
import type { Scenario } from './types.ts';

/** One function of a profile. */
export interface ProfileRow {
  fn: string;
  /** `src/server/http2.ts:123`, `node:internal/streams/writable:456`, or '' (V8's own). */
  where: string;
  /** Share of the busy samples (idle excluded) spent in the function itself. */
  selfPct: number;
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function where(url: string, line: number): string {
  if (!url) return '';
  const path = url.startsWith('file://') ? relative(ROOT, fileURLToPath(url)) : url;
  return `${path}:${line + 1}`;
}

/** hatchway's own code: what the lead can cut. */
const OWN = /^(src|middleware|adapters)\//;

/**
 * The `top` functions by self time of a `.cpuprofile` (samples from `skipUs` after its start on:
 * the start-up, module loading and type stripping, is left out), then up to `own` more of hatchway's own
 * (src/, middleware/, adapters/) that are not among them: a hello server spends most of its time
 * in the socket write, and what hatchway adds is further down.
 */
export function topSelf(profile: CpuProfile, skipUs = 0, top = 8, own = 5): ProfileRow[] {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<string, { fn: string; where: string; us: number }>();
  let busy = 0;
  let at = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    at += us;
    const frame = byNode.get(id)!;
    if (frame.functionName === '(idle)' || at < skipUs) return;
    busy += us;
    const key = `${frame.functionName}|${frame.url}|${frame.lineNumber}`;
    const entry = self.get(key) ?? { fn: frame.functionName || '(anonymous)', where: where(frame.url, frame.lineNumber), us: 0 };
    entry.us += us;
    self.set(key, entry);
  });
  const sorted = [...self.values()].sort((a, b) => b.us - a.us);
  const ours = sorted.slice(top).filter((e) => OWN.test(e.where)).slice(0, own);
  return [...sorted.slice(0, top), ...ours].map((e) => ({ fn: e.fn, where: e.where, selfPct: (100 * e.us) / busy }));
}

/** Reruns the scenario's subject under `--cpu-prof` and returns its top self-time functions. */
export async function profileSubject(scenario: Scenario, o: MeasureOptions): Promise<ProfileRow[]> {
  const spec = scenario.contenders.find((c) => c.subject);
  if (!spec) throw new Error(`${scenario.id} has no hatchway contender to profile`);
  const dir = mkdtempSync(join(tmpdir(), 'hatchway-bench-prof-'));
  let startUp = 0; // µs from the spawn to the warm-up: left out of the profile
  try {
    const spawned = performance.now();
    const server = await startContender(spec, { ...o, gc: false }, ['--cpu-prof', '--cpu-prof-dir', dir]);
    try {
      await scenario.check(server, spec);
      const driver = scenario.load.open(server);
      try {
        startUp = (performance.now() - spawned) * 1000;
        await driver.run('warm');
        await driver.run('measure');
      } finally {
        await driver.close();
      }
    } finally {
      await stopServer(server, 15_000); // the profile is written as it exits
    }
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('no .cpuprofile was written');
    return topSelf(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile, startUp);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
