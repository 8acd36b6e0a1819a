/**
 * `hatchway serve <module>[#export]`: loads an app and serves it until SIGINT or SIGTERM,
 * in the manner of gunicorn and uvicorn.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { App } from '../gateway/types.ts';
import { Server } from '../server/server.ts';
import { currentRequestId, trackRequestIds } from '../server/lifecycle.ts';
import { formatError } from '../gateway/error-response.ts';
import { CHECK_USAGE, USAGE, UsageError, intOption, parseCommand, splitTarget, type Command } from './args.ts';
import { runCheck } from './check.ts';
import { AppLoadError, loadApp } from './load.ts';
import { createLogger, type Level, type Logger } from './log.ts';
import { buildStack } from './stack.ts';
import { WORKER_MAX_REQUESTS_ENV, isWorker, onPrimaryMessages, runPrimary, tellPrimary } from './workers.ts';

export { loadApp };

/** The oldest Node hatchway runs on: require(esm) unflagged, and HTTP/2 that works (Node 20 resets every response). */
export const MIN_NODE = [22, 12, 0] as const;

/** One line saying why this Node is too old, or `undefined`. */
export function nodeVersionProblem(version = process.versions.node): string | undefined {
  const [major = 0, minor = 0, patch = 0] = version.split('.').map(Number);
  const [a, b, c] = MIN_NODE;
  if (major > a || (major === a && (minor > b || (minor === b && patch >= c)))) return undefined;
  return `hatchway needs Node ${MIN_NODE.join('.')} or later, this is ${version} (on Node 20 every HTTP/2 response is reset with INTERNAL_ERROR)`;
}

/** hatchway's version, from the package.json above this file (src/cli or dist/src/cli). */
function packageVersion(): string {
  for (let dir = new URL('.', import.meta.url); dir.pathname !== '/'; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'hatchway' && pkg.version) return pkg.version;
    } catch {
      // not here: look one level up
    }
  }
  return 'unknown';
}

/**
 * The stray-throw policy of `hatchway serve` (SPEC §9): an exception no request's promise
 * chain caught (a timer callback, an event handler) or a rejection nobody handled is logged —
 * with the id of the request whose code threw, where known — and the process keeps serving,
 * as Hypercorn does. Every request the server runs already has its own failure path (§5.3);
 * what reaches here belongs to no response, and killing the process would fail every other
 * request in flight (and with one worker there is no supervisor to replace it).
 */
function keepServing(log: Logger): void {
  trackRequestIds();
  const report = (kind: string, err: unknown): void => {
    const id = currentRequestId();
    log.error(`${kind}${id === undefined ? '' : ` in request ${id}`}, kept serving: ${formatError(err)}`);
  };
  process.on('uncaughtException', (err) => report('uncaught exception', err));
  process.on('unhandledRejection', (reason) => report('unhandled rejection', reason));
}

/** A PEM file named by a flag, or a UsageError naming the flag. */
function readFlagFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(`--${flag}: cannot read ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
}

/** Where to listen: --uds, --fd, systemd's LISTEN_FDS (first fd 3) when no place was given, or host and port. */
function placeFrom(v: Command['values'], env: NodeJS.ProcessEnv): { path?: string; fd?: number } {
  if (v.uds !== undefined) return { path: v.uds as string };
  const fd = intOption(v, 'fd');
  if (fd !== undefined) return { fd };
  const fds = Number(env.LISTEN_FDS);
  const forUs = env.LISTEN_PID === undefined || Number(env.LISTEN_PID) === process.pid;
  if (v.port === undefined && v.host === undefined && fds >= 1 && forUs) return { fd: 3 };
  return {};
}

/** Runs the CLI; resolves with the process exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const old = nodeVersionProblem();
  if (old) {
    process.stderr.write(`hatchway: ${old}\n`);
    return 1;
  }
  let cmd: Command;
  try {
    cmd = parseCommand(argv, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`hatchway: ${err.message}\n`);
    return 2;
  }
  switch (cmd.command) {
    case 'usage':
      process.stderr.write(USAGE);
      return 2;
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    case 'check-help':
      process.stdout.write(CHECK_USAGE);
      return 0;
    case 'check':
      return runCheck(cmd);
    case 'version':
      process.stdout.write(`hatchway ${packageVersion()}\n`);
      return 0;
    case 'serve':
      return serveCommand(cmd, env);
  }
}

async function serveCommand(cmd: Command, env: NodeJS.ProcessEnv): Promise<number> {
  const v = cmd.values;
  const log = createLogger((v['log-level'] as Level | undefined) ?? 'info');
  const worker = isWorker();
  const workers = intOption(v, 'workers') ?? 1;
  const maxRequests = intOption(v, 'max-requests') ?? 0;
  const gracefulTimeout = intOption(v, 'graceful-timeout') ?? 30_000;
  const target = cmd.target!;
  const port = intOption(v, 'port') ?? 8000;
  const host = (v.host as string | undefined) ?? '127.0.0.1';
  const place = placeFrom(v, env);
  if (!worker && (workers > 1 || maxRequests > 0 || v.reload)) {
    try {
      // Checked here too, so a bad file is one line from the primary, not one per worker.
      if (v['tls-cert']) [readFlagFile('tls-cert', v['tls-cert'] as string), readFlagFile('tls-key', v['tls-key'] as string)];
    } catch (err) {
      process.stderr.write(`hatchway: ${(err as Error).message}\n`);
      return 2;
    }
    return runPrimary({
      place: { host, port, ...place, backlog: intOption(v, 'backlog'), scheme: v['tls-cert'] ? 'https' : 'http' },
      workers,
      target,
      gracefulTimeout,
      maxRequests,
      maxRequestsJitter: intOption(v, 'max-requests-jitter') ?? 0,
      reload: v.reload ? dirname(resolve(splitTarget(target).file)) : undefined,
      log,
    });
  }
  // A supervised worker reports a failed boot to its primary, which prints it once.
  const fail = async (message: string, code: number): Promise<number> => {
    if (worker) await tellPrimary({ hatchway: 'boot-failed', error: `hatchway: ${message}` });
    else process.stderr.write(`hatchway: ${message}\n`);
    return code;
  };
  const share = worker ? Number(env[WORKER_MAX_REQUESTS_ENV] ?? 0) : 0;
  let server: Server;
  // A stop the primary asks for before the server is up runs once it is.
  let stopRequested: string | undefined;
  let stop: (signal: string) => void = (signal) => void (stopRequested = signal);
  try {
    const tls = v['tls-cert'] ? { cert: readFlagFile('tls-cert', v['tls-cert'] as string), key: readFlagFile('tls-key', v['tls-key'] as string) } : undefined;
    let app: App = await loadApp(target);
    app = buildStack(app, {
      accessLog: (v['access-log'] as string | undefined) ?? '-',
      accessLogFormat: (v['access-log-format'] as 'common' | 'combined' | 'json' | undefined) ?? 'common',
      proxyHeaders: v['proxy-headers'] === true,
      forwardedAllowIps: ((v['forwarded-allow-ips'] as string | undefined) ?? '127.0.0.1,::1').split(',').map((s) => s.trim()).filter(Boolean),
      rootPath: v['root-path'] as string | undefined,
      limitConcurrency: intOption(v, 'limit-concurrency') ?? 0,
      maxRequests: share,
      // The primary forks a replacement, then asks this one to stop (it serves meanwhile).
      onMaxRequests: (n) => void tellPrimary({ hatchway: 'retire', requests: n }),
    });
    server = new Server(app, {
      host,
      port,
      ...place,
      backlog: intOption(v, 'backlog'),
      tls,
      keepAliveTimeout: intOption(v, 'keep-alive-timeout'),
      headersTimeout: intOption(v, 'headers-timeout'),
      requestTimeout: intOption(v, 'request-timeout'),
      responseTimeout: intOption(v, 'response-timeout'),
      sendTimeout: intOption(v, 'send-timeout'),
      maxHeaderSize: intOption(v, 'max-header-size'),
      gracefulTimeout,
      cleartext: v['no-cleartext'] ? false : undefined,
      prefaceTimeout: intOption(v, 'preface-timeout'),
      maxConcurrentStreams: intOption(v, 'max-concurrent-streams'),
      sessionIdleTimeout: intOption(v, 'session-idle-timeout'),
      maxSessionMemory: intOption(v, 'max-session-memory'),
      websocketOverHttp2: v['no-websocket-over-http2'] ? false : undefined,
      websocket: {
        maxPayload: intOption(v, 'ws-max-payload'),
        pingInterval: intOption(v, 'ws-ping-interval'),
        pingTimeout: intOption(v, 'ws-ping-interval'),
        idleTimeout: intOption(v, 'ws-idle-timeout'),
      },
      // The server's error lines carry the request id (SPEC §5.3); --log-level filters them.
      // Each already starts with `[hatchway <request id>]`: printed as they are.
      log: (line) => void (log.enabled('error') && process.stderr.write(`${line}\n`)),
    });
    try {
      // A worker does not listen: its primary owns the socket and passes it connections.
      if (worker) onPrimaryMessages((socket) => server.acceptConnection(socket), (reason) => stop(reason));
      else await server.listen();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const where = place.path !== undefined ? `unix socket ${place.path}` : place.fd !== undefined ? `fd ${place.fd}` : `${host}:${port}`;
      return fail(`cannot listen on ${where}: ${e.message}`, 1);
    }
  } catch (err) {
    if (err instanceof UsageError) return fail(err.message, 2);
    if (err instanceof AppLoadError) return fail(err.message, 1);
    return fail(formatError(err), 1);
  }
  keepServing(log);
  if (worker) await tellPrimary({ hatchway: 'ready' });
  else {
    // With TLS the port also takes cleartext (h2c, HTTP/1.1) unless --no-cleartext: say so.
    const also = server.options.tls && server.options.cleartext !== false ? ` and ${server.url.replace('https', 'http')} (one port: TLS h2/http1.1, cleartext h2c/http1.1)` : '';
    log.info(`serving ${target} on ${server.url}${also}`);
  }
  return new Promise((done) => {
    let stopping = false;
    stop = (signal: string) => {
      if (stopping) {
        // A second signal means "now": cut off what is left.
        log.error(`${signal} again, exiting now`);
        done(1);
        return;
      }
      stopping = true;
      if (!worker) log.info(`${signal}, finishing ${server.inFlight} request(s) in flight`);
      server.close().then(
        () => {
          if (!worker) log.info('stopped');
          done(0);
        },
        (err: unknown) => {
          log.error(String(err));
          done(1);
        },
      );
    };
    // A worker stops when its primary says so (SIGTERM); the terminal's Ctrl-C and hang-up
    // reach the whole process group, and the primary turns them into one SIGTERM per worker.
    if (stopRequested) stop(stopRequested);
    process.on('SIGINT', worker ? () => {} : stop);
    process.on('SIGTERM', stop);
    process.on('SIGHUP', worker ? () => {} : () => log.warning('SIGHUP: one process, nothing to restart (a rolling restart needs --workers, --max-requests or --reload); kept serving'));
  });
}
