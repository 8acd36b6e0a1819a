/**
 * `hatchway serve --workers N`: N worker processes on one port (node:cluster, round-robin),
 * in the manner of gunicorn's pre-fork master. The primary runs no app: it forks, restarts a
 * worker that dies (backing off if they keep dying), and on SIGINT/SIGTERM asks every worker
 * to stop gracefully — each finishes its requests in flight — then exits 0.
 */
import cluster, { type Worker } from 'node:cluster';

/** Workers may die this many times within a minute before the primary gives up. */
const MAX_RESTARTS_PER_MINUTE = 10;

/** Runs the primary; resolves with the exit code. */
export function runPrimary(workers: number, target: string, gracefulTimeout: number): Promise<number> {
  return new Promise((done) => {
    let stopping = false;
    let announced = false;
    const deaths: number[] = [];
    const fork = (): Worker => cluster.fork({ HATCHWAY_WORKER: '1' });
    let listening = 0;
    cluster.on('listening', (_worker, address) => {
      // Announce once every worker of the first generation takes connections.
      if (announced || ++listening < workers) return;
      announced = true;
      const host = address.addressType === 6 ? `[${address.address}]` : address.address;
      process.stdout.write(`hatchway: serving ${target} on http://${host}:${address.port} with ${workers} workers (primary ${process.pid})\n`);
    });
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) {
        if (Object.keys(cluster.workers ?? {}).length === 0) {
          process.stdout.write('hatchway: stopped\n');
          done(0);
        }
        return;
      }
      const now = Date.now();
      deaths.push(now);
      while (deaths.length && deaths[0]! < now - 60_000) deaths.shift();
      process.stderr.write(`hatchway: worker ${worker.process.pid} died (${signal ?? `exit ${code}`})\n`);
      if (deaths.length > MAX_RESTARTS_PER_MINUTE) {
        process.stderr.write(`hatchway: workers died ${deaths.length} times in a minute; giving up\n`);
        stopping = true;
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
        done(1);
        return;
      }
      fork();
    });
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`hatchway: ${signal} again, killing workers\n`);
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
        done(1);
        return;
      }
      stopping = true;
      process.stdout.write(`hatchway: ${signal}, stopping ${workers} workers gracefully\n`);
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
      // A worker stuck past its own graceful timeout is cut off.
      setTimeout(() => {
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      }, gracefulTimeout + 5_000).unref();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    for (let i = 0; i < workers; i++) fork();
  });
}

/** True in a worker forked by {@link runPrimary}. */
export function isWorker(): boolean {
  return cluster.isWorker && process.env.HATCHWAY_WORKER === '1';
}
