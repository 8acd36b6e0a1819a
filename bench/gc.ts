/**
 * GC behaviour of one server under h2load: the server is forked with `--trace-gc` (plus any
 * extra V8 flags), warmed up, then driven with a fixed number of requests; prints its CPU µs
 * per request (from /proc) and the scavenges, their total pause and the mark-compacts seen
 * during the measured run. The lead of issue 16: a server in the "slow GC mode" shows few,
 * long scavenges (10–40 ms, a third of the young generation surviving) and a mark-compact
 * every few hundred ms; bare node:http2 shows ~50 scavenges of ~1 ms per 100 000 requests.
 *
 *   node bench/gc.ts                                          # hatchway, h2c, 100 000 requests
 *   node bench/gc.ts --server node-http2 --proto h2
 *   node bench/gc.ts --server hatchway --proto h1 --requests 100000 -- --no-allocation-site-pretenuring
 */
import { fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    server: { type: 'string', default: 'hatchway' },
    proto: { type: 'string', default: 'h2' },
    requests: { type: 'string', default: '100000' },
  },
});
const file = values.server.includes('/') ? values.server : new URL(`./servers/${values.server}.ts`, import.meta.url).pathname;
const h1 = values.proto === 'h1';

const child = fork(file, { execArgv: ['--trace-gc', ...positionals], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
let trace = '';
child.stdout!.setEncoding('utf8').on('data', (d: string) => (trace += d));
const port = await new Promise<number>((ok) => child.once('message', (m: { port: number }) => ok(m.port)));

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function h2load(n: number): Promise<number> {
  const args = [...(h1 ? ['--h1'] : []), '-n', String(n), '-c', '4', '-m', h1 ? '1' : '20', `http://127.0.0.1:${port}/`];
  return new Promise((ok, fail) => {
    const p = spawn('h2load', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.on('error', fail);
    p.on('close', () => ok(Number(/(\d+) succeeded/.exec(out)?.[1] ?? 0)));
  });
}

await h2load(5_000); // warm-up (JIT), not counted
await new Promise((r) => setTimeout(r, 300));
const mark = trace.length;
const before = cpuSeconds(child.pid!);
const done = await h2load(Number(values.requests));
const cpu = cpuSeconds(child.pid!) - before;
await new Promise((r) => setTimeout(r, 200)); // the last trace lines
const run = trace.slice(mark);
const pauses = [...run.matchAll(/Scavenge [^,]*, pooled: [^,]*, ([\d.]+) /g)].map((m) => Number(m[1]));
const markCompacts = (run.match(/Mark-Compact/g) ?? []).length;
console.log(
  `${values.server} ${values.proto}: ${((cpu * 1e6) / done).toFixed(1)} µs/request; ` +
    `${pauses.length} scavenges (${pauses.reduce((a, b) => a + b, 0).toFixed(0)} ms, longest ${Math.max(0, ...pauses).toFixed(1)} ms), ` +
    `${markCompacts} mark-compacts per ${done} requests`,
);
child.kill();
process.exit(0);
