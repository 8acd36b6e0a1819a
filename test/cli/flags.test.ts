/**
 * The deployment flags of `hatchway serve`, each with a real client: `--uds` (curl
 * --unix-socket), `--fd 3` and `LISTEN_FDS` (a socket the test binds and passes as fd 3),
 * `--backlog`, `--limit-concurrency` (503 past it), `--proxy-headers` with a trusted and an
 * untrusted peer, `--root-path`, `module:export`, the access log (default common on stdout,
 * json, a file, off), `--log-level`, `HATCHWAY_<FLAG>` and `PORT` with their precedence, and
 * `--reload`.
 */
import t, { type Test } from 'tap';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { curl, request } from '../fixtures/clients.ts';
import { hatchway, type Cli } from '../fixtures/cli.ts';

const dir = await mkdtemp(join(tmpdir(), 'hatchway-flags-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const APP = join(dir, 'app.mjs');
await writeFile(
  APP,
  `let active = 0;
export const echo = (environ, startResponse) => {
  startResponse(200, [['content-type', 'application/json']]);
  return [JSON.stringify({ remoteAddress: environ.remoteAddress, scheme: environ.scheme, authority: environ.authority, scriptName: environ.scriptName, pathInfo: environ.pathInfo, version: 'v1' })];
};
export const slow = (environ, startResponse) => ({
  async *[Symbol.asyncIterator]() {
    startResponse(200, [['content-type', 'text/plain']]);
    await new Promise((r) => setTimeout(r, 1000));
    yield 'slow done';
  },
});
export const broken = () => {
  throw new Error('app bug');
};
export default echo;
`,
);

const SERVING = /serving \S+ on (\S+?)(?: |\n)/;

async function serving(t: Test, cli: Cli): Promise<string | undefined> {
  const m = await cli.waitFor(SERVING);
  t.ok(m, `serving (${cli.stdout()}${cli.stderr()})`);
  return m?.[1];
}

async function stop(t: Test, cli: Cli): Promise<void> {
  cli.child.kill('SIGTERM');
  t.equal((await cli.exited).code, 0, 'stops with 0');
}

t.test('--uds: curl --unix-socket reaches the app; the socket file goes at the end', async (t) => {
  const sock = join(dir, 'app.sock');
  const cli = hatchway(t, ['serve', APP, '--uds', sock]);
  const url = await serving(t, cli);
  t.equal(url, `http+unix:${sock}`);
  const res = await curl(t, ['-sS', '--unix-socket', sock, 'http://localhost/over/uds']);
  t.equal(JSON.parse(res.stdout).pathInfo, '/over/uds');
  const h2 = await curl(t, ['-sS', '--http2-prior-knowledge', '--unix-socket', sock, 'http://localhost/h2']);
  t.equal(JSON.parse(h2.stdout).pathInfo, '/h2', 'h2c over the unix socket too');
  await stop(t, cli);
});

/** A listening socket the test binds, to pass to the server as fd 3. */
async function bound(): Promise<{ server: NetServer; fd: number; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  return { server, fd, port: (server.address() as AddressInfo).port };
}

for (const [label, args, env] of [
  ['--fd 3', ['--fd', '3'], {}],
  ['LISTEN_FDS=1 (systemd socket activation)', [], { LISTEN_FDS: '1' }],
  ['--fd 3 with --workers 2', ['--fd', '3', '--workers', '2'], {}],
] as const) {
  t.test(`${label}: serves on the socket passed as fd 3`, async (t) => {
    const { server, fd, port } = await bound();
    const cli = hatchway(t, ['serve', APP, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe', fd] });
    const url = await serving(t, cli);
    // Only the server takes connections from now on.
    server.close();
    t.equal(url, `http://127.0.0.1:${port}`, 'it names the inherited address');
    const res = await request(`http://127.0.0.1:${port}/via/fd`);
    t.equal(res.status, 200);
    t.equal(JSON.parse(String(res.body)).pathInfo, '/via/fd');
    await stop(t, cli);
  });
}

t.test('--backlog is taken and the server serves', async (t) => {
  const cli = hatchway(t, ['serve', APP, '--port', '0', '--backlog', '16']);
  const url = await serving(t, cli);
  t.equal((await request(`${url}/`)).status, 200);
  await stop(t, cli);
});

t.test('--limit-concurrency 2: a third request in flight gets 503, later ones are served', async (t) => {
  const cli = hatchway(t, ['serve', `${APP}:slow`, '--port', '0', '--limit-concurrency', '2']);
  const url = await serving(t, cli);
  const first = request(`${url}/1`);
  const second = request(`${url}/2`);
  await new Promise((r) => setTimeout(r, 300));
  const third = await request(`${url}/3`);
  t.equal(third.status, 503, 'past the limit');
  t.match(String(third.body), /Service Unavailable/);
  t.equal(third.headers['retry-after'], '1');
  t.equal((await first).status, 200);
  t.equal((await second).status, 200);
  t.equal((await request(`${url}/4`)).status, 200, 'served again once the others finished');
  await stop(t, cli);
});

t.test('--proxy-headers: X-Forwarded-For believed from a trusted peer only', async (t) => {
  const headers = { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'example.com' };
  const trusted = hatchway(t, ['serve', APP, '--port', '0', '--proxy-headers', '--access-log-format', 'combined']);
  const url = await serving(t, trusted);
  const res = JSON.parse(String((await request(`${url}/`, { headers })).body));
  t.same([res.remoteAddress, res.scheme, res.authority], ['203.0.113.7', 'https', 'example.com'], 'the loopback peer is trusted by default');
  t.ok(await trusted.waitFor(/^203\.0\.113\.7 - - \[/m), 'the access log shows the client, not the proxy');
  await stop(t, trusted);

  const untrusted = hatchway(t, ['serve', APP, '--port', '0', '--proxy-headers', '--forwarded-allow-ips', '10.0.0.1,192.168.0.0/16']);
  const url2 = await serving(t, untrusted);
  const res2 = JSON.parse(String((await request(`${url2}/`, { headers })).body));
  t.same([res2.remoteAddress, res2.scheme], ['127.0.0.1', 'http'], 'a peer outside --forwarded-allow-ips is not believed');
  await stop(t, untrusted);

  const off = hatchway(t, ['serve', APP, '--port', '0']);
  const url3 = await serving(t, off);
  t.equal(JSON.parse(String((await request(`${url3}/`, { headers })).body)).remoteAddress, '127.0.0.1', 'without --proxy-headers nobody is believed');
  await stop(t, off);
});

t.test('--root-path: scriptName gets the mount point, pathInfo loses it', async (t) => {
  const cli = hatchway(t, ['serve', APP, '--port', '0', '--root-path', '/api']);
  const url = await serving(t, cli);
  const a = JSON.parse(String((await request(`${url}/api/users/7`)).body));
  t.same([a.scriptName, a.pathInfo], ['/api', '/users/7'], 'a proxy that kept the prefix');
  const b = JSON.parse(String((await request(`${url}/users/7`)).body));
  t.same([b.scriptName, b.pathInfo], ['/api', '/users/7'], 'a proxy that stripped it');
  await stop(t, cli);
});

t.test('module:export beside module#export', async (t) => {
  const cli = hatchway(t, ['serve', `${APP}:slow`, '--port', '0', '--access-log', 'off']);
  const url = await serving(t, cli);
  t.equal(String((await request(`${url}/`)).body), 'slow done');
  await stop(t, cli);
});

t.test('the access log: common on stdout by default, json, a file, off', async (t) => {
  const plain = hatchway(t, ['serve', APP, '--port', '0']);
  const url = await serving(t, plain);
  await request(`${url}/logged?x=1`);
  t.ok(await plain.waitFor(/^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/logged\?x=1 HTTP\/1\.1" 200 \d+$/m), 'a common log line');
  await stop(t, plain);

  const json = hatchway(t, ['serve', APP, '--port', '0', '--access-log-format', 'json']);
  const url2 = await serving(t, json);
  const res = await request(`${url2}/j`, { headers: { 'user-agent': 'flags-test' } });
  t.equal(res.status, 200);
  const line = await json.waitFor(/^\{.*\}$/m);
  const entry = JSON.parse(line![0]);
  t.match(entry, { method: 'GET', target: '/j', status: 200, userAgent: 'flags-test', source: 'server' });
  t.type(entry.requestId, 'string');
  await stop(t, json);

  const file = join(dir, 'access.log');
  const toFile = hatchway(t, ['serve', APP, '--port', '0', '--access-log', file]);
  const url3 = await serving(t, toFile);
  await request(`${url3}/to-file`);
  await stop(t, toFile);
  t.match(await readFile(file, 'utf8'), /"GET \/to-file HTTP\/1\.1" 200/);
  t.notMatch(toFile.stdout(), /to-file/);

  const off = hatchway(t, ['serve', APP, '--port', '0', '--access-log', 'off']);
  const url4 = await serving(t, off);
  await request(`${url4}/silent`);
  await stop(t, off);
  t.notMatch(off.stdout(), /silent/);
});

t.test('--log-level warning: no startup lines, still the access log; PORT picks the port', async (t) => {
  // Nothing says where it serves at this level: pick a free port and pass it as PORT.
  const free = createServer();
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
  const port = (free.address() as AddressInfo).port;
  await new Promise<void>((resolve) => free.close(() => resolve()));
  const quiet = hatchway(t, ['serve', APP, '--log-level', 'warning'], { env: { ...process.env, PORT: String(port) } });
  let res;
  for (let i = 0; i < 100; i++) {
    res = await request(`http://127.0.0.1:${port}/quiet`, { timeout: 1_000 });
    if (res.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(res?.status, 200, 'PORT chose the port');
  await quiet.waitFor(/GET \/quiet/);
  quiet.child.kill('SIGTERM');
  t.equal((await quiet.exited).code, 0);
  t.notMatch(quiet.stdout(), /hatchway: (serving|stopped)/, 'no info lines');
  t.match(quiet.stdout(), /"GET \/quiet HTTP\/1\.1" 200/, 'the access log is not a log level');
});

t.test('HATCHWAY_<FLAG> and PORT: the command line wins, then HATCHWAY_*, then PORT', async (t) => {
  const env = { ...process.env, PORT: '1', HATCHWAY_PORT: '0', HATCHWAY_ROOT_PATH: '/env', HATCHWAY_ACCESS_LOG: 'off' };
  const cli = hatchway(t, ['serve', APP], { env });
  const url = await serving(t, cli);
  t.not(url, 'http://127.0.0.1:1', 'HATCHWAY_PORT beat PORT');
  const r = JSON.parse(String((await request(`${url}/env/x`)).body));
  t.equal(r.scriptName, '/env', 'HATCHWAY_ROOT_PATH is --root-path');
  await stop(t, cli);
  t.notMatch(cli.stdout(), /GET \/env/, 'HATCHWAY_ACCESS_LOG=off');

  const wins = hatchway(t, ['serve', APP, '--root-path', '/cli', '--port', '0'], { env });
  const url2 = await serving(t, wins);
  t.equal(JSON.parse(String((await request(`${url2}/cli/x`)).body)).scriptName, '/cli', 'the command line beats HATCHWAY_*');
  await stop(t, wins);
});

t.test('--reload: a change to the module restarts the worker gracefully and serves the new code', async (t) => {
  const appDir = await mkdtemp(join(tmpdir(), 'hatchway-reload-'));
  t.teardown(() => rm(appDir, { recursive: true, force: true }));
  const file = join(appDir, 'app.mjs');
  await writeFile(file, "export default (e, s) => { s(200, []); return ['v1']; };\n");
  const cli = hatchway(t, ['serve', file, '--reload', '--port', '0', '--access-log', 'off']);
  const url = await serving(t, cli);
  t.equal(String((await request(`${url}/`)).body), 'v1');
  await writeFile(file, "export default (e, s) => { s(200, []); return ['v2']; };\n");
  t.ok(await cli.waitFor(/reload \(app\.mjs changed\): replaced 1 worker/, 15_000), 'the worker was replaced');
  t.equal(String((await request(`${url}/`)).body), 'v2', 'the new code answers on the same port');
  await writeFile(file, 'export default (e, s) => { s(200, []); return [v3; };\n');
  t.ok(await cli.waitFor(/syntax error in .*app\.mjs:1:\d+[\s\S]*kept the old workers/, 15_000, 'stderr'), 'a broken edit keeps the old worker');
  t.equal(String((await request(`${url}/`)).body), 'v2', 'still serving');
  await stop(t, cli);
});

t.test("an app's error line carries the request id the json access log has", async (t) => {
  const cli = hatchway(t, ['serve', `${APP}:broken`, '--port', '0', '--access-log-format', 'json']);
  const url = await serving(t, cli);
  t.equal((await request(`${url}/oops`)).status, 500);
  const line = await cli.waitFor(/^\{.*"target":"\/oops".*\}$/m);
  const entry = JSON.parse(line![0]);
  t.equal(entry.status, 500, 'the log has the status sent');
  t.ok(await cli.waitFor(new RegExp(`^\\[hatchway ${entry.requestId}\\] Error: app bug$`, 'm'), 5_000, 'stderr'), `the error line has request id ${entry.requestId}`);
  await stop(t, cli);
});
