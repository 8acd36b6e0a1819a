/**
 * Compression, side by side: hatchway's compression middleware against Express 5 +
 * `compression`, the same JSON payloads, gzip negotiated, each server in its own process,
 * driven by autocannon from this one, rounds alternated.
 *
 *   node bench/compression.ts                     # 3 rounds × 3 s per size and contender
 *   node bench/compression.ts --rounds 5 --seconds 5
 *
 * Prints req/s (median) per payload size and the ratio hatchway / Express.
 */
import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { median, type Contender } from './lib.ts';

/** A JSON payload of about `size` bytes that compresses as real API responses do. */
export function payload(size: number): string {
  const items: string[] = [];
  for (let i = 0, length = 2; length < size; i++) {
    const item = JSON.stringify({ id: i, name: `item ${i}`, tags: ['alpha', 'beta', i % 7 === 0 ? 'gamma' : 'delta'], price: (i * 37) % 1000 });
    items.push(item);
    length += item.length + 1;
  }
  return `[${items.join(',')}]`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '3' }, connections: { type: 'string', default: '20' } },
  });
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  const start = (name: string, size: number): Promise<Contender> => {
    const child = fork(new URL(`./servers/${name}.ts`, import.meta.url), [String(size)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new Promise((resolve, reject) => {
      child.once('message', (m: { port: number }) => resolve({ child, port: m.port }));
      child.once('exit', (code) => reject(new Error(`bench server ${name} exited with ${code}`)));
    });
  };
  const measure = async (port: number, duration: number): Promise<number> => {
    const result = await autocannon({ url: `http://127.0.0.1:${port}/`, connections, duration, headers: { 'accept-encoding': 'gzip' } });
    if (result.errors || result['2xx'] === 0) throw new Error(`errors: ${result.errors}`);
    return result.requests.average;
  };
  const contenders = ['compress-hatchway', 'compress-express'];
  const rows: string[] = [];
  for (const size of [2 * 1024, 64 * 1024]) {
    const servers = new Map<string, Contender>();
    for (const name of contenders) servers.set(name, await start(name, size));
    try {
      // Both send gzip: otherwise the comparison would be of different work.
      for (const [name, { port }] of servers) {
        const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { 'accept-encoding': 'gzip' } });
        await res.arrayBuffer();
        if (res.headers.get('content-encoding') !== 'gzip') throw new Error(`${name} did not gzip`);
        await measure(port, 1); // warm-up
      }
      const results = new Map<string, number[]>(contenders.map((n) => [n, []]));
      for (let round = 0; round < rounds; round++) {
        for (const name of round % 2 === 0 ? contenders : [...contenders].reverse()) {
          const rps = await measure(servers.get(name)!.port, seconds);
          results.get(name)!.push(rps);
          process.stderr.write(`${size} B round ${round + 1}/${rounds} ${name}: ${Math.round(rps)} req/s\n`);
        }
      }
      const h = median(results.get('compress-hatchway')!);
      const e = median(results.get('compress-express')!);
      rows.push(`| ${size / 1024} KiB JSON | ${Math.round(h)} | ${Math.round(e)} | ${(h / e).toFixed(2)} |`);
    } finally {
      for (const { child } of servers.values()) child.kill();
    }
  }
  console.log(`\nCompression (gzip), HTTP/1.1, ${connections} connections, ${rounds} × ${seconds} s rounds, median req/s\n`);
  console.log('| payload | hatchway compression | Express + compression | ratio |');
  console.log('|---|---|---|---|');
  for (const row of rows) console.log(row);
}
