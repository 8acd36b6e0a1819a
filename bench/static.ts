/**
 * Static files, side by side: hatchway's static middleware against Express 5 + serve-static,
 * the same files (written to a temporary directory), each server in its own process, driven
 * by autocannon from this one, rounds alternated.
 *
 *   node bench/static.ts                            # 3 rounds × 3 s per case and contender
 *   node bench/static.ts --rounds 5 --seconds 5
 *
 * Cases: a 1 KiB file, a 256 KiB file, a conditional request answered 304, and a 4 KiB
 * range of the 256 KiB file. Prints req/s (median) and the ratio hatchway / Express.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { median, type Contender } from './lib.ts';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '3' }, connections: { type: 'string', default: '20' } },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const connections = Number(values.connections);

const dir = mkdtempSync(join(tmpdir(), 'hatchway-bench-static-'));
writeFileSync(join(dir, 'small.txt'), 'x'.repeat(1024));
writeFileSync(join(dir, 'large.bin'), Buffer.alloc(256 * 1024, 7));

async function startIn(name: string): Promise<Contender> {
  const child = fork(new URL(`./servers/${name}.ts`, import.meta.url), [dir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`bench server ${name} exited with ${code}`)));
  });
  return { child, port };
}

async function measure(port: number, path: string, headers: Record<string, string>, duration: number, expect: number): Promise<number> {
  const result = await autocannon({ url: `http://127.0.0.1:${port}${path}`, connections, duration, headers });
  const ok = result[`${Math.floor(expect / 100)}xx` as '2xx'] ?? 0;
  if (result.errors || ok === 0) throw new Error(`errors: ${result.errors}, ${expect}: ${ok}`);
  return result.requests.average;
}

const contenders = ['static-hatchway', 'static-express'];
const servers = new Map<string, Contender>();
for (const name of contenders) servers.set(name, await startIn(name));
// The validator each server sends for small.txt, for the 304 case.
const tags = new Map<string, string>();
for (const [name, { port }] of servers) {
  const res = await fetch(`http://127.0.0.1:${port}/small.txt`);
  tags.set(name, res.headers.get('etag')!);
}
const cases: { name: string; path: string; headers: (c: string) => Record<string, string>; expect: number }[] = [
  { name: '1 KiB file', path: '/small.txt', headers: () => ({}), expect: 200 },
  { name: '256 KiB file', path: '/large.bin', headers: () => ({}), expect: 200 },
  { name: 'If-None-Match → 304', path: '/small.txt', headers: (c) => ({ 'if-none-match': tags.get(c)! }), expect: 304 },
  { name: 'Range 4 KiB → 206', path: '/large.bin', headers: () => ({ range: 'bytes=4096-8191' }), expect: 206 },
];
const rows: string[] = [];
try {
  for (const c of cases) {
    const results = new Map<string, number[]>(contenders.map((n) => [n, []]));
    for (const [name, { port }] of servers) await measure(port, c.path, c.headers(name), 1, c.expect); // warm-up
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? contenders : [...contenders].reverse();
      for (const name of order) {
        const rps = await measure(servers.get(name)!.port, c.path, c.headers(name), seconds, c.expect);
        results.get(name)!.push(rps);
        process.stderr.write(`${c.name} round ${round + 1}/${rounds} ${name}: ${Math.round(rps)} req/s\n`);
      }
    }
    const h = median(results.get('static-hatchway')!);
    const e = median(results.get('static-express')!);
    rows.push(`| ${c.name} | ${Math.round(h)} | ${Math.round(e)} | ${(h / e).toFixed(2)} |`);
  }
} finally {
  for (const { child } of servers.values()) child.kill();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`\nStatic files, HTTP/1.1, ${connections} connections, ${rounds} × ${seconds} s rounds, median req/s\n`);
console.log('| case | hatchway static | Express + serve-static | ratio |');
console.log('|---|---|---|---|');
for (const row of rows) console.log(row);
