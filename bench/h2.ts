/**
 * HTTP/2 side by side: h2load (h2c, prior knowledge) against bare node:http2 (core API) and
 * against hatchway's one-port server (preface sniff, HTTP/2 front-end, runner, escape sink),
 * the same hello handler in each, each server in its own process, in alternating rounds.
 *
 *   npm run bench:h2                  # 3 rounds × 2 s per side
 *   npm run bench:h2 -- --rounds 5 --seconds 5 --clients 8 --streams 50
 *
 * Prints requests/s per side (median of rounds), the server process's CPU time per request
 * (from /proc, so less sensitive to whatever else the machine runs), and hatchway's ratios to
 * bare node:http2.
 */
import { spawn } from 'node:child_process';
import { median, startServer } from './lib.ts';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '2' },
    clients: { type: 'string', default: '4' },
    streams: { type: 'string', default: '20' },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const clients = Number(values.clients);
const streams = Number(values.streams);

// hatchway's bench server listens on one port for every protocol: h2c needs nothing more.
const sides = [
  { name: 'node:http2', file: 'node-http2' },
  { name: 'hatchway', file: 'hatchway' },
];

/** CPU seconds (user + system) a process has used so far, or NaN where /proc is missing. */
function cpuSeconds(pid: number): number {
  try {
    // Fields 14 and 15 of /proc/PID/stat, in clock ticks (USER_HZ, 100 on Linux).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

interface Run {
  rps: number;
  requests: number;
}

/** One h2load run; resolves with requests/s and requests done, refusing a run with any failure. */
function h2load(port: number, duration: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const args = ['-D', String(duration), '-c', String(clients), '-m', String(streams), `http://127.0.0.1:${port}/`];
    const child = spawn('h2load', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', () => {
      const rps = /finished in [^,]+, ([\d.]+) req\/s/.exec(out);
      const done = /(\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
      if (!rps || !done || done[2] !== '0' || done[3] !== '0') reject(new Error(`h2load: ${out}`));
      else resolve({ rps: Number(rps[1]), requests: Number(done[1]) });
    });
  });
}


const servers = await Promise.all(sides.map((s) => startServer(s.file)));
const results = sides.map(() => [] as number[]);
const cpu = sides.map(() => [] as number[]); // µs of server CPU per request
try {
  for (const { port } of servers) await h2load(port, 1); // warm-up (JIT)
  for (let round = 0; round < rounds; round++) {
    // Alternate which side goes first, so drift on a shared machine hits both alike.
    const order = round % 2 === 0 ? [0, 1] : [1, 0];
    for (const i of order) {
      const pid = servers[i]!.child.pid!;
      const before = cpuSeconds(pid);
      const { rps, requests } = await h2load(servers[i]!.port, seconds);
      // The warm-up period's requests are not counted by h2load but use CPU: a slight overestimate.
      const perRequest = ((cpuSeconds(pid) - before) * 1e6) / requests;
      results[i]!.push(rps);
      cpu[i]!.push(perRequest);
      process.stderr.write(`round ${round + 1}/${rounds} ${sides[i]!.name}: ${Math.round(rps)} req/s, ${perRequest.toFixed(1)} µs CPU/request\n`);
    }
  }
} finally {
  for (const { child } of servers) child.kill();
}

const base = median(results[0]!);
const baseCpu = Math.min(...cpu[0]!);
console.log(`\nHTTP/2 (h2c) hello, h2load -c ${clients} -m ${streams}, ${rounds} × ${seconds} s rounds\n`);
console.log('| server | req/s (median) | rounds | req/s ratio | server CPU µs/request (min) | CPU ratio |');
console.log('|---|---|---|---|---|---|');
sides.forEach((side, i) => {
  const m = median(results[i]!);
  const c = Math.min(...cpu[i]!);
  console.log(`| ${side.name} | ${Math.round(m)} | ${results[i]!.map((r) => Math.round(r)).join(', ')} | ${(m / base).toFixed(3)} | ${c.toFixed(1)} | ${(c / baseCpu).toFixed(2)} |`);
});
