/**
 * Server CPU time per request, the steadiest figure on a shared machine: h2load (a C load
 * generator, so the client does not run out of CPU first) drives a fixed number of requests at
 * each server process, HTTP/1.1 (`--h1`) and h2c, and the server's own CPU time is read from
 * /proc before and after. Rounds alternate their order so drift hits every side alike.
 *
 *   npm run bench:cpu                              # 5 rounds × 40 000 requests per side
 *   npm run bench:cpu -- --against ../old-checkout # also the hatchway of another checkout (before/after)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fork } from 'node:child_process';
import { median, type Contender } from './lib.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    requests: { type: 'string', default: '40000' },
    against: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const requests = Number(values.requests);
const here = new URL('./servers/', import.meta.url).pathname;

type Side = { name: string; file: string; h1: boolean };
const sides: Side[] = [
  { name: 'node:http', file: `${here}node-http.ts`, h1: true },
  { name: 'hatchway HTTP/1.1', file: `${here}hatchway.ts`, h1: true },
  { name: 'node:http2', file: `${here}node-http2.ts`, h1: false },
  { name: 'hatchway h2c', file: `${here}hatchway.ts`, h1: false },
];
if (values.against) {
  const other = resolve(values.against, 'bench/servers/hatchway.ts');
  sides.splice(2, 0, { name: `${values.against} HTTP/1.1`, file: other, h1: true });
  sides.push({ name: `${values.against} h2c`, file: other, h1: false });
}

function start(file: string): Promise<Contender> {
  const child = fork(file, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((ok, fail) => {
    child.once('message', (m: { port: number }) => ok({ child, port: m.port }));
    child.once('exit', (code) => fail(new Error(`${file} exited with ${code}`)));
  });
}

/** CPU seconds (user + system) of a process, from /proc/PID/stat (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function h2load(port: number, h1: boolean, n: number): Promise<number> {
  return new Promise((ok, fail) => {
    const args = [...(h1 ? ['--h1'] : []), '-n', String(n), '-c', '4', '-m', h1 ? '1' : '20', `http://127.0.0.1:${port}/`];
    const child = spawn('h2load', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', fail);
    child.on('close', () => {
      const done = /(\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
      if (!done || done[2] !== '0' || done[3] !== '0') fail(new Error(`h2load: ${out}`));
      else ok(Number(done[1]));
    });
  });
}

const servers = await Promise.all(sides.map((s) => start(s.file)));
const cpu = sides.map(() => [] as number[]);
try {
  for (let i = 0; i < sides.length; i++) await h2load(servers[i]!.port, sides[i]!.h1, 5_000); // warm-up (JIT)
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < sides.length; k++) {
      const i = round % 2 === 0 ? k : sides.length - 1 - k;
      const pid = servers[i]!.child.pid!;
      const before = cpuSeconds(pid);
      const done = await h2load(servers[i]!.port, sides[i]!.h1, requests);
      cpu[i]!.push(((cpuSeconds(pid) - before) * 1e6) / done);
    }
  }
} finally {
  for (const { child } of servers) child.kill();
}

console.log(`\nServer CPU µs per request (hello), h2load -c 4 (h2c: -m 20), ${rounds} rounds × ${requests} requests\n`);
console.log('| server | CPU µs/request (min) | median | vs bare node |');
console.log('|---|---|---|---|');
sides.forEach((side, i) => {
  const bare = side.h1 ? Math.min(...cpu[0]!) : Math.min(...cpu[sides.findIndex((s) => s.name === 'node:http2')]!);
  const min = Math.min(...cpu[i]!);
  console.log(`| ${side.name} | ${min.toFixed(1)} | ${median(cpu[i]!).toFixed(1)} | ${(min / bare).toFixed(2)}× |`);
});
