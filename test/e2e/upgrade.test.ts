/**
 * The upgrade escape on real connections (SPEC §7.10): curl through the example CONNECT proxy
 * to a second TLS server on loopback, over HTTP/1.1 and (Python h2 standing in for curl's
 * --proxy-http2) over HTTP/2; a raw-socket client for the example's `Upgrade: echo/1`; an
 * extended CONNECT with `:protocol echo/1`; and the hostile peers — a refused target, a
 * client that never reads, one that leaves before the 101, a throwing onConnection.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { createServer as createHttpsServer } from 'node:https';
import { constants } from 'node:http2';
import type { Duplex } from 'node:stream';
import { acceptUpgrade, asyncApp, liveRegistrations, onResponse, type App, type ResponseReport } from '../../src/index.ts';
import { start } from '../fixtures/server.ts';
import { RawClient, curl, sleep } from '../fixtures/clients.ts';
import { PYTHON, session } from '../fixtures/h2.ts';
import { testCert } from '../fixtures/tls.ts';

const cert = testCert();
const H2_CONNECT = new URL('../fixtures/py/h2_connect.py', import.meta.url).pathname;
const load = async (name: string) => ((await import(`../../examples/${name}`)) as { default: App }).default;
const BASIC = `Basic ${Buffer.from('user:pass').toString('base64')}`;

/** A second server on loopback, TLS with the test certificate: what the tunnels reach. */
async function target(t: Test): Promise<number> {
  const server = createHttpsServer({ cert: cert.cert, key: cert.key }, (req, res) => res.end(`target says hello to ${req.url}\n`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as { port: number }).port;
}

async function waitFor(predicate: () => boolean, ms = 5_000): Promise<boolean> {
  for (const end = Date.now() + ms; !predicate(); await sleep(20)) if (Date.now() > end) return false;
  return true;
}

async function settled(): Promise<number> {
  for (let i = 0; i < 50 && liveRegistrations() !== 0; i++) await sleep(20);
  return liveRegistrations();
}

function h2connect(port: number, authority: string, extra: string[] = []): Promise<{ status: number; headers: [string, string][]; body: string; tunnelled: string }> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [H2_CONNECT, String(port), authority, cert.certPath, ...extra], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

const UPGRADE_ECHO = (auth: boolean, protocol = 'echo/1') =>
  `GET /line HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n${auth ? 'Authorization: Bearer letmein\r\n' : ''}\r\n`;

t.test('curl through the example proxy over HTTP/1.1: 407 without credentials, a tunnel with them', async (t) => {
  const other = await target(t);
  const { port } = await start(t, await load('connect-proxy.ts'));
  const base = ['-sS', '-p', '-x', `http://127.0.0.1:${port}`, '--cacert', cert.certPath];
  const refused = await curl(t, [...base, '-w', '%{http_connect}', `https://127.0.0.1:${other}/`]);
  t.equal(refused.code, 56, 'curl: CONNECT tunnel failed');
  t.match(refused.stderr, /CONNECT tunnel failed, response 407/);
  t.equal(refused.stdout, '407', 'the middleware answered the CONNECT');
  const verbose = await curl(t, [...base, '-v', `https://127.0.0.1:${other}/`]);
  t.match(verbose.stderr, /< proxy-authenticate: Basic realm="hatchway proxy"/i, 'with Proxy-Authenticate');

  const tunnelled = await curl(t, [...base, '-U', 'user:pass', '-w', ' %{http_connect}', `https://127.0.0.1:${other}/through`]);
  t.equal(tunnelled.code, 0, tunnelled.stderr);
  t.equal(tunnelled.stdout, 'target says hello to /through\n 200', 'TLS to the target ran inside the tunnel; the CONNECT got a 200');
  t.equal(await settled(), 0, 'liveRegistrations() is back to 0');
});

t.test('the example proxy over an HTTP/2 connection (Python h2 sends the CONNECT): 407, then a tunnel', async (t) => {
  const other = await target(t);
  const { port } = await start(t, await load('connect-proxy.ts'));
  const refused = await h2connect(port, `127.0.0.1:${other}`);
  t.equal(refused.status, 407);
  t.match(Object.fromEntries(refused.headers), { 'proxy-authenticate': 'Basic realm="hatchway proxy"' });
  const open = await h2connect(port, `127.0.0.1:${other}`, [`proxy-authorization:${BASIC}`]);
  t.equal(open.status, 200, 'the stream is the tunnel');
  t.notOk(open.headers.some(([name]) => name === 'content-length'), 'no Content-Length on a 2xx to CONNECT (RFC 9110 §9.3.6)');
  t.match(open.tunnelled, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\ntarget says hello to \/over-h2\n$/, 'TLS to the target inside the HTTP/2 stream');
  t.equal(await settled(), 0);
});

t.test('a CONNECT to a host the proxy refuses gets its 403, over both protocols, and nothing is dialled', async (t) => {
  const { port, url } = await start(t, await load('connect-proxy.ts'));
  const c = await RawClient.connect(t, port);
  c.write(`CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Authorization: ${BASIC}\r\n\r\n`);
  t.ok(await c.until((r) => r.includes('does not reach')));
  t.match(c.received, /^HTTP\/1\.1 403 Forbidden\r\n/);
  t.ok(await c.untilClosed(), 'the connection closes after a refused CONNECT');
  const h2 = await h2connect(port, 'example.com:443', [`proxy-authorization:${BASIC}`]);
  t.equal(h2.status, 403);
  t.equal(h2.body, 'this proxy does not reach example.com\n');
  const plain = await curl(t, ['-s', '-w', '%{http_code}', '-o', '/dev/null', '-H', `proxy-authorization: ${BASIC}`, `${url}/`]);
  t.equal(plain.stdout, '405', 'a GET to the proxy gets the fallback: 405, Allow: CONNECT');
  t.equal(await settled(), 0);
});

t.test('a raw client speaks echo/1 after the 101; the auth middleware says 401; another protocol gets the 426', async (t) => {
  const { port } = await start(t, await load('echo-upgrade.ts'));
  const c = await RawClient.connect(t, port);
  // The first line rides the same packet as the request head: it is replayed first.
  c.write(UPGRADE_ECHO(true) + 'first\n');
  t.ok(await c.until((r) => r.includes('echo: first\n')), c.received);
  t.match(c.received, /^HTTP\/1\.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\/1\r\n/i);
  t.notMatch(c.received, /content-length|hatchway-escape|hw1\./i, 'no token, no framing on the 101');
  c.write('second\nthi');
  c.write('rd\n');
  t.ok(await c.until((r) => r.endsWith('echo: second\necho: third\n')), 'echo both ways, lines split across writes');
  c.socket.end();
  t.ok(await c.untilClosed(), 'the client’s end ends the connection');

  const refused = await RawClient.connect(t, port);
  refused.write(UPGRADE_ECHO(false));
  t.ok(await refused.untilClosed());
  t.match(refused.received, /^HTTP\/1\.1 401 Unauthorized\r\n[^]*www-authenticate: Bearer[^]*\r\n\r\nunauthorized\n$/i);

  const other = await RawClient.connect(t, port);
  other.write(UPGRADE_ECHO(true, 'chat/2'));
  t.ok(await other.untilClosed());
  t.match(other.received, /^HTTP\/1\.1 426 Upgrade Required\r\n[^]*upgrade: echo\/1\r\n/i, 'the fallback names what it speaks');
  t.equal(await settled(), 0);
});

t.test('over HTTP/2 the echo app answers an extended CONNECT with :protocol echo/1', async (t) => {
  const { url } = await start(t, await load('echo-upgrade.ts'));
  const s = await session(t, url);
  await new Promise<void>((resolve) => (s.remoteSettings.enableConnectProtocol ? resolve() : s.once('remoteSettings', () => resolve())));
  const req = s.request({ ':method': 'CONNECT', ':protocol': 'echo/1', ':path': '/line', ':scheme': 'http', authorization: 'Bearer letmein' }, { endStream: false });
  const status = await new Promise<number>((resolve) => req.once('response', (h) => resolve(Number(h[':status']))));
  t.equal(status, 200);
  req.setEncoding('utf8');
  let got = '';
  req.on('data', (d: string) => (got += d));
  req.write('over h2\n');
  for (let i = 0; i < 100 && !got.includes('\n'); i++) await sleep(20);
  t.equal(got, 'echo: over h2\n');
  req.end();
  await new Promise((resolve) => req.once('close', resolve));
  t.equal(req.rstCode, constants.NGHTTP2_NO_ERROR, 'ended cleanly both ways');
  t.equal(await settled(), 0);
});

/** An echo/1 app that pipes bytes back (honouring backpressure), with hooks for the hostile cases. */
function echoApp(hooks: { delay?: number; onConnection?: (d: Duplex) => void; seen?: string[] } = {}): App {
  return asyncApp(async (environ, startResponse) => {
    if (hooks.delay) await sleep(hooks.delay);
    onResponse(environ, (r: ResponseReport) => hooks.seen?.push(`report ${r.status} ${r.escape?.outcome}`));
    return acceptUpgrade(environ, startResponse, {
      protocols: ['echo/1'],
      onConnection: hooks.onConnection ?? ((d) => d.pipe(d)),
      onRelease: () => hooks.seen?.push('release'),
    });
  });
}

t.test('a client that never reads is cut by the idle timeout; an app that ignores backpressure by the queue cap', async (t) => {
  const { port, logs } = await start(t, echoApp(), { upgrade: { idleTimeout: 400 } });
  const c = await RawClient.connect(t, port);
  c.socket.pause(); // never reads
  c.write(UPGRADE_ECHO(false));
  const flood = Buffer.alloc(1 << 20, 0x61);
  const started = Date.now();
  let stalled = false;
  for (let i = 0; i < 64 && !stalled; i++) stalled = !c.socket.write(flood);
  t.ok(stalled, 'the echo stops taking bytes once the client stopped reading');
  t.ok(await waitFor(() => logs.some((l) => l.includes('moved no byte either way for 400 ms'))), 'ERR_HATCHWAY_UPGRADE_IDLE reported');
  t.ok(Date.now() - started < 5_000, 'within the idle timeout and a sweep');
  // A client that does not read cannot see the close: once it looks, the connection is gone.
  c.socket.resume();
  t.ok(await c.untilClosed(), 'closed by the server');

  const flooder = await start(t, echoApp({ onConnection: (d) => { const tick = () => { if (!d.destroyed) { d.write(Buffer.alloc(256 * 1024)); setImmediate(tick); } }; tick(); } }), { upgrade: { maxBufferedAmount: 1 << 20 } });
  const slow = await RawClient.connect(t, flooder.port);
  slow.write(UPGRADE_ECHO(false));
  await slow.until((r) => r.includes('\r\n\r\n'));
  slow.socket.pause();
  t.ok(await waitFor(() => flooder.logs.some((l) => l.includes('more than 1048576 bytes queued'))), 'ERR_HATCHWAY_UPGRADE_BACKLOG reported');
  slow.socket.resume();
  t.ok(await slow.untilClosed(), 'the connection is cut');
  t.equal(await settled(), 0);
});

t.test('a client that leaves between the request and the 101: onConnection never runs, everything is released', async (t) => {
  const seen: string[] = [];
  let connected = 0;
  const { port, server } = await start(t, echoApp({ delay: 150, seen, onConnection: (d) => (connected++, d.pipe(d)) }));
  const c = await RawClient.connect(t, port);
  c.write(UPGRADE_ECHO(false));
  await sleep(30);
  c.socket.destroy();
  await sleep(300);
  t.equal(connected, 0, 'no onConnection for a gone client');
  t.ok(seen.includes('release'), 'released');
  t.equal(await settled(), 0);
  t.equal(server.inFlight, 0);
  const next = await RawClient.connect(t, port);
  next.write(UPGRADE_ECHO(false) + 'still here');
  t.ok(await next.until((r) => r.endsWith('still here')), 'the server goes on switching');
});

t.test('a throwing onConnection is reported and cuts only its connection; the report says 101', async (t) => {
  const seen: string[] = [];
  const { port, logs } = await start(t, echoApp({ seen, onConnection: () => { throw new Error('boom in onConnection'); } }));
  const c = await RawClient.connect(t, port);
  c.write(UPGRADE_ECHO(false));
  t.ok(await c.untilClosed(), 'the connection is closed');
  t.match(c.received, /^HTTP\/1\.1 101 /, 'after the switch');
  t.ok(logs.some((l) => l.includes('boom in onConnection')), 'the throw reached environ.errors');
  t.same(seen, ['release', 'report 101 takeover'], 'the callback ran first, then the release, then the report (as for a websocket, SPEC §7.2, §7.9)');
  t.equal(await settled(), 0);
  const ok = await start(t, echoApp());
  const again = await RawClient.connect(t, ok.port);
  again.write(UPGRADE_ECHO(false) + 'x');
  t.ok(await again.until((r) => r.endsWith('x')));
});

t.test('shutdown closes upgraded connections within the graceful deadline', async (t) => {
  const { port, server } = await start(t, echoApp(), { gracefulTimeout: 3_000 });
  const c = await RawClient.connect(t, port);
  c.write(UPGRADE_ECHO(false) + 'up');
  t.ok(await c.until((r) => r.endsWith('up')));
  const s0 = Date.now();
  await server.close();
  t.ok(Date.now() - s0 < 2_000, `closed in ${Date.now() - s0} ms`);
  t.ok(await c.untilClosed(1_000), 'the client sees the connection close');
});
