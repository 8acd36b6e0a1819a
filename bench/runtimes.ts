/**
 * hatchway's overhead per runtime, not a race between runtimes: the hello app through each
 * runtime's hatchway host (hatchway/server on Node, hatchway/host/bun, hatchway/host/deno,
 * hatchway/host/workerd) against the same runtime's bare server (node:http, `Bun.serve`,
 * `Deno.serve`, a bare module Worker, answering `new Response('Hello, world!')`). workerd runs
 * through miniflare (bench/servers/runtime-workerd.ts); its CPU is the workerd process's. Each server runs in its own process; h2load (C, so the
 * client does not run out of CPU first) sends a fixed number of HTTP/1.1 requests (`--h1`) to
 * each in turn, rounds interleaved (the order reverses every round so drift hits every side
 * alike); the figures are the medians of the rounds: requests/s, and the server's own CPU time
 * per request from /proc/PID/stat. `ratio` is hatchway's req/s over the bare server's.
 *
 *   node bench/runtimes.ts                               # 3 rounds × 20 000 requests, -c 16
 *   node bench/runtimes.ts --rounds 5 --requests 50000 --runtimes bun,deno
 *
 * `runtimesScenario(opts)` returns the rows for a bench runner.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './lib/measure.ts';
import { cpuMicros } from './lib/proc.ts';
import { RUNTIMES as HOSTED, spawnHost, type Runtime as Hosted } from '../test/fixtures/runtimes/hosts.ts';

/** The runtimes measured: the three with a host process of their own, and workerd. */
export const RUNTIMES = [...HOSTED, 'workerd'] as const;
export type Runtime = Hosted | 'workerd';

/** A running contender: its port, the process whose CPU is read, and how to stop it. */
interface Running {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** bench/servers/runtime-workerd.ts: miniflare in a Node process of its own, workerd's pid reported. */
function spawnWorkerd(contender: 'bare' | 'hatchway'): Promise<Running> {
  const child: ChildProcess = spawn(process.execPath, [fileURLToPath(new URL('./servers/runtime-workerd.ts', import.meta.url)), contender], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdin!.on('error', () => {});
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.once('exit', (code) => reject(new Error(`workerd ${contender} exited ${code} before it listened\n${err}`)));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const line = /^\{.*\}$/m.exec(out);
      if (line === null) return;
      const { port, pid } = JSON.parse(line[0]) as { port: number; pid: number };
      const stop = async (): Promise<void> => {
        child.stdin!.end(); // miniflare disposes of workerd, then the process exits
        const killer = setTimeout(() => {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
          child.kill('SIGKILL');
        }, 5_000);
        await exited;
        clearTimeout(killer);
      };
      resolve({ port, pid, stop });
    });
  });
}

async function start(runtime: Runtime, contender: 'bare' | 'hatchway', entry: string): Promise<Running> {
  if (runtime === 'workerd') return spawnWorkerd(contender);
  const host = await spawnHost(runtime, entry);
  return { port: host.port, pid: host.child.pid!, stop: () => host.stop() };
}

/** One row of the result: a runtime's bare server or its hatchway host. */
export interface RuntimeRow {
  runtime: Runtime;
  contender: 'bare' | 'hatchway';
  /** The server: `node:http`, `hatchway/host/bun`, … */
  server: string;
  /** Median requests per second over the rounds. */
  reqPerSec: number;
  /** Median server CPU time (user + system, every thread) per request, in µs. */
  cpuUsPerReq: number;
  /** `reqPerSec` over the same runtime's bare server's (1 for the bare server). */
  ratio: number;
  /** `cpuUsPerReq` over the same runtime's bare server's (1 for the bare server). */
  cpuRatio: number;
}

const SERVER: Record<'bare' | 'hatchway', Record<Runtime, string>> = {
  bare: { node: 'node:http', bun: 'Bun.serve', deno: 'Deno.serve', workerd: 'a bare Worker' },
  hatchway: { node: 'hatchway/server', bun: 'hatchway/host/bun', deno: 'hatchway/host/deno', workerd: 'hatchway/host/workerd' },
};

/** Options of {@link runtimesScenario}. */
export interface RuntimesOptions {
  /** Rounds (default 3). */
  rounds?: number;
  /** Requests per server per round (default 20 000). */
  requests?: number;
  /** h2load connections (default 16). */
  connections?: number;
  /** Which runtimes (default all four). */
  runtimes?: readonly Runtime[];
}

const CONTENDERS = [
  { contender: 'bare', entry: 'bench/servers/runtime-bare.ts' },
  { contender: 'hatchway', entry: 'bench/servers/runtime-hatchway.ts' },
] as const;

/** One h2load --h1 run; resolves with req/s and requests done, refusing a run with any failure. */
function h2load(port: number, requests: number, connections: number): Promise<{ reqPerSec: number; done: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('h2load', ['--h1', '-n', String(requests), '-c', String(connections), '-t', '1', `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', () => {
      const rate = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out);
      const done = /(\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
      if (rate === null || done === null || done[2] !== '0' || done[3] !== '0') reject(new Error(`h2load: ${out}`));
      else resolve({ reqPerSec: Number(rate[1]), done: Number(done[1]) });
    });
  });
}

/** Runs the bench and returns one row per runtime and contender. */
export async function runtimesScenario(opts: RuntimesOptions = {}): Promise<RuntimeRow[]> {
  const rounds = opts.rounds ?? 3;
  const requests = opts.requests ?? 20_000;
  const connections = opts.connections ?? 16;
  const sides = (opts.runtimes ?? RUNTIMES).flatMap((runtime) => CONTENDERS.map((c) => ({ runtime, ...c })));
  const hosts: Running[] = [];
  try {
    for (const side of sides) hosts.push(await start(side.runtime, side.contender, side.entry));
    for (const host of hosts) await h2load(host.port, 3_000, connections); // warm-up (JIT)
    const rates = sides.map(() => [] as number[]);
    const cpu = sides.map(() => [] as number[]);
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < sides.length; k++) {
        const i = round % 2 === 0 ? k : sides.length - 1 - k;
        const pid = hosts[i]!.pid;
        const before = cpuMicros(pid);
        const run = await h2load(hosts[i]!.port, requests, connections);
        cpu[i]!.push((cpuMicros(pid) - before) / run.done);
        rates[i]!.push(run.reqPerSec);
      }
    }
    const rows: RuntimeRow[] = sides.map((side, i) => ({
      runtime: side.runtime,
      contender: side.contender,
      server: SERVER[side.contender][side.runtime],
      reqPerSec: median(rates[i]!),
      cpuUsPerReq: median(cpu[i]!),
      ratio: 1,
      cpuRatio: 1,
    }));
    for (const row of rows) {
      const bare = rows.find((r) => r.runtime === row.runtime && r.contender === 'bare')!;
      row.ratio = row.reqPerSec / bare.reqPerSec;
      row.cpuRatio = bare.cpuUsPerReq > 0 ? row.cpuUsPerReq / bare.cpuUsPerReq : NaN;
    }
    return rows;
  } finally {
    await Promise.all(hosts.map((host) => host.stop()));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      requests: { type: 'string', default: '20000' },
      connections: { type: 'string', default: '16' },
      runtimes: { type: 'string', default: RUNTIMES.join(',') },
    },
  });
  const options = { rounds: Number(values.rounds), requests: Number(values.requests), connections: Number(values.connections), runtimes: values.runtimes.split(',') as Runtime[] };
  const rows = await runtimesScenario(options);
  console.log(`\nThe hello app per runtime, h2load --h1 -c ${options.connections}, ${options.rounds} rounds × ${options.requests} requests (medians)\n`);
  console.log('| runtime | server | req/s | req/s vs the bare server | server CPU µs/request | CPU vs the bare server |');
  console.log('|---|---|---|---|---|---|');
  for (const row of rows) {
    console.log(`| ${row.runtime} | ${row.server} | ${Math.round(row.reqPerSec)} | ${row.ratio.toFixed(2)} | ${row.cpuUsPerReq.toFixed(1)} | ${row.cpuRatio.toFixed(2)}× |`);
  }
}
