/** Markdown for the terminal and docs/BENCHMARKS.md: one table per scenario, the targets, the profiles. */
import { cpus, loadavg, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import type { ProfileRow } from './profile.ts';
import type { TargetRow } from './targets.ts';
import type { ContenderResult, ScenarioResult, Spread } from './types.ts';

/** A rate: thousands grouped, one decimal below 100. */
export function rate(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1);
}

/** A CPU time in µs: three significant digits. */
export function micros(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

// A ratio to a baseline that measured no CPU (a quick run's few requests) is no figure.
const ratio = (n: number | undefined, suffix: string) => (n === undefined || !Number.isFinite(n) ? '—' : `${n.toFixed(2)}${suffix}`);
const range = (s: Spread, f: (n: number) => string) => `${f(s.median)} (${f(s.min)}–${f(s.max)})`;

function row(c: ContenderResult, gc: boolean): string {
  const failed = c.failedRounds ? `; ${c.failedRounds} round${c.failedRounds === 1 ? '' : 's'} failed: ${c.error!.replace(/\|/g, '/').slice(0, 160)}` : '';
  const name = `${c.name}${c.baseline ? ' (baseline)' : ''}${c.rate ? failed : ''}`;
  if (!c.rate || !c.cpu) return `| ${name} | ${c.error ? `failed: ${c.error.replace(/\|/g, '/').slice(0, 200)}` : 'no figures'} |${' |'.repeat(gc ? 6 : 5)}`;
  const cells = [
    name,
    range(c.cpu, micros),
    c.baseline ? '1.00×' : ratio(c.cpuRatio, '×'),
    range(c.rate, rate),
    c.baseline ? '1.00' : ratio(c.rateRatio, ''),
    c.p99Ms === undefined ? '—' : c.p99Ms.toFixed(2),
    c.rssMiB!.toFixed(0),
  ];
  if (gc) cells.push(c.gc ? `${c.gc.scavenges.toFixed(0)} / ${c.gc.markCompacts.toFixed(1)}` : '—');
  return `| ${cells.join(' | ')} |`;
}

/** One scenario's table, with its heading and what it measures. */
export function scenarioTable(s: ScenarioResult): string {
  const out = [`### ${s.title} — \`${s.id}\``, '', `${s.about} Load: \`${s.load}\`; ${s.rounds} round${s.rounds === 1 ? '' : 's'} (${s.phases}), a fresh process per contender and round.`, ''];
  if (s.rows) return [...out, genericTable(s.rows), ''].join('\n');
  const gc = s.contenders.some((c) => c.gc);
  const u = s.unit;
  out.push(
    `| contender | CPU µs/${u} median (min–max) | CPU vs baseline | ${u}/s median (min–max) | ${u}/s vs baseline | p99 ms | peak RSS MiB |${gc ? ` scavenges / mark-compacts per 100k ${u} |` : ''}`,
    `|---|---|---|---|---|---|---|${gc ? '---|' : ''}`,
    ...s.contenders.map((c) => row(c, gc)),
    '',
  );
  return out.join('\n');
}

/** Rows of an external scenario module, whatever their keys. */
function genericTable(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '(no rows)';
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : v === undefined || v === null ? '—' : String(v).replace(/\|/g, '/'));
  return [`| ${keys.join(' | ')} |`, `|${'---|'.repeat(keys.length)}`, ...rows.map((r) => `| ${keys.map((k) => cell(r[k])).join(' | ')} |`)].join('\n');
}

/** The targets table, each missed target followed by the profile that explains it. */
export function targetsTable(rows: TargetRow[], profiles: Map<string, ProfileRow[] | string>): string {
  const out = ['| scenario | target | measured | |', '|---|---|---|---|'];
  for (const t of rows) out.push(`| \`${t.scenario}\` | ${t.target} | ${t.measured} | ${t.met ? 'met' : '**missed**'} |`);
  const missed = rows.filter((t) => !t.met && profiles.has(t.scenario));
  for (const t of missed) {
    const p = profiles.get(t.scenario)!;
    out.push('', `**\`${t.scenario}\` missed — hatchway contender under \`--cpu-prof\`, top self time over warm-up and measured phase (share of busy samples; then hatchway's own next functions):**`, '');
    if (typeof p === 'string') out.push(`(profile failed: ${p})`);
    else out.push('| self | function | where |', '|---|---|---|', ...p.map((f) => `| ${f.selfPct.toFixed(1)} % | \`${f.fn}\` | ${f.where ? `\`${f.where}\`` : '(V8)'} |`));
  }
  return out.join('\n');
}

/** CPU model × count, memory, Node version and the load average: which machine, how busy. */
export function machineLine(): string {
  let model = cpus()[0]?.model ?? 'unknown CPU';
  try {
    model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? model;
  } catch {
    // not Linux: os.cpus() it is
  }
  const load = loadavg().map((n) => n.toFixed(2)).join(', ');
  return `${cpus().length} × ${model}, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; load average at the start ${load}`;
}
