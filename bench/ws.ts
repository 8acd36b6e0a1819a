/**
 * WebSocket side by side: raw `ws` on node:http against hatchway's websocket escape, each
 * server in its own process, the same `ws` client here, rounds alternating.
 *
 *   npm run bench:ws                   # 3 rounds
 *   npm run bench:ws -- --rounds 5 --connections 50 --messages 2000
 *
 * Two figures per server: handshakes/s (open and close, sequentially over `--parallel`
 * clients: this is where hatchway adds its pipeline), and echo messages/s over
 * `--connections` open sockets (after the handshake the socket is ws's own).
 */
import { median, startServer, type Contender } from './lib.ts';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    handshakes: { type: 'string', default: '2000' },
    parallel: { type: 'string', default: '10' },
    connections: { type: 'string', default: '20' },
    messages: { type: 'string', default: '2000' },
  },
});
const rounds = Number(values.rounds);

function open(port: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function handshakes(port: number): Promise<number> {
  const total = Number(values.handshakes);
  let done = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: Number(values.parallel) }, async () => {
      while (done < total) {
        done++;
        const ws = await open(port);
        await new Promise((resolve) => {
          ws.once('close', resolve);
          ws.close();
        });
      }
    }),
  );
  return total / ((performance.now() - start) / 1000);
}

async function echo(port: number): Promise<number> {
  const sockets = await Promise.all(Array.from({ length: Number(values.connections) }, () => open(port)));
  const per = Number(values.messages);
  const payload = Buffer.alloc(64, 'x');
  const start = performance.now();
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          let got = 0;
          ws.on('message', () => {
            if (++got === per) resolve();
            else ws.send(payload);
          });
          ws.send(payload);
        }),
    ),
  );
  const rate = (per * sockets.length) / ((performance.now() - start) / 1000);
  for (const ws of sockets) ws.close();
  return rate;
}

const names = ['ws-raw', 'ws-hatchway'];
const servers = new Map<string, Contender>();
for (const name of names) servers.set(name, await startServer(name));
const hs = new Map<string, number[]>(names.map((n) => [n, []]));
const msgs = new Map<string, number[]>(names.map((n) => [n, []]));
try {
  for (const { port } of servers.values()) {
    await handshakes(port);
    await echo(port);
  }
  for (let round = 0; round < rounds; round++) {
    for (const name of round % 2 ? [...names].reverse() : names) {
      const { port } = servers.get(name)!;
      hs.get(name)!.push(await handshakes(port));
      msgs.get(name)!.push(await echo(port));
      process.stderr.write(`round ${round + 1}/${rounds} ${name}: ${Math.round(hs.get(name)!.at(-1)!)} handshakes/s, ${Math.round(msgs.get(name)!.at(-1)!)} messages/s\n`);
    }
  }
} finally {
  for (const { child } of servers.values()) child.kill();
}
const hsBase = median(hs.get('ws-raw')!);
const msgBase = median(msgs.get('ws-raw')!);
console.log(`\nWebSocket echo, ${values.connections} sockets × ${values.messages} 64-byte messages; handshakes over ${values.parallel} parallel clients; median of ${rounds} rounds\n`);
console.log('| server | handshakes/s | ratio | echo messages/s | ratio |');
console.log('|---|---|---|---|---|');
for (const name of names) {
  const h = median(hs.get(name)!);
  const m = median(msgs.get(name)!);
  console.log(`| ${name === 'ws-raw' ? 'raw ws on node:http' : 'hatchway websocket escape'} | ${Math.round(h)} | ${(h / hsBase).toFixed(3)} | ${Math.round(m)} | ${(m / msgBase).toFixed(3)} |`);
}
