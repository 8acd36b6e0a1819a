/**
 * Every scenario, in the order they run and are reported. A scenario module is a function of the
 * runner's context returning scenarios; bench/runtimes.ts (other runtimes hosting hatchway) is
 * optional: when present, its `runtimesScenario(options)` runs after these and its rows are shown
 * as they are.
 */
import { existsSync } from 'node:fs';
import type { Context, Scenario } from '../lib/types.ts';
import { helloScenarios } from './hello.ts';
import { middlewareScenarios } from './middleware.ts';
import { expressScenarios } from './express.ts';
import { websocketScenarios } from './websocket.ts';
import { bodyScenarios } from './bodies.ts';
import { h2EscapeScenarios } from './h2-escapes.ts';
import { moreScenarios } from './more.ts';

export function allScenarios(ctx: Context): Scenario[] {
  return [helloScenarios, middlewareScenarios, expressScenarios, websocketScenarios, bodyScenarios, h2EscapeScenarios, moreScenarios].flatMap((make) => make(ctx));
}

/** What the runner passes to an external scenario module (bench/runtimes.ts takes `rounds` and `requests`). */
export interface ExternalOptions {
  quick: boolean;
  rounds: number;
  seconds: number;
  warmup: number;
  /** Requests per contender and round: a handful in the quick mode, the module's own default otherwise. */
  requests?: number;
  /** Progress lines (stderr). */
  log: (line: string) => void;
}

/** A scenario module outside the contender model: rows of its own (each ideally with `name`, `started`, `answered`). */
export interface External {
  id: string;
  title: string;
  run(options: ExternalOptions): Promise<Record<string, unknown>[]>;
}

/** A row of bench/runtimes.ts under the column names of the other tables. */
function runtimeColumns(r: Record<string, unknown>): Record<string, unknown> {
  const fixed = (v: unknown, digits: number) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '—');
  return {
    runtime: r['runtime'],
    server: r['server'],
    'CPU µs/request median': fixed(r['cpuUsPerReq'], 1),
    'CPU vs bare': typeof r['cpuRatio'] === 'number' && Number.isFinite(r['cpuRatio']) ? `${(r['cpuRatio'] as number).toFixed(2)}×` : '—',
    'req/s median': typeof r['reqPerSec'] === 'number' ? Math.round(r['reqPerSec'] as number) : '—',
    'req/s vs bare': fixed(r['ratio'], 2),
  };
}

/** The optional modules that exist in this checkout. */
export async function externalScenarios(): Promise<External[]> {
  const out: External[] = [];
  const runtimes = new URL('../runtimes.ts', import.meta.url);
  if (existsSync(runtimes)) {
    const mod = (await import(runtimes.href)) as { runtimesScenario?: (o: ExternalOptions) => Promise<Record<string, unknown>[]> };
    const scenario = mod.runtimesScenario;
    if (typeof scenario === 'function') {
      out.push({
        id: 'runtimes',
        title: "The hello app on each runtime (Node, Bun, Deno, workerd): its hatchway host against the same runtime's bare server",
        run: async (o) => (await scenario(o)).map(runtimeColumns),
      });
    }
  }
  return out;
}
