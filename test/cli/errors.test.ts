/**
 * The CLI's error table (README "Errors and exit status"): every bad flag or value is one
 * line on stderr naming the flag, exit 2; no arguments prints the usage, exit 2; an app that
 * cannot be loaded says where — file:line:column and a code frame for a syntax error (in the
 * module or one it imports, .mjs or .ts), the stack for a throw at import — exit 1; a port in
 * use names the address, exit 1; a Node older than 22.12 is refused at once, exit 1.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hatchway } from '../fixtures/cli.ts';

const dir = await mkdtemp(join(tmpdir(), 'hatchway-errors-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
await writeFile(join(dir, 'bad.mjs'), 'const a = 1;\nexport default (environ, startResponse) => {\n  return [a));\n};\n');
await writeFile(join(dir, 'bad.ts'), 'const a: number = 1;\nexport default (environ: unknown, startResponse: unknown) => {\n  return [a));\n};\n');
await writeFile(join(dir, 'imports.mjs'), "import './dep.mjs';\nexport default () => [];\n");
await writeFile(join(dir, 'dep.mjs'), 'const x = 1;\nfoo(;\n');
await writeFile(join(dir, 'throws.mjs'), "export default () => [];\nthrow new Error('boom at import');\n");

/** [args, env, exit code, the whole stderr]. */
const ONE_LINE: [string[], NodeJS.ProcessEnv, number, RegExp][] = [
  [['serve', 'examples/hello.ts', '--workers', 'abc'], {}, 2, /^hatchway: --workers takes a whole number, not 'abc'\n$/],
  [['serve', 'examples/hello.ts', '--workers', '0'], {}, 2, /^hatchway: --workers takes 1 or more, not '0'\n$/],
  [['serve', 'examples/hello.ts', '--bogus'], {}, 2, /^hatchway: unknown option '--bogus' \(hatchway --help lists them\)\n$/],
  [['serve', 'examples/hello.ts', '--port'], {}, 2, /^hatchway: --port needs a value\n$/],
  [['serve', 'examples/hello.ts', '--reload=yes'], {}, 2, /^hatchway: --reload takes no value\n$/],
  [['serve', 'examples/hello.ts', '--port', '70000'], {}, 2, /^hatchway: --port takes 0 to 65535, not '70000'\n$/],
  [['serve', 'examples/hello.ts', '--log-level', 'loud'], {}, 2, /^hatchway: --log-level takes debug, info, warning, error, critical, not 'loud'\n$/],
  [['serve', 'examples/hello.ts', '--access-log-format', 'xml'], {}, 2, /^hatchway: --access-log-format takes common, combined, json, not 'xml'\n$/],
  [['serve', 'examples/hello.ts', '--root-path', 'api/'], {}, 2, /^hatchway: --root-path takes a path like \/api .*\n$/],
  [['serve', 'examples/hello.ts', '--uds', '/tmp/x.sock', '--fd', '3'], {}, 2, /^hatchway: --uds and --fd are two places to listen: give one\n$/],
  [['serve', 'examples/hello.ts', '--forwarded-allow-ips', '10.0.0.1'], {}, 2, /^hatchway: --forwarded-allow-ips needs --proxy-headers\n$/],
  [['serve', 'examples/hello.ts'], { HATCHWAY_WORKERS: 'many' }, 2, /^hatchway: HATCHWAY_WORKERS takes a whole number, not 'many'\n$/],
  [['serve', 'examples/hello.ts'], { HATCHWAY_PROXY_HEADERS: 'maybe' }, 2, /^hatchway: HATCHWAY_PROXY_HEADERS \(--proxy-headers\) takes 1 or 0, not 'maybe'\n$/],
  [['serve', 'examples/hello.ts'], { PORT: 'eighty' }, 2, /^hatchway: PORT takes a whole number, not 'eighty'\n$/],
  [['serve', 'examples/hello.ts', '--tls-cert', 'missing-cert.pem', '--tls-key', 'missing-key.pem'], {}, 2, /^hatchway: --tls-cert: cannot read missing-cert\.pem: no such file\n$/],
  [['serve', 'examples/hello.ts', '--tls-cert', 'examples/hello.ts', '--tls-key', 'missing-key.pem'], {}, 2, /^hatchway: --tls-key: cannot read missing-key\.pem: no such file\n$/],
  [['serve', 'examples/hello.ts', '--workers', '2', '--tls-cert', 'examples/hello.ts', '--tls-key', 'missing-key.pem'], {}, 2, /^hatchway: --tls-key: cannot read missing-key\.pem: no such file\n$/],
  [['launch', 'x.ts'], {}, 2, /^hatchway: unknown command 'launch': try 'hatchway serve <module>'\n$/],
  [['serve', join(dir, 'missing.mjs')], {}, 1, /^hatchway: cannot find the app module .*missing\.mjs \(looked at .*missing\.mjs\): ERR_MODULE_NOT_FOUND\n$/],
  [['serve', `${join(dir, 'throws.mjs')}:nope`], {}, 1, /^hatchway: could not find an app in .*throws\.mjs:nope|threw while/],
];

t.test('a bad flag, value or file: one line naming it, and the exit status', async (t) => {
  for (const [args, env, code, stderr] of ONE_LINE) {
    const cli = hatchway(t, args, { env: { ...process.env, ...env } });
    const exit = await cli.exited;
    const label = `${Object.entries(env).map(([k, v]) => `${k}=${v} `).join('')}hatchway ${args.join(' ')}`;
    t.equal(exit.code, code, `${label}: exit ${code}`);
    t.match(cli.stderr(), stderr, `${label}: ${JSON.stringify(cli.stderr())}`);
    t.equal(cli.stdout(), '', `${label}: nothing on stdout`);
  }
});

t.test('no arguments: the usage on stderr, exit 2', async (t) => {
  const cli = hatchway(t, []);
  t.equal((await cli.exited).code, 2);
  t.match(cli.stderr(), /^Usage: hatchway serve /);
  t.equal(cli.stdout(), '');
});

t.test('a syntax error in the module: file:line:column and a code frame, exit 1', async (t) => {
  for (const [file, message] of [
    ['bad.mjs', "Unexpected token ')'"],
    ['bad.ts', "Expected ',', got ')'"],
  ] as const) {
    const cli = hatchway(t, ['serve', join(dir, file)]);
    t.equal((await cli.exited).code, 1, file);
    const where = `${join(dir, file)}:3:12`;
    t.equal(
      cli.stderr(),
      `hatchway: syntax error in ${where}: ${message}\n  1 | ${file === 'bad.ts' ? 'const a: number = 1;' : 'const a = 1;'}\n  2 | export default (environ${file === 'bad.ts' ? ': unknown' : ''}, startResponse${file === 'bad.ts' ? ': unknown' : ''}) => {\n> 3 |   return [a));\n    |            ^\n  4 | };\n  5 | \n`,
      `${file}: the place and a frame`,
    );
  }
});

t.test('a syntax error in a module the app imports names that file', async (t) => {
  const cli = hatchway(t, ['serve', join(dir, 'imports.mjs')]);
  t.equal((await cli.exited).code, 1);
  t.match(cli.stderr(), new RegExp(`^hatchway: syntax error in ${join(dir, 'dep.mjs').replace(/[.]/g, '\\.')}:2:5: Unexpected token ';'\n  1 \\| const x = 1;\n> 2 \\| foo\\(;\n    \\|     \\^\n`));
});

t.test('a module that throws at import: its stack, exit 1', async (t) => {
  const cli = hatchway(t, ['serve', join(dir, 'throws.mjs')]);
  t.equal((await cli.exited).code, 1);
  t.match(cli.stderr(), new RegExp(`^hatchway: .*throws\\.mjs threw while it was being imported:\nError: boom at import\n    at file://${join(dir, 'throws.mjs').replace(/[.]/g, '\\.')}:2:7\n`));
});

t.test('a port in use: the address and the reason in one line, exit 1', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const { port } = blocker.address() as AddressInfo;
  for (const extra of [[], ['--workers', '2']]) {
    const cli = hatchway(t, ['serve', 'examples/hello.ts', '--port', String(port), ...extra]);
    t.equal((await cli.exited).code, 1, extra.join(' '));
    t.match(cli.stderr(), new RegExp(`^hatchway: cannot listen on 127\\.0\\.0\\.1:${port}: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${port}\n$`));
  }
});

const OLD_NODE = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => {
  if (!existsSync(p)) return false;
  const [major = 0, minor = 0] = execFileSync(p, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim().split('.').map(Number);
  return major < 22 || (major === 22 && minor < 12);
});
t.test('a Node older than 22.12 is refused in one line, exit 1', { skip: OLD_NODE ? false : 'no Node older than 22.12 on this machine to run it with' }, async (t) => {
  const cli = hatchway(t, ['serve', 'examples/hello.ts'], { node: OLD_NODE! });
  t.equal((await cli.exited).code, 1);
  t.match(cli.stderr(), /^hatchway: hatchway needs Node 22\.12\.0 or later, this is 2\d\.\d+\.\d+ \(on Node 20 every HTTP\/2 response is reset with INTERNAL_ERROR\)\n$/);
});
