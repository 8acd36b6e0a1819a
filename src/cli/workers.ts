/**
 * The supervisor of `hatchway serve --workers N` (and of `--max-requests` and `--reload`),
 * in the manner of gunicorn's arbiter. The primary runs no app: it owns the listening socket
 * for the whole life of the service (TCP, `--uds`, `--fd` or systemd's `LISTEN_FDS`) and
 * passes each connection it accepts to a ready worker, round-robin, over the worker's IPC
 * channel. So the port never closes while workers come and go: a connection that arrives
 * while no worker is ready waits in the primary until one is (node:cluster's own round-robin
 * would close the port when the last worker exits, and bind a new one for `--port 0`).
 *
 * - A worker that fails to boot (its module does not load, its port cannot be bound) before
 *   the service is up stops the start: its error is printed once and the primary exits 1.
 *   Once the service is up, a replacement that fails to boot is logged and retried with
 *   backoff while the other workers serve; a SIGHUP or reload whose new worker fails to
 *   boot keeps the old workers.
 * - A worker that dies while serving is always replaced — never a permanent outage — after a
 *   backoff that grows only while deaths come faster than one per {@link DEATH_WINDOW} ms per
 *   worker; each death is logged with its exit code or signal and what that usually means.
 * - `--max-requests N` (+ `--max-requests-jitter J`): a worker that served its share tells the
 *   primary, which forks its replacement at once; the old one finishes what it has in flight.
 * - SIGHUP (and `--reload` on a change): the workers are replaced one at a time — a new one is
 *   forked and must be ready before an old one is asked to stop gracefully — so no
 *   connection is dropped.
 * - SIGINT/SIGTERM: every worker stops gracefully (up to `--graceful-timeout`), then exit 0;
 *   a second signal kills them and exits 1.
 */
import cluster, { type Worker } from 'node:cluster';
import { lstatSync, unlinkSync, watch, type FSWatcher } from 'node:fs';
import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Logger } from './log.ts';

/** The internal environment a worker is started with (double underscore: never a flag). */
export const WORKER_ENV = 'HATCHWAY__WORKER';
export const WORKER_MAX_REQUESTS_ENV = 'HATCHWAY__MAX_REQUESTS';

/** Deaths closer together than this (per worker) make the next replacement wait. */
const DEATH_WINDOW = 2_000;
/** The longest a replacement waits after a death while serving. */
const MAX_BACKOFF = 2_000;
/** The longest a replacement waits after a failed boot, once the service is up. */
const MAX_BOOT_BACKOFF = 30_000;

/** A connection waits at most this long in the primary for a ready worker. */
const QUEUE_TIMEOUT = 30_000;

/** What a worker tells its primary. */
export type WorkerMessage =
  | { hatchway: 'ready' }
  | { hatchway: 'boot-failed'; error: string }
  | { hatchway: 'retire'; requests: number }
  /** It has connection `id` and reads it from now on. */
  | { hatchway: 'took'; id: number };

/** What the primary tells a worker: a connection (the socket rides along), or stop gracefully. */
export type PrimaryMessage = { hatchway: 'connection'; id: number } | { hatchway: 'stop'; reason: string };

/** Where the primary listens. */
export interface Place {
  host: string;
  port: number;
  path?: string | undefined;
  fd?: number | undefined;
  backlog?: number | undefined;
  /** `https` with --tls-cert (the workers run TLS; the primary passes bytes it never reads). */
  scheme: 'http' | 'https';
}

export interface SupervisorOptions {
  workers: number;
  target: string;
  gracefulTimeout: number;
  maxRequests: number;
  maxRequestsJitter: number;
  /** Watch this directory and restart the workers (one at a time) on a change. */
  reload?: string | undefined;
  place: Place;
  log: Logger;
}

interface State {
  state: 'booting' | 'ready' | 'retiring';
  pid: number;
  readyAt: number;
  bootError?: string;
  /** Resolves when it is ready (true) or died before (false). */
  ready: Promise<boolean>;
  /** Connections sent to it that it has not said it took, by id. */
  passing: Map<number, Socket>;
  settle: (ok: boolean) => void;
  exited: Promise<void>;
  onExit: () => void;
}

/** What an exit code or signal usually means, for the log line. */
export function describeDeath(code: number | null, signal: string | null): string {
  if (signal === 'SIGKILL') return 'killed by SIGKILL (out of memory, or killed from outside)';
  if (signal === 'SIGSEGV' || signal === 'SIGBUS' || signal === 'SIGILL' || signal === 'SIGFPE') return `killed by ${signal} (a native crash)`;
  if (signal === 'SIGABRT') return 'killed by SIGABRT (a fatal error in Node or V8, e.g. heap out of memory)';
  if (signal) return `killed by ${signal}`;
  if (code === 134) return 'exit code 134 (aborted: a fatal error in Node or V8)';
  if (code === 0) return 'exit code 0 (process.exit() in the app, or a SIGTERM sent to the worker itself)';
  return `exit code ${code}${code === 1 ? ' (an uncaught error, or process.exit(1))' : ''}`;
}

/** Binds the primary's listening socket; rejects with one line saying where and why. */
function bind(place: Place): Promise<NetServer> {
  return new Promise((resolve, reject) => {
    // The primary never reads a byte: each connection goes to a worker untouched.
    const server = createServer({ pauseOnConnect: true, noDelay: true });
    const where = place.path !== undefined ? `unix socket ${place.path}` : place.fd !== undefined ? `fd ${place.fd}` : `${place.host}:${place.port}`;
    server.once('error', (err) => reject(new Error(`cannot listen on ${where}: ${err.message}`)));
    if (place.path !== undefined) {
      try {
        if (lstatSync(place.path).isSocket()) unlinkSync(place.path);
      } catch {
        // nothing there
      }
    }
    const backlog = place.backlog === undefined ? {} : { backlog: place.backlog };
    const target = place.path !== undefined ? { path: place.path } : place.fd !== undefined ? { fd: place.fd } : { port: place.port, host: place.host };
    server.listen({ ...target, ...backlog }, () => resolve(server));
  });
}

function urlOf(server: NetServer, scheme: string): string {
  const address = server.address() as AddressInfo | string;
  if (typeof address === 'string') return `${scheme}+unix:${address}`;
  return `${scheme}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
}

/** Runs the primary; resolves with the exit code. */
export async function runPrimary(options: SupervisorOptions): Promise<number> {
  const { workers, target, gracefulTimeout, maxRequests, maxRequestsJitter, log } = options;
  let listener: NetServer;
  try {
    listener = await bind(options.place);
  } catch (err) {
    log.error((err as Error).message);
    return 1;
  }
  const url = urlOf(listener, options.place.scheme);
  return new Promise((done) => {
    const states = new Map<Worker, State>();
    let stopping = false;
    let up = false;
    let finished = false;
    const deaths: number[] = [];
    let bootFailures = 0;
    const timers = new Set<NodeJS.Timeout>();
    let watcher: FSWatcher | undefined;
    /** Connections that arrived while no worker was ready, oldest first. */
    const queue: { socket: Socket; since: number }[] = [];
    let next = 0;
    const finish = (code: number): void => {
      if (finished) return;
      finished = true;
      for (const timer of timers) clearTimeout(timer);
      watcher?.close();
      clearInterval(expire);
      listener.close();
      for (const { socket } of queue.splice(0)) socket.destroy();
      done(code);
    };
    const later = (ms: number, fn: () => void): void => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        fn();
      }, ms);
      timers.add(timer);
    };

    const ready = (): Worker[] => [...states.entries()].filter(([w, s]) => s.state === 'ready' && w.isConnected()).map(([w]) => w);
    /** Hands a connection to the next ready worker, or queues it. */
    const dispatch = (socket: Socket): void => {
      if (socket.destroyed) return;
      const candidates = ready();
      if (candidates.length === 0) {
        queue.push({ socket, since: Date.now() });
        return;
      }
      const worker = candidates[next++ % candidates.length]!;
      const id = ++connectionIds;
      const mine = states.get(worker)!.passing;
      mine.set(id, socket);
      // The primary keeps its copy of the socket until the worker says it took it: a worker
      // that dies first never read a byte of it, so another worker gets it, untouched.
      worker.send({ hatchway: 'connection', id } satisfies PrimaryMessage, socket, { keepOpen: true }, (err) => {
        if (err && mine.delete(id)) dispatch(socket);
      });
    };
    let connectionIds = 0;
    const flush = (): void => {
      while (queue.length && ready().length) dispatch(queue.shift()!.socket);
    };
    const expire = setInterval(() => {
      const now = Date.now();
      while (queue.length && queue[0]!.since < now - QUEUE_TIMEOUT) queue.shift()!.socket.destroy();
    }, 1_000);
    expire.unref();
    listener.on('connection', (socket: Socket) => {
      socket.on('error', () => socket.destroy());
      if (stopping) socket.destroy();
      else dispatch(socket);
    });
    listener.on('error', (err) => log.error(`listening socket: ${err.message}`));

    const fork = (): Worker => {
      const share = maxRequests > 0 ? maxRequests + Math.floor(Math.random() * (maxRequestsJitter + 1)) : 0;
      const worker = cluster.fork({ [WORKER_ENV]: '1', [WORKER_MAX_REQUESTS_ENV]: String(share) });
      let settle!: (ok: boolean) => void;
      let onExit!: () => void;
      const state: State = {
        state: 'booting',
        pid: worker.process.pid ?? 0,
        readyAt: 0,
        passing: new Map(),
        ready: new Promise((resolve) => (settle = resolve)),
        settle: (ok) => settle(ok),
        exited: new Promise((resolve) => (onExit = resolve)),
        onExit: () => onExit(),
      };
      states.set(worker, state);
      worker.on('message', (message: WorkerMessage) => onMessage(worker, state, message));
      // An IPC channel that breaks (the worker is dying) must not take the primary down.
      worker.on('error', () => {});
      return worker;
    };

    /** Asks a worker to finish what it has and exit; no new connection goes to it. */
    const retire = (worker: Worker, reason: string): void => {
      const state = states.get(worker);
      if (!state) return;
      state.state = 'retiring';
      if (worker.isConnected()) worker.send({ hatchway: 'stop', reason } satisfies PrimaryMessage, undefined, {}, () => {});
      else worker.process.kill('SIGTERM');
      // A worker stuck past its own graceful timeout is cut off.
      const timer = setTimeout(() => worker.process.kill('SIGKILL'), gracefulTimeout + 5_000);
      timer.unref();
      void state.exited.then(() => clearTimeout(timer));
    };

    const onMessage = (worker: Worker, state: State, message: WorkerMessage): void => {
      if (!message || typeof message !== 'object') return;
      if (message.hatchway === 'ready') {
        if (state.state === 'booting') state.state = 'ready';
        state.readyAt = Date.now();
        bootFailures = 0;
        state.settle(true);
        flush();
        if (!up && ready().length >= workers) {
          up = true;
          log.info(`serving ${target} on ${url} with ${workers} worker${workers === 1 ? '' : 's'} (primary ${process.pid})`);
        }
      } else if (message.hatchway === 'took') {
        const socket = state.passing.get(message.id);
        state.passing.delete(message.id);
        // Closes only the primary's descriptor: the connection lives on in the worker.
        socket?.destroy();
      } else if (message.hatchway === 'boot-failed') {
        state.bootError = message.error;
      } else if (message.hatchway === 'retire') {
        if (stopping || state.state !== 'ready') return;
        log.info(`worker ${state.pid} served ${message.requests} requests (--max-requests): replacing it`);
        // It takes no new connection from now on; it stops once its replacement is ready
        // (at once when others are ready to serve meanwhile).
        state.state = 'retiring';
        const fresh = states.get(fork())!;
        void (ready().length > 0 ? Promise.resolve(true) : fresh.ready).then(() => retire(worker, '--max-requests'));
      }
    };

    cluster.on('exit', (worker, code, signal) => {
      const state = states.get(worker);
      states.delete(worker);
      if (!state) return;
      state.settle(false);
      state.onExit();
      // Connections on their way to it that it never took go to another worker.
      const orphans = [...state.passing.values()];
      state.passing.clear();
      for (const socket of orphans) {
        if (stopping) socket.destroy();
        else dispatch(socket);
      }
      if (stopping) {
        if (states.size === 0) {
          log.info('stopped');
          finish(0);
        }
        return;
      }
      if (state.state === 'retiring') {
        log.debug(`worker ${state.pid} stopped (${describeDeath(code, signal)})`);
        return;
      }
      if (state.state === 'booting') {
        const why = (state.bootError ?? `hatchway: worker ${state.pid} ${describeDeath(code, signal)} before it was ready`).replace(/^hatchway: /, '').replace(/\n?$/, '');
        if (!up) {
          // The start fails: say why once, not once per worker.
          log.error(why);
          log.error(`worker ${state.pid} failed to boot: stopping`);
          stopping = true;
          for (const w of states.keys()) w.process.kill('SIGKILL');
          finish(1);
          return;
        }
        if (rollingNow) return; // the rolling restart keeps the old workers and says so
        bootFailures++;
        const delay = Math.min(MAX_BOOT_BACKOFF, 1_000 * 2 ** (bootFailures - 1));
        log.error(`${why}\nhatchway: a replacement worker failed to boot; trying again in ${delay} ms`);
        later(delay, replace);
        return;
      }
      const now = Date.now();
      deaths.push(now);
      while (deaths.length && deaths[0]! < now - DEATH_WINDOW) deaths.shift();
      // Deaths faster than one per worker per window slow the replacements down, unless none
      // is left to serve: then the next one starts at once.
      const excess = deaths.length - workers;
      const delay = excess <= 0 || ready().length === 0 ? 0 : Math.min(MAX_BACKOFF, 100 * 2 ** (excess - 1));
      log.error(`worker ${state.pid} died while serving, after ${((now - state.readyAt) / 1000).toFixed(1)} s: ${describeDeath(code, signal)}; replacing it${delay ? ` in ${delay} ms (${deaths.length} deaths in ${DEATH_WINDOW / 1000} s)` : ''}`);
      if (delay) later(delay, replace);
      else replace();
    });
    /** Brings the worker count back to `workers`. */
    const replace = (): void => {
      if (stopping) return;
      const active = [...states.values()].filter((s) => s.state !== 'retiring').length;
      for (let i = active; i < workers; i++) fork();
    };

    let rollingNow = false;
    let rollAgain = false;
    const rolling = async (why: string): Promise<void> => {
      if (stopping) return;
      if (rollingNow) {
        rollAgain = true;
        return;
      }
      rollingNow = true;
      const old = [...states.entries()].filter(([, s]) => s.state !== 'retiring').map(([w]) => w);
      log.info(`${why}: replacing ${old.length} worker${old.length === 1 ? '' : 's'} one at a time`);
      let replaced = 0;
      for (const worker of old) {
        if (stopping) break;
        const state = states.get(worker);
        if (!state || state.state === 'retiring') continue;
        const fresh = fork();
        const freshState = states.get(fresh)!;
        if (!(await freshState.ready)) {
          const why_ = (freshState.bootError ?? `the new worker ${freshState.pid} did not boot`).replace(/^hatchway: /, '').replace(/\n?$/, '');
          log.error(`${why_}\nhatchway: ${why}: the new worker failed to boot; kept the old workers`);
          break;
        }
        retire(worker, why);
        await state.exited;
        replaced++;
      }
      if (replaced === old.length) log.info(`${why}: replaced ${replaced} worker${replaced === 1 ? '' : 's'}`);
      rollingNow = false;
      if (rollAgain) {
        rollAgain = false;
        void rolling(why);
      }
    };

    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.error(`${signal} again, killing workers`);
        for (const w of states.keys()) w.process.kill('SIGKILL');
        finish(1);
        return;
      }
      stopping = true;
      for (const timer of timers) clearTimeout(timer);
      // No new connection: the port closes now, queued connections are refused.
      listener.close();
      for (const { socket } of queue.splice(0)) socket.destroy();
      log.info(`${signal}, stopping ${states.size} workers gracefully`);
      if (states.size === 0) {
        log.info('stopped');
        finish(0);
        return;
      }
      for (const w of states.keys()) retire(w, signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.on('SIGHUP', () => void rolling('SIGHUP'));
    if (options.reload) {
      let pending: NodeJS.Timeout | undefined;
      watcher = watch(options.reload, { recursive: true }, (_event, file) => {
        const name = String(file ?? '');
        if (/(^|[/\\])(node_modules|\.git|\.tap|coverage)([/\\]|$)|(^|[/\\])\.|~$|\.swp$/.test(name)) return;
        clearTimeout(pending);
        pending = setTimeout(() => void rolling(`reload (${name} changed)`), 150);
      });
      watcher.on('error', (err) => log.error(`--reload: cannot watch ${options.reload}: ${err.message}`));
      log.info(`--reload: watching ${options.reload}`);
    }
    for (let i = 0; i < workers; i++) fork();
  });
}

/** In a worker: runs `onConnection` for each connection and `onStop` when the primary says so. */
export function onPrimaryMessages(onConnection: (socket: Socket) => void, onStop: (reason: string) => void): void {
  process.on('message', (message: PrimaryMessage, socket?: Socket) => {
    if (message?.hatchway === 'connection' && socket) {
      // Said before the first byte is read: until then the primary may give it to another worker.
      process.send?.({ hatchway: 'took', id: message.id } satisfies WorkerMessage);
      onConnection(socket);
    }
    else if (message?.hatchway === 'stop') onStop(message.reason);
  });
}

/** True in a worker forked by {@link runPrimary}. */
export function isWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_ENV] === '1';
}

/** Tells the primary something; a no-op outside a worker. Resolves once it was sent. */
export function tellPrimary(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!isWorker() || !process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}
