/**
 * Contender processes: each server is forked fresh (it reports its port over IPC), every child
 * the runner starts is tracked and killed when the runner exits for any reason, and a process's
 * CPU time and peak RSS are read from /proc.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

const live = new Set<ChildProcess>();

/** Tracks a child so that it is killed when the runner exits, however it exits. */
export function track<T extends ChildProcess>(child: T): T {
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.on('error', () => {}); // a spawn failure is reported by the caller's 'exit'/'close'
  return child;
}

/** Kills every tracked child still alive (SIGKILL: nothing they do matters any more). */
export function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

process.once('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
  });
}

/** A contender server running in its own process. */
export interface Running {
  child: ChildProcess;
  pid: number;
  port: number;
  /** The server's stdout so far, when it was asked for (`--gc` reads the trace from it). */
  stdout: () => string;
  /** The server's stderr so far (the last 8 KiB), for error messages. */
  stderr: () => string;
}

/** How to start one contender. */
export interface StartOptions {
  /** A JSON-able config, passed as the first argument (bench/servers/common.ts reads it). */
  config?: object;
  env?: Record<string, string>;
  /** Node/V8 flags for the server (`--cpu-prof`, `--trace-gc`, …). */
  execArgv?: string[];
  /** Keep the server's stdout (for `--trace-gc`). */
  keepStdout?: boolean;
  timeoutMs?: number;
}

/** Forks `file` and resolves once it reports its port; rejects if it exits or is silent for too long. */
export function startServer(file: string, options: StartOptions = {}): Promise<Running> {
  const child = track(
    fork(file, [JSON.stringify(options.config ?? {})], {
      execArgv: options.execArgv ?? [],
      env: { ...process.env, ...options.env },
      stdio: ['ignore', options.keepStdout ? 'pipe' : 'ignore', 'pipe', 'ipc'],
    }),
  );
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-8192)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`did not report its port within ${options.timeoutMs ?? 20_000} ms`)), options.timeoutMs ?? 20_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${error.message}${err ? `: ${err.trim().split('\n').slice(-6).join(' | ')}` : ''}`));
    };
    const onExit = (code: number | null, signal: string | null) => fail(new Error(`exited (${signal ?? code}) before listening`));
    child.once('exit', onExit);
    child.once('message', (m: { port: number }) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve({ child, pid: child.pid!, port: m.port, stdout: () => out, stderr: () => err });
    });
  });
}

/** Stops a contender: disconnects (it exits by itself, writing any `--cpu-prof` profile), then kills. */
export async function stopServer(server: Running, graceMs = 5000): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.disconnect();
  else child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

let ticksPerSecond: number | undefined;

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ, 100 on Linux). */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU time (user + system, every thread) a process has used so far, in µs. */
export function cpuMicros(pid: number): number {
  // Fields 14 and 15 of /proc/PID/stat (utime, stime); the command name may hold spaces.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / clockTicks();
}

/** Peak resident set size of a process so far (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
