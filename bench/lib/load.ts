/**
 * The load generators, each a `Load` the runner attaches to one contender for one round:
 * h2load (C: HTTP/1.1 with `--h1`, h2c, TLS; p99 from its per-request log), nghttp (push: h2load
 * refuses pushes), the websocket client (bench/clients/ws.ts, in a process of its own so the
 * runner stays idle), and the contender itself (`self`: in-process work such as a router lookup).
 */
import { fork, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { tmpdir } from 'node:os';
import { track, type Running } from './proc.ts';
import type { Driver, Load, Phase, Sample } from './types.ts';

/** How long each phase lasts; set once by the runner from `--seconds` and `--warmup`. */
export const timing = { seconds: 3, warmup: 1 };

/** Runs a command to its end; resolves with its stdout, rejects on a non-zero exit. */
function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = track(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', (err) => reject(new Error(`${command}: ${err.message}`)));
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited ${code}: ${out.slice(-600)}`))));
  });
}

/** Seconds of an h2load duration (`2.00s`, `843.12ms`, `950us`). */
function duration(value: string, unit: string): number {
  return Number(value) / (unit === 's' ? 1 : unit === 'ms' ? 1e3 : 1e6);
}

/** The 99th percentile of h2load's per-request log (third column: µs to the end of the response). */
function p99FromLog(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const times = text
    .split('\n')
    .filter(Boolean)
    .map((line) => Number(line.split('\t')[2]))
    .sort((a, b) => a - b);
  return times.length ? times[Math.min(times.length - 1, Math.floor(times.length * 0.99))]! / 1000 : undefined;
}

let logs = 0;

/** What h2load is asked to do. */
export interface H2loadOptions {
  /** HTTP/1.1 (`--h1`); otherwise HTTP/2 (h2c, or ALPN h2 with `tls`). */
  h1?: boolean;
  tls?: boolean;
  clients: number;
  /** Streams per connection (HTTP/1.1: pipelined requests). */
  streams: number;
  path?: string;
  headers?: string[];
  /** A request body file (`-d`; makes the requests POSTs). */
  data?: string;
  /** Count MiB received instead of requests (large bodies). */
  bytes?: boolean;
  /** Fixed request counts instead of durations: the path of a run is `path` (+ `warmQuery` when warming). */
  fixed?: { measure: number; warmQuery: string };
}

/** h2load against the contender; refuses a run with any failed, errored or non-2xx request. */
export function h2load(o: H2loadOptions): Load {
  const base = [...(o.h1 ? ['--h1'] : []), ...(o.headers ?? []).flatMap((h) => ['-H', h]), ...(o.data ? ['-d', o.data] : [])];
  const shape = ['-c', String(o.clients), '-m', String(o.streams)];
  const shown = [...base, ...shape].map((a) => (a === o.data ? basename(a) : a.includes(' ') ? `'${a}'` : a));
  return {
    describe: `h2load ${shown.join(' ')}${o.fixed ? ` -n ${o.fixed.measure}` : ` -D ${timing.seconds}`}`,
    open(server: Running): Driver {
      const url = (suffix = '') => `${o.tls ? 'https' : 'http'}://127.0.0.1:${server.port}${o.path ?? '/'}${suffix}`;
      return {
        async run(phase: Phase): Promise<Sample> {
          const log = join(tmpdir(), `hatchway-bench-${process.pid}-${logs++}.log`);
          let args: string[];
          if (phase === 'quick') args = [...base, '-c', '1', '-m', '1', '-n', '5', url()];
          else if (o.fixed) args = [...base, ...shape, '-n', String(phase === 'warm' ? o.clients : o.fixed.measure), url(phase === 'warm' ? o.fixed.warmQuery : '')];
          else args = [...base, ...shape, '-D', String(phase === 'warm' ? timing.warmup : timing.seconds), url()];
          const measured = phase !== 'warm' && !o.bytes;
          if (measured) args.unshift('--log-file', log);
          try {
            return parse(await run('h2load', args), o.bytes === true, phase === 'warm', measured ? p99FromLog(log) : undefined);
          } finally {
            rmSync(log, { force: true });
          }
        },
        close: async () => {},
      };
    },
  };
}

function parse(out: string, bytes: boolean, warm: boolean, p99Ms: number | undefined): Sample {
  const finished = /finished in ([\d.]+)(s|ms|us)/.exec(out);
  const done = /(\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const traffic = /traffic: \S+ \((\d+)\) total/.exec(out);
  if (!finished || !done || !codes || !traffic) throw new Error(`h2load: unexpected output: ${out.slice(-600)}`);
  const [, succeeded, failed, errored, timeouts] = done.map(Number) as number[];
  // A response whose head came before the end of a -D run but not its body counts in the codes
  // only; so does a large body still on its way (its bytes count in the traffic), and a warm-up
  // that ends before any large body did is still a warm-up.
  const [, ok2xx, other3xx, other4xx, other5xx] = codes.map(Number) as number[];
  const nothing = bytes ? Number(traffic[1]) === 0 : succeeded === 0;
  if (failed || errored || timeouts || other3xx || other4xx || other5xx || ok2xx! < succeeded! || (nothing && !warm)) {
    throw new Error(`h2load: ${succeeded} succeeded, ${failed} failed, ${errored} errored; status codes ${ok2xx} 2xx, ${other3xx} 3xx, ${other4xx} 4xx, ${other5xx} 5xx`);
  }
  const seconds = duration(finished[1]!, finished[2]!);
  return { units: bytes ? Number(traffic[1]) / 2 ** 20 : succeeded!, seconds, ...(p99Ms === undefined ? {} : { p99Ms }) };
}

/**
 * nghttp with `-m batch` (one connection, `batch` requests, pushes accepted), repeated until the
 * phase is over: h2load refuses pushes, and one nghttp run past a few thousand requests loses some.
 */
export function nghttp(batch: number): Load {
  return {
    describe: `nghttp -n -m ${batch} (repeated)`,
    open(server: Running): Driver {
      const url = `http://127.0.0.1:${server.port}/`;
      return {
        async run(phase: Phase): Promise<Sample> {
          const m = phase === 'quick' ? 5 : batch;
          const limit = phase === 'quick' ? 0 : (phase === 'warm' ? timing.warmup : timing.seconds) * 1000;
          const start = performance.now();
          let units = 0;
          do {
            const out = await run('nghttp', ['-n', '-m', String(m), url]);
            if (/not processed|error/i.test(out)) throw new Error(`nghttp: ${out.trim().slice(-300)}`);
            units += m;
          } while (performance.now() - start < limit);
          return { units, seconds: (performance.now() - start) / 1000 };
        },
        close: async () => {},
      };
    },
  };
}

/** What the websocket client does (bench/clients/ws.ts). */
export interface WsOptions {
  mode: 'handshake' | 'echo';
  /** Message size (echo). */
  size?: number;
  /** Open sockets (echo) or parallel handshake loops. */
  sockets: number;
}

/** The websocket client, forked per contender and round; it answers each run over IPC. */
export function wsClient(o: WsOptions): Load {
  const file = new URL('../clients/ws.ts', import.meta.url);
  return {
    describe: o.mode === 'echo' ? `bench/clients/ws.ts: ${o.sockets} sockets, each echoing one ${o.size} B message at a time` : `bench/clients/ws.ts: ${o.sockets} parallel loops of open + close`,
    open(server: Running): Driver {
      const child = track(fork(file, [JSON.stringify({ ...o, port: server.port })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      return {
        run(phase: Phase): Promise<Sample> {
          const seconds = phase === 'quick' ? 0 : phase === 'warm' ? timing.warmup : timing.seconds;
          return new Promise((resolve, reject) => {
            const onExit = (code: number | null) => reject(new Error(`the websocket client exited (${code})`));
            child.once('exit', onExit);
            child.once('message', (m: Sample & { error?: string }) => {
              child.off('exit', onExit);
              if (m.error) reject(new Error(m.error));
              else resolve(m);
            });
            child.send({ seconds });
          });
        },
        async close() {
          if (child.connected) child.disconnect();
          const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(timer);
        },
      };
    },
  };
}

/** The contender does the work itself when asked over IPC (`{ run: seconds }` → `{ units }`). */
export function self(describe: string): Load {
  return {
    describe,
    open(server: Running): Driver {
      return {
        run(phase: Phase): Promise<Sample> {
          const seconds = phase === 'quick' ? 0.05 : phase === 'warm' ? timing.warmup : timing.seconds;
          return new Promise((resolve) => {
            server.child.once('message', (m: { units: number }) => resolve({ units: m.units, seconds }));
            server.child.send({ run: seconds });
          });
        },
        close: async () => {},
      };
    },
  };
}
