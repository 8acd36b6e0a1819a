/**
 * The websocket load client, forked by the runner (bench/lib/load.ts) so that its CPU is not the
 * runner's. Config (JSON, first argument): `{ port, mode: 'handshake' | 'echo', size, sockets }`.
 * Each IPC message `{ seconds }` runs one phase and answers `{ units, seconds, p99Ms }`:
 *
 * - `handshake`: `sockets` loops, each opening a websocket and closing it again, one at a time;
 *   a unit is one handshake (open and close), its latency the time to 'open'.
 * - `echo`: `sockets` open sockets (opened once, on the first phase), each sending one message of
 *   `size` bytes and waiting for its echo before the next; a unit is one echoed message.
 *
 * `seconds: 0` is the quick mode: a handful of units, each checked (an echo must come back equal).
 */
import WebSocket from 'ws';

interface Config {
  port: number;
  mode: 'handshake' | 'echo';
  size?: number;
  sockets: number;
}
const config = JSON.parse(process.argv[2]!) as Config;
const url = `ws://127.0.0.1:${config.port}/`;

function open(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('error', reject);
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', () => {}); // a later error shows as a 'close'
      resolve(ws);
    });
  });
}

function p99(times: number[]): number | undefined {
  if (times.length === 0) return undefined;
  times.sort((a, b) => a - b);
  return times[Math.min(times.length - 1, Math.floor(times.length * 0.99))];
}

async function handshakes(seconds: number): Promise<{ units: number; times: number[] }> {
  const end = performance.now() + seconds * 1000;
  const quota = seconds === 0 ? 3 : Infinity;
  const times: number[] = [];
  await Promise.all(
    Array.from({ length: config.sockets }, async () => {
      let mine = 0;
      do {
        const t0 = performance.now();
        const ws = await open();
        times.push(performance.now() - t0);
        await new Promise((resolve) => {
          ws.once('close', resolve);
          ws.close();
        });
      } while (++mine < quota && performance.now() < end);
    }),
  );
  return { units: times.length, times };
}

let sockets: WebSocket[] | undefined;

async function echo(seconds: number): Promise<{ units: number; times: number[] }> {
  sockets ??= await Promise.all(Array.from({ length: config.sockets }, open));
  const payload = Buffer.alloc(config.size ?? 64, 'x');
  const end = performance.now() + seconds * 1000;
  const quota = seconds === 0 ? 3 : Infinity;
  const times: number[] = [];
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve, reject) => {
          let mine = 0;
          let t0 = performance.now();
          const onMessage = (data: Buffer) => {
            times.push(performance.now() - t0);
            if (seconds === 0 && !payload.equals(data)) return reject(new Error(`the echo of ${payload.length} bytes came back as ${data.length} different bytes`));
            if (++mine >= quota || performance.now() >= end) {
              ws.off('message', onMessage);
              return resolve();
            }
            t0 = performance.now();
            ws.send(payload);
          };
          ws.on('message', onMessage);
          ws.once('close', () => reject(new Error('the server closed the socket')));
          ws.send(payload);
        }),
    ),
  );
  return { units: times.length, times };
}

process.on('message', (m: { seconds: number }) => {
  const start = performance.now();
  (config.mode === 'echo' ? echo(m.seconds) : handshakes(m.seconds)).then(
    ({ units, times }) => process.send!({ units, seconds: (performance.now() - start) / 1000, p99Ms: p99(times) }),
    (err: Error) => process.send!({ error: err.message }),
  );
});
process.on('disconnect', () => {
  for (const ws of sockets ?? []) ws.terminate();
  process.exit(0);
});
