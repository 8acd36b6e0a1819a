/**
 * `hatchway serve <module>[#export]`: loads an app and serves it until SIGINT or SIGTERM,
 * in the manner of gunicorn and uvicorn.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HatchwayError } from '../wire/errors.ts';
import type { App } from '../gateway/types.ts';
import { Server } from '../server/server.ts';
import { currentRequestId } from '../server/lifecycle.ts';
import { formatError } from '../gateway/error-response.ts';
import { CHECK_USAGE, USAGE, intOption, parseCommand } from './args.ts';
import { runCheck } from './check.ts';
import { isWorker, runPrimary } from './workers.ts';

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

/** Loads the app named by `module[#export]`, relative to `cwd`. */
export async function loadApp(spec: string, cwd = process.cwd()): Promise<App> {
  const hash = spec.lastIndexOf('#');
  const file = hash === -1 ? spec : spec.slice(0, hash);
  const name = hash === -1 ? 'default' : spec.slice(hash + 1);
  const mod = (await import(pathToFileURL(resolve(cwd, file)).href)) as Record<string, unknown>;
  let app = mod[name];
  // `export default { app }` and CommonJS-style `module.exports = app` both land here.
  if (name === 'default' && typeof app !== 'function' && app && typeof (app as { app?: unknown }).app === 'function') app = (app as { app: unknown }).app;
  if (typeof app !== 'function') throw new HatchwayError('ERR_HATCHWAY_INVALID_MODULE', spec);
  return app as App;
}

/**
 * The stray-throw policy of `hatchway serve` (SPEC §9): an exception no request's promise
 * chain caught (a timer callback, an event handler) or a rejection nobody handled is logged —
 * with the id of the request whose code threw, where known — and the process keeps serving,
 * as Hypercorn does. Every request the server runs already has its own failure path (§5.3);
 * what reaches here belongs to no response, and killing the process would fail every other
 * request in flight (and with one worker there is no supervisor to replace it).
 */
function keepServing(): void {
  const report = (kind: string, err: unknown): void => {
    const id = currentRequestId();
    process.stderr.write(`hatchway: ${kind}${id === undefined ? '' : ` in request ${id}`}, kept serving: ${formatError(err)}\n`);
  };
  process.on('uncaughtException', (err) => report('uncaught exception', err));
  process.on('unhandledRejection', (reason) => report('unhandled rejection', reason));
}

/** Runs the CLI; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  let cmd;
  try {
    cmd = parseCommand(argv);
  } catch (err) {
    process.stderr.write(`hatchway: ${(err as Error).message}\n\n${argv[0] === 'check' ? CHECK_USAGE : USAGE}`);
    return 2;
  }
  if (cmd.command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (cmd.command === 'check-help') {
    process.stdout.write(CHECK_USAGE);
    return 0;
  }
  if (cmd.command === 'check') return runCheck(cmd);
  if (cmd.command === 'version') {
    process.stdout.write(`hatchway ${packageVersion()}\n`);
    return 0;
  }
  const v = cmd.values;
  const workers = intOption(v, 'workers') ?? 1;
  const worker = isWorker();
  if (workers > 1 && !worker) return runPrimary(workers, cmd.target!, intOption(v, 'graceful-timeout') ?? 30_000);
  let server: Server;
  try {
    const app = await loadApp(cmd.target!);
    server = new Server(app, {
      host: (v.host as string | undefined) ?? '127.0.0.1',
      port: intOption(v, 'port') ?? 8000,
      tls: v['tls-cert'] ? { cert: readFileSync(v['tls-cert'] as string), key: readFileSync(v['tls-key'] as string) } : undefined,
      keepAliveTimeout: intOption(v, 'keep-alive-timeout'),
      headersTimeout: intOption(v, 'headers-timeout'),
      requestTimeout: intOption(v, 'request-timeout'),
      responseTimeout: intOption(v, 'response-timeout'),
      sendTimeout: intOption(v, 'send-timeout'),
      maxHeaderSize: intOption(v, 'max-header-size'),
      gracefulTimeout: intOption(v, 'graceful-timeout'),
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
    });
    await server.listen();
  } catch (err) {
    process.stderr.write(`hatchway: ${(err as Error).message}\n`);
    return 1;
  }
  keepServing();
  if (!worker) {
    // With TLS the port also takes cleartext (h2c, HTTP/1.1) unless --no-cleartext: say so.
    const also = server.options.tls && server.options.cleartext !== false ? ` and ${server.url.replace('https:', 'http:')} (one port: TLS h2/http1.1, cleartext h2c/http1.1)` : '';
    process.stdout.write(`hatchway: serving ${cmd.target} on ${server.url}${also}\n`);
  }
  return new Promise((done) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        // A second signal means "now": cut off what is left.
        process.stderr.write(`hatchway: ${signal} again, exiting now\n`);
        done(1);
        return;
      }
      stopping = true;
      if (!worker) process.stdout.write(`hatchway: ${signal}, finishing ${server.inFlight} request(s) in flight\n`);
      server.close().then(
        () => {
          if (!worker) process.stdout.write('hatchway: stopped\n');
          done(0);
        },
        (err: unknown) => {
          process.stderr.write(`hatchway: ${String(err)}\n`);
          done(1);
        },
      );
    };
    // A worker stops when its primary says so (SIGTERM); the terminal's Ctrl-C reaches the
    // whole process group, and the primary turns it into exactly one SIGTERM per worker.
    process.on('SIGINT', worker ? () => {} : stop);
    process.on('SIGTERM', stop);
  });
}
