/**
 * What every side-by-side bench shares: a contender server forked into its own process (it
 * reports its port over IPC), and the median of the rounds.
 */
import { fork, type ChildProcess } from 'node:child_process';

/** A bench server running in its own process. */
export interface Contender {
  child: ChildProcess;
  port: number;
}

/** Forks `bench/servers/<name>.ts` and resolves once it reports the port it listens on. */
export async function startServer(name: string): Promise<Contender> {
  const child = fork(new URL(`./servers/${name}.ts`, import.meta.url), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`bench server ${name} exited with ${code}`)));
  });
  return { child, port };
}

/** The median of the rounds (the upper one of an even count). */
export function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}
