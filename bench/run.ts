/**
 * HTTP/1.1 side-by-side benchmark: the same hello handler on bare node:http, hatchway,
 * Express and Fastify, each server in its own process, driven by autocannon from this one,
 * in interleaved rounds so drift on a shared machine hits every contender alike.
 *
 *   npm run bench                 # 3 rounds × 5 s per contender
 *   npm run bench -- --rounds 5 --seconds 10 --connections 50
 *
 * Prints requests/s per contender (median of rounds) and the ratio to bare node:http, as a
 * Markdown table for docs/BENCHMARKS.md.
 */
import { median, startServer, type Contender } from './lib.ts';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    pipelining: { type: 'string', default: '1' },
    only: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const pipelining = Number(values.pipelining);

const contenders = ['node-http', 'hatchway', 'express', 'fastify'].filter((name) => !values.only || values.only.split(',').includes(name));

async function measure(port: number, duration: number): Promise<number> {
  const result = await autocannon({ url: `http://127.0.0.1:${port}/`, connections, pipelining, duration });
  if (result.errors || result.non2xx) throw new Error(`errors: ${result.errors}, non-2xx: ${result.non2xx}`);
  return result.requests.average;
}


const servers = new Map<string, Contender>();
for (const name of contenders) servers.set(name, await startServer(name));
const results = new Map<string, number[]>(contenders.map((n) => [n, []]));
try {
  for (const [, { port }] of servers) await measure(port, 1); // warm-up (JIT)
  for (let round = 0; round < rounds; round++) {
    // rotate the order each round
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]!);
    for (const name of order) {
      const rps = await measure(servers.get(name)!.port, seconds);
      results.get(name)!.push(rps);
      process.stderr.write(`round ${round + 1}/${rounds} ${name}: ${Math.round(rps)} req/s\n`);
    }
  }
} finally {
  for (const { child } of servers.values()) child.kill();
}

const base = median(results.get('node-http') ?? [NaN]);
console.log(`\nHTTP/1.1 hello, ${connections} connections, pipelining ${pipelining}, ${rounds} × ${seconds} s rounds, median req/s\n`);
console.log('| server | req/s (median) | rounds | ratio to node:http |');
console.log('|---|---|---|---|');
for (const name of contenders) {
  const rs = results.get(name)!;
  const m = median(rs);
  console.log(`| ${name} | ${Math.round(m)} | ${rs.map((r) => Math.round(r)).join(', ')} | ${(m / base).toFixed(3)} |`);
}
