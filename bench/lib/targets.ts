/**
 * Issue 16's targets, evaluated on the run's own figures: each row names its scenario, the
 * target in words, what was measured, and whether it was met. "Ahead of" a peer means a lower
 * median server CPU per unit (the headline figure); req/s are shown beside it.
 */
import type { ContenderResult, ScenarioResult } from './types.ts';

/** One evaluated row of the targets table. */
export interface TargetRow {
  scenario: string;
  target: string;
  measured: string;
  met: boolean;
}

interface TargetSpec {
  scenario: string;
  target: string;
  evaluate(s: ScenarioResult): { measured: string; met: boolean } | undefined;
}

const x = (n: number | undefined) => (n === undefined ? '—' : `${n.toFixed(2)}×`);
const r = (n: number | undefined) => (n === undefined ? '—' : n.toFixed(2));

function subject(s: ScenarioResult): ContenderResult | undefined {
  const c = s.contenders.find((c) => c.subject);
  return c?.rate && c.cpu ? c : undefined;
}

/** ≥ `rate` of the baseline's rate and ≤ `cpu`× its CPU, and ahead of the contender named `peer`. */
function parity(rate: number, cpu: number | undefined, peer?: string): TargetSpec['evaluate'] {
  return (s) => {
    const c = subject(s);
    if (!c) return undefined;
    const other = peer === undefined ? undefined : s.contenders.find((o) => o.name.startsWith(peer));
    const ahead = other?.cpu ? c.cpu!.median < other.cpu.median : undefined;
    const parts = [`${r(c.rateRatio)} req/s`, ...(cpu === undefined ? [] : [`${x(c.cpuRatio)} CPU`])];
    if (other) parts.push(other.cpu ? `${other.name}: ${r(other.rateRatio)} req/s, ${x(other.cpuRatio)} CPU` : `${other.name}: no figures`);
    const met = c.rateRatio! >= rate && (cpu === undefined || c.cpuRatio! <= cpu) && (peer === undefined || ahead === true);
    return { measured: parts.join('; '), met };
  };
}

/** ≥ `rate` of the baseline's throughput and, with `rss`, peak RSS within `rss`×. */
function throughput(rate: number, rss?: number): TargetSpec['evaluate'] {
  return (s) => {
    const c = subject(s);
    if (!c) return undefined;
    const parts = [`${r(c.rateRatio)} of the baseline's ${s.unit}/s`, `${x(c.cpuRatio)} CPU`];
    if (rss !== undefined) parts.push(`RSS ${x(c.rssRatio)}`);
    return { measured: parts.join('; '), met: c.rateRatio! >= rate && (rss === undefined || c.rssRatio! <= rss) };
  };
}

const HELLO_H1 = '≥ 0.95 of bare node:http in req/s, ≤ 1.05× its CPU per request; ahead of Fastify';
const HELLO_H2 = '≥ 0.90 of bare node:http2 core in req/s, ≤ 1.10× its CPU per request; ahead of Fastify http2';

const TARGETS: TargetSpec[] = [
  { scenario: 'h1-hello', target: HELLO_H1, evaluate: parity(0.95, 1.05, 'Fastify') },
  { scenario: 'h1-pipelined', target: HELLO_H1, evaluate: parity(0.95, 1.05, 'Fastify') },
  { scenario: 'h2c-hello', target: HELLO_H2, evaluate: parity(0.9, 1.1, 'Fastify') },
  { scenario: 'h2-tls-hello', target: HELLO_H2, evaluate: parity(0.9, 1.1, 'Fastify') },
  {
    scenario: 'five-middleware',
    target: '≤ 1.25× bare node:http hello CPU per request',
    evaluate: (s) => {
      const c = subject(s);
      return c && { measured: `${x(c.cpuRatio)} CPU; ${r(c.rateRatio)} req/s`, met: c.cpuRatio! <= 1.25 };
    },
  },
  { scenario: 'express-h1', target: '≥ 0.95 of Express on node:http in req/s', evaluate: parity(0.95, undefined) },
  {
    scenario: 'express-h2',
    target: 'ahead of any other way to run Express on HTTP/2 (here: http2-express on node:http2)',
    evaluate: (s) => {
      const c = subject(s);
      return c && { measured: `${r(c.rateRatio)} req/s, ${x(c.cpuRatio)} CPU of http2-express`, met: c.cpuRatio! < 1 };
    },
  },
  { scenario: 'ws-echo-64', target: '≥ 0.97 of raw ws in messages/s', evaluate: throughput(0.97) },
  { scenario: 'ws-echo-64k', target: '≥ 0.97 of raw ws in messages/s', evaluate: throughput(0.97) },
  { scenario: 'ws-handshake', target: '≥ 0.85 of raw ws in handshakes/s (through three middleware)', evaluate: throughput(0.85) },
  { scenario: 'stream-1g', target: '≥ 0.90 of bare piping in throughput, peak RSS within 1.2×', evaluate: throughput(0.9, 1.2) },
  { scenario: 'static-64m', target: '≥ 0.90 of bare piping in throughput, peak RSS within 1.2×', evaluate: throughput(0.9, 1.2) },
  { scenario: 'grpc-unary', target: '≥ 1.0 of @grpc/grpc-js\'s server in calls/s', evaluate: parity(1.0, undefined) },
];

/** The scenarios that have a target (the runner's estimate counts a profile for each). */
export const TARGETED = new Set(TARGETS.map((t) => t.scenario));

/** The targets whose scenario ran and has figures. */
export function evaluateTargets(results: ScenarioResult[]): TargetRow[] {
  const rows: TargetRow[] = [];
  for (const t of TARGETS) {
    const s = results.find((s) => s.id === t.scenario);
    const e = s && t.evaluate(s);
    if (e) rows.push({ scenario: t.scenario, target: t.target, ...e });
  }
  return rows;
}
