/**
 * The `hatchway` command, run for real with the pinned Node: help, errors, `serve`, and
 * graceful exit on SIGTERM with a request in flight.
 */
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SERVE_OPTIONS } from '../../src/cli/args.ts';
import { curl, within } from '../fixtures/clients.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const BIN = join(ROOT, 'bin', 'hatchway.js');

interface Cli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first stdout match of `pattern` (or `undefined` after `timeout`). */
  waitFor(pattern: RegExp, timeout?: number): Promise<RegExpMatchArray | undefined>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `hatchway ...args` from the repository root; killed at teardown if still running. */
function hatchway(t: Test, args: string[]): Cli {
  const child = spawn(NODE, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    wake();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    wake();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve({ code, signal });
      wake();
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(pattern, timeout = 15_000) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const m = out.match(pattern);
        if (m) return m;
        if (child.exitCode !== null || Date.now() > deadline) return undefined;
        await within(new Promise<void>((resolve) => waiters.push(resolve)), Math.max(1, deadline - Date.now()));
      }
    },
  };
}

const URL_LINE = /serving \S+ on (http:\/\/127\.0\.0\.1:(\d+))\n/;

t.test('hatchway --help lists every option and exits 0', async (t) => {
  for (const flag of ['--help', '-h']) {
    const cli = hatchway(t, [flag]);
    const { code } = await cli.exited;
    t.equal(code, 0, flag);
    const help = cli.stdout();
    t.match(help, /^Usage: hatchway serve <module>\[#export\|:export\] \[options\]/);
    for (const [name, option] of Object.entries(SERVE_OPTIONS)) {
      t.match(help, new RegExp(`--${name}\\b`), `${flag} lists --${name}`);
      if (option.short) t.match(help, new RegExp(`-${option.short}, --${name}`), `${flag} lists -${option.short}`);
      t.ok(help.includes(option.help), `${flag} explains --${name}`);
    }
    t.match(help, /--version/);
  }
  const bare = hatchway(t, []);
  t.equal((await bare.exited).code, 2, 'no arguments is a usage error: the usage on stderr, exit 2');
  t.match(bare.stderr(), /^Usage: /);
  t.equal(bare.stdout(), '');
});

t.test('hatchway --version prints the package version', async (t) => {
  const cli = hatchway(t, ['--version']);
  t.equal((await cli.exited).code, 0);
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  t.equal(cli.stdout(), `hatchway ${pkg.version}\n`);
});

t.test('usage errors exit 2 with one line on stderr', async (t) => {
  for (const args of [['--bogus'], ['serve'], ['launch', 'x.ts'], ['serve', 'a.ts', 'b.ts'], ['serve', 'a.ts', '--tls-cert', 'c.pem']]) {
    const cli = hatchway(t, args);
    t.equal((await cli.exited).code, 2, args.join(' '));
    t.match(cli.stderr(), /^hatchway: [^\n]+\n$/, `${args.join(' ')}: one line`);
    t.equal(cli.stdout(), '');
  }
});

t.test('serve fails with exit 1 on a bad module, 2 on a bad option', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hatchway-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const noApp = join(dir, 'no-app.mjs');
  await writeFile(noApp, 'export const notAnApp = 42;\n');
  const cases: [string[], RegExp][] = [
    [['serve', join(dir, 'missing.mjs')], /hatchway: .*(Cannot find module|ERR_MODULE_NOT_FOUND|missing\.mjs)/],
    [['serve', noApp], /hatchway: could not find an app in/],
    [['serve', `${noApp}#notAnApp`], /hatchway: could not find an app in/],
    [['serve', 'examples/hello.ts', '--port', 'eighty'], /hatchway: --port takes a whole number/],
    [['serve', 'examples/hello.ts', '--keep-alive-timeout', '1.5'], /hatchway: --keep-alive-timeout takes a whole number/],
  ];
  for (const [args, message] of cases) {
    const cli = hatchway(t, args);
    // A bad module is a failure to serve (1); a bad value is a bad command line (2).
    t.equal((await cli.exited).code, args.some((a) => a.startsWith('--')) ? 2 : 1, args.join(' '));
    t.match(cli.stderr(), message);
  }
});

t.test('serve exits 1 when its port is taken', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const { port } = blocker.address() as AddressInfo;
  const cli = hatchway(t, ['serve', 'examples/hello.ts', '--port', String(port)]);
  t.equal((await cli.exited).code, 1);
  t.match(cli.stderr(), /EADDRINUSE/);
});

t.test('serve prints its URL and answers curl', async (t) => {
  const cli = hatchway(t, ['serve', 'examples/hello.ts', '--port', '0']);
  const m = await cli.waitFor(URL_LINE);
  t.ok(m, `the URL is printed (stdout: ${JSON.stringify(cli.stdout())}, stderr: ${JSON.stringify(cli.stderr())})`);
  if (!m) return;
  const result = await curl(t, ['-sv', `${m[1]}/hello?x=1`]);
  t.equal(result.code, 0);
  t.equal(result.stdout, 'Hello from hatchway over HTTP/1.1: GET /hello?x=1\n');
  t.match(result.stderr, /< HTTP\/1\.1 200 OK/);
  t.match(result.stderr, /< content-type: text\/plain; charset=utf-8/);
  cli.child.kill('SIGTERM');
  t.equal((await cli.exited).code, 0);
});

t.test('serve loads a named export with module#export', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hatchway-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'named.mjs');
  await writeFile(file, "export const api = (environ, startResponse) => { startResponse(200, []); return ['named export']; };\n");
  const cli = hatchway(t, ['serve', `${file}#api`, '--port', '0', '--host', '127.0.0.1']);
  const m = await cli.waitFor(URL_LINE);
  t.ok(m);
  if (!m) return;
  const result = await curl(t, ['-sS', m[1]!]);
  t.equal(result.stdout, 'named export');
  cli.child.kill('SIGINT');
  t.equal((await cli.exited).code, 0, 'SIGINT stops it cleanly too');
});

/** A module whose response waits for the server process's SIGTERM before finishing. */
const SLOW_APP = `
let started = 0;
export default (environ, startResponse) => ({
  async *[Symbol.asyncIterator]() {
    startResponse(200, [['content-type', 'text/plain']]);
    yield 'started;';
    process.stdout.write('request started ' + (++started) + '\\n');
    await new Promise((resolve) => process.once('SIGTERM', resolve));
    await new Promise((resolve) => setTimeout(resolve, 100));
    yield 'finished after SIGTERM';
  },
});
`;

t.test('SIGTERM lets a slow request in flight complete, then exits 0', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hatchway-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'slow.mjs');
  await writeFile(file, SLOW_APP);
  const cli = hatchway(t, ['serve', file, '--port', '0', '--graceful-timeout', '10000']);
  const m = await cli.waitFor(URL_LINE);
  t.ok(m);
  if (!m) return;
  const pending = curl(t, ['-sv', m[1]!]);
  t.ok(await cli.waitFor(/request started 1\n/), 'the request is in flight');
  cli.child.kill('SIGTERM');
  const result = await pending;
  t.equal(result.code, 0, 'curl succeeds');
  t.equal(result.stdout, 'started;finished after SIGTERM', 'the whole response arrives');
  const exit = await cli.exited;
  t.equal(exit.code, 0, 'the server exits 0');
  t.match(cli.stdout(), /SIGTERM, finishing 1 request\(s\) in flight\n/);
  t.match(cli.stdout(), /hatchway: stopped\n$/);
  const after = await curl(t, ['-sS', m[1]!]);
  t.equal(after.code, 7, 'nothing listens afterwards');
});

t.test('a second SIGTERM exits at once with 1', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hatchway-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'stuck.mjs');
  await writeFile(file, `export default (environ, startResponse) => ({
  async *[Symbol.asyncIterator]() {
    startResponse(200, []);
    yield 'stuck;';
    process.stdout.write('stuck\\n');
    await new Promise((resolve) => environ.signal.addEventListener('abort', resolve));
  },
});
`);
  const cli = hatchway(t, ['serve', file, '--port', '0', '--graceful-timeout', '60000']);
  const m = await cli.waitFor(URL_LINE);
  t.ok(m);
  if (!m) return;
  const pending = curl(t, ['-sS', m[1]!]);
  t.ok(await cli.waitFor(/stuck\n/));
  cli.child.kill('SIGTERM');
  t.ok(await cli.waitFor(/finishing 1 request/));
  cli.child.kill('SIGTERM');
  const exit = await within(cli.exited, 10_000);
  t.equal(exit?.code, 1, 'exit 1 without waiting for the grace period');
  t.match(cli.stderr(), /SIGTERM again, exiting now/);
  const result = await pending;
  t.not(result.code, 0, 'the cut-off request fails for the client');
});

t.test('hatchway serve logs a stray throw or rejection with its request id and keeps serving', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hatchway-stray-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const app = join(dir, 'stray.ts');
  await writeFile(
    app,
    `export default (environ, startResponse) => {
  if (environ.pathInfo === '/throw') setTimeout(() => { throw new Error('stray throw'); }, 1);
  if (environ.pathInfo === '/reject') setTimeout(() => void Promise.reject(new Error('stray rejection')), 1);
  startResponse(200, [['x-request-id', environ.requestId]]);
  return ['ok ' + environ.pathInfo];
};
`,
  );
  const cli = hatchway(t, ['serve', app, '--port', '0']);
  const m = await cli.waitFor(URL_LINE);
  t.ok(m, 'serving');
  const url = m![1]!;
  for (const path of ['/throw', '/reject']) {
    const res = await curl(t, ['-s', '-D', '-', `${url}${path}`]);
    const id = /x-request-id: (\S+)/i.exec(res.stdout)?.[1];
    t.ok(id, 'the request has an id');
    const logged = await within(
      (async () => {
        while (!cli.stderr().includes(`in request ${id}`)) await new Promise((r) => setTimeout(r, 20));
        return true;
      })(),
      5_000,
    );
    t.ok(logged, `${path}: logged with its request id`);
    t.equal((await curl(t, ['-s', `${url}/after`])).stdout, 'ok /after', `${path}: the next request is answered`);
  }
  t.match(cli.stderr(), /uncaught exception in request \S+, kept serving: Error: stray throw/);
  t.match(cli.stderr(), /unhandled rejection in request \S+, kept serving: Error: stray rejection/);
  t.equal(cli.child.exitCode, null, 'still running');
  cli.child.kill('SIGTERM');
  t.equal((await cli.exited).code, 0);
});
