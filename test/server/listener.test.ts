import t from 'tap';
import type { App } from '../../src/index.ts';
import { RawClient, curl } from '../fixtures/clients.ts';
import { exchange, h2peer, session } from '../fixtures/h2.ts';
import { start } from '../fixtures/server.ts';
import { testCert } from '../fixtures/tls.ts';

/** Answers with what it saw, as JSON. */
const echo: App = (environ, startResponse) => {
  startResponse(200, [['content-type', 'application/json']]);
  const { protocol, scheme, streamId, authority, target, headers, method } = environ;
  return [JSON.stringify({ protocol, scheme, streamId: streamId ?? null, authority, target, headers, method })];
};

const cert = testCert();
const tls = { cert: cert.cert, key: cert.key };

t.test('one port answers TLS h2, TLS HTTP/1.1, h2c and HTTP/1.1 with the same app', async (t) => {
  const { port } = await start(t, echo, { tls });
  const authority = `127.0.0.1:${port}`;
  const ways = [
    { args: ['--http2', '-k', `https://${authority}/tls?h=2`], version: '2', protocol: 'HTTP/2', scheme: 'https', streamId: 1, target: '/tls?h=2' },
    { args: ['--http1.1', '-k', `https://${authority}/tls?h=1`], version: '1.1', protocol: 'HTTP/1.1', scheme: 'https', streamId: null, target: '/tls?h=1' },
    { args: ['--http2-prior-knowledge', `http://${authority}/clear?h=2`], version: '2', protocol: 'HTTP/2', scheme: 'http', streamId: 1, target: '/clear?h=2' },
    { args: [`http://${authority}/clear?h=1`], version: '1.1', protocol: 'HTTP/1.1', scheme: 'http', streamId: null, target: '/clear?h=1' },
  ];
  for (const way of ways) {
    const res = await curl(t, ['-s', '-H', 'x-way: yes', '-w', '\n%{http_version}', ...way.args]);
    t.equal(res.code, 0, way.args.join(' '));
    const [json, version] = res.stdout.split('\n');
    t.equal(version, way.version, `${way.protocol} ${way.scheme}: curl saw HTTP/${way.version}`);
    const seen = JSON.parse(json!) as Record<string, unknown>;
    t.match(seen, { protocol: way.protocol, scheme: way.scheme, streamId: way.streamId, authority, target: way.target, method: 'GET' });
    // The same header list on every protocol: host first, no pseudo-headers.
    t.same(seen.headers, [['host', authority], ['user-agent', 'curl/7.88.1'], ['accept', '*/*'], ['x-way', 'yes']]);
  }
});

t.test('Upgrade: h2c is answered as an ordinary HTTP/1.1 request, on a connection that stays open', async (t) => {
  const { url } = await start(t, echo);
  const res = await curl(t, ['-s', '--http2', '-w', '\n%{http_version} %{num_connects}\n', `${url}/a`, `${url}/b`]);
  const lines = res.stdout.split('\n');
  const first = JSON.parse(lines[0]!) as { protocol: string; headers: [string, string][] };
  t.equal(first.protocol, 'HTTP/1.1');
  t.ok(first.headers.some(([name, value]) => name === 'upgrade' && value === 'h2c'), 'the app saw the upgrade request');
  t.equal(lines[1], '1.1 1', 'answered over HTTP/1.1, never switched');
  t.equal(lines[3], '1.1 0', 'the second request reused the connection');
});

t.test('requests pipelined in the first packet are all answered', async (t) => {
  const { port } = await start(t, echo);
  const client = await RawClient.connect(t, port);
  client.write('GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await client.untilClosed();
  t.match(client.received, /^HTTP\/1\.1 200 [^]*"target":"\/one"[^]*HTTP\/1\.1 200 [^]*"target":"\/two"/);
});

t.test('an HTTP/2 preface split across packets is replayed whole', async (t) => {
  const { port } = await start(t, echo);
  const report = await h2peer(t, port, 'split-preface');
  t.equal(report.status, 200);
});

t.test('a wrong preface is closed at once, a stalled one at the deadline, and the server goes on', async (t) => {
  const { port, url } = await start(t, echo, { prefaceTimeout: 300 });
  t.match(await h2peer(t, port, 'wrong-preface'), { outcome: 'eof', data: '' }, 'PRI then not the preface: closed, nothing sent');
  t.match(await h2peer(t, port, 'stalled-preface', [16]), { outcome: 'eof' }, 'half a preface: closed by the deadline');
  const res = await curl(t, ['-s', '--http2-prior-knowledge', `${url}/after`]);
  t.match(JSON.parse(res.stdout), { protocol: 'HTTP/2', target: '/after' });
});

t.test('a connection that sends nothing, or half-closes first, is closed', async (t) => {
  const { port } = await start(t, echo, { prefaceTimeout: 200 });
  const silent = await RawClient.connect(t, port);
  t.ok(await silent.untilClosed(), 'closed by the deadline');
  t.equal(silent.received, '');
  const quitter = await RawClient.connect(t, port);
  quitter.write('P');
  quitter.socket.end();
  t.ok(await quitter.untilClosed());
  t.equal(quitter.received, '');
});

t.test('a TLS handshake that stalls is closed at the deadline', async (t) => {
  const { port } = await start(t, echo, { tls, prefaceTimeout: 200 });
  const client = await RawClient.connect(t, port);
  client.write(Uint8Array.from([0x16, 0x03, 0x01]));
  t.ok(await client.untilClosed());
});

t.test('TLS on a cleartext port, and cleartext on a TLS-only port, are closed unanswered', async (t) => {
  const clear = await start(t, echo);
  const res = await curl(t, ['-s', '-k', `https://127.0.0.1:${clear.port}/`]);
  t.not(res.code, 0, 'no TLS here');
  t.equal(res.stdout, '');
  const tlsOnly = await start(t, echo, { tls, cleartext: false });
  const plain = await curl(t, ['-s', `http://127.0.0.1:${tlsOnly.port}/`]);
  t.not(plain.code, 0, 'no cleartext there');
  const secure = await curl(t, ['-s', '-k', '--http2', '-w', '\n%{http_version}', `https://127.0.0.1:${tlsOnly.port}/`]);
  t.equal(secure.stdout.split('\n')[1], '2');
});

t.test("node:http's header timeout still applies to connections the listener hands over", async (t) => {
  const { port } = await start(t, echo, { headersTimeout: 300 });
  const client = await RawClient.connect(t, port);
  client.write('GET / HTTP/1.1\r\nHost: x\r\n');
  t.ok(await client.untilClosed(10_000), 'closed');
  t.match(client.received, /^HTTP\/1\.1 408 /);
});

t.test('close() ends idle HTTP/1.1 keep-alive connections and idle HTTP/2 sessions', async (t) => {
  const { server, port, url } = await start(t, echo, { gracefulTimeout: 30_000, tls });
  const h1 = await RawClient.connect(t, port);
  h1.write('GET /keep HTTP/1.1\r\nHost: x\r\n\r\n');
  t.ok(await h1.until((r) => r.includes('"/keep"')));
  const h2 = await session(t, url);
  t.equal((await exchange(h2, { ':path': '/h2' })).status, 200);
  let goaway: number | undefined;
  h2.on('goaway', (code: number) => (goaway = code));
  const h2closed = new Promise<void>((resolve) => h2.once('close', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([server.close().then(() => 'closed'), new Promise((r) => (timer = setTimeout(() => r('stuck'), 10_000)))]);
  clearTimeout(timer);
  t.equal(outcome, 'closed', 'did not wait for the graceful timeout');
  await h2closed;
  t.equal(goaway, 0, 'the HTTP/2 session got GOAWAY (NO_ERROR)');
  t.ok(await h1.untilClosed());
});
