/**
 * What each host really gives, measured with real peers (curl, nghttp's view through curl,
 * a raw TCP client) on the probe app: protocols (HTTP/1.1, h2c, TLS with ALPN), the escapes
 * besides the websocket (trailers, push and early hints, `upgradeTo`, the generic upgrade) and
 * their degrade, `environ.features` telling the truth about it, and streaming both ways with
 * backpressure. The expectations are docs/RUNTIMES.md's table; a runtime that changes makes
 * this file fail first.
 */
import t from 'tap';
import { connect } from 'node:net';
import { curl, RawClient, sleep } from '../fixtures/clients.ts';
import { testCert } from '../fixtures/tls.ts';
import { RUNTIMES, getJson, handshake, rawExchange, startHost, type Host, type Runtime } from '../fixtures/runtimes/hosts.ts';

/** docs/RUNTIMES.md, as booleans. */
const HAS: Record<Runtime, { h2c: boolean; tlsH2: boolean; trailers: boolean; earlyHints: boolean; upgrade: boolean; nativeH2: boolean }> = {
  node: { h2c: true, tlsH2: true, trailers: true, earlyHints: true, upgrade: true, nativeH2: true },
  bun: { h2c: false, tlsH2: false, trailers: false, earlyHints: false, upgrade: false, nativeH2: false },
  deno: { h2c: true, tlsH2: true, trailers: false, earlyHints: false, upgrade: false, nativeH2: false },
};

interface Features {
  protocol: string;
  scheme: string;
  features: { push: boolean; trailers: boolean; websocket: boolean; earlyHints: boolean };
  extensions: string[];
}

interface Stats {
  bodiesClosed: number;
  produced: number;
  trailersDropped: number;
}

async function until(host: Host, predicate: (stats: Stats) => boolean): Promise<Stats> {
  let stats = await getJson<Stats>(`${host.url}/stats`);
  for (let i = 0; i < 50 && !predicate(stats); i++) {
    await sleep(100);
    stats = await getJson<Stats>(`${host.url}/stats`);
  }
  return stats;
}

for (const runtime of RUNTIMES) {
  const has = HAS[runtime];

  t.test(`${runtime}: features and the escapes besides the websocket, over HTTP/1.1`, async (t) => {
    const host = await startHost(t, runtime);
    const plain = JSON.parse((await curl(t, ['-s', `${host.url}/features`])).stdout) as Features;
    t.same(plain.features, { push: false, trailers: false, websocket: false, earlyHints: has.earlyHints }, 'features of a plain request');
    t.equal(plain.extensions.includes('hatchway.upgrade'), has.upgrade, 'hatchway.upgrade only where a connection can be switched');
    t.notOk(plain.extensions.includes('hatchway.http2'), 'no hatchway.http2 on HTTP/1.1');
    const te = JSON.parse((await curl(t, ['-s', '-H', 'TE: trailers', `${host.url}/features`])).stdout) as Features;
    t.equal(te.features.trailers, has.trailers, 'features.trailers with TE: trailers');
    const ws = await rawExchange(t, host.port, handshake('/features'));
    t.equal((JSON.parse(ws.body) as Features).features.websocket, true, 'features.websocket on a handshake');

    const trailers = await curl(t, ['-s', '--raw', '-i', '-H', 'TE: trailers', `${host.url}/probe/trailers`]);
    t.match(trailers.stdout, /with trailers\n/);
    t.equal(/\r\n0\r\nx-checksum: abc123\r\n/.test(trailers.stdout), has.trailers, `the trailer is sent: ${has.trailers}`);
    if (!has.trailers) t.equal((await until(host, (s) => s.trailersDropped > 0)).trailersDropped, 1, 'the dropped trailers reached onDropped');
    const required = await curl(t, ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'TE: trailers', `${host.url}/probe/trailers-required`]);
    t.equal(required.stdout, has.trailers ? '200' : '400', 'a required trailer is a 400 where it cannot be sent');

    const push = await curl(t, ['-s', '-i', `${host.url}/probe/push`]);
    t.match(push.stdout, /\r\nlink: <\/style\.css>; rel=preload; as=style\r\n/i, 'push degrades to preload on HTTP/1.1');
    t.equal(/^HTTP\/1\.1 103/.test(push.stdout), has.earlyHints, `a 103 Early Hints first: ${has.earlyHints}`);

    const emulated = await curl(t, ['-s', `${host.url}/probe/upgrade-to`]);
    t.equal(emulated.stdout, 'emulated\n', 'upgradeTo runs emulated on HTTP/1.1');

    const upgrade = await rawExchange(t, host.port, 'GET /probe/upgrade HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: upgrade\r\nUpgrade: x-probe/1\r\n\r\n');
    t.equal(upgrade.status, has.upgrade ? 101 : 426, 'the generic upgrade: switched, or its fallback');
    if (!has.upgrade) t.match(upgrade.head, /\r\nupgrade: x-probe\/1/i);

    const h2c = await curl(t, ['-s', '--http2-prior-knowledge', '-w', '\n%{http_version}', `${host.url}/features`]);
    t.equal(h2c.stdout.endsWith('\n2'), has.h2c, `h2c with prior knowledge: ${has.h2c}`);
    if (has.h2c) t.equal((JSON.parse(h2c.stdout.slice(0, h2c.stdout.lastIndexOf('\n'))) as Features).protocol, 'HTTP/2', 'environ.protocol says HTTP/2');
  });

  t.test(`${runtime}: TLS, with HTTP/2 where ALPN gives it`, async (t) => {
    const cert = testCert();
    const host = await startHost(t, runtime, undefined, { tls: true, env: { TLS_CERT: cert.certPath, TLS_KEY: cert.keyPath } });
    const h2 = await curl(t, ['-s', '--cacert', cert.certPath, '--http2', '-w', '\n%{http_version}', `https://localhost:${host.port}/features`]);
    const version = h2.stdout.slice(h2.stdout.lastIndexOf('\n') + 1);
    t.equal(version, has.tlsH2 ? '2' : '1.1', 'the protocol ALPN chose');
    const seen = JSON.parse(h2.stdout.slice(0, h2.stdout.lastIndexOf('\n'))) as Features;
    t.equal(seen.protocol, has.tlsH2 ? 'HTTP/2' : 'HTTP/1.1', 'environ.protocol agrees');
    t.equal(seen.scheme, 'https');
    t.equal(seen.features.trailers, has.trailers, 'features.trailers on this protocol');
    t.equal(seen.extensions.includes('hatchway.http2'), has.nativeH2 && has.tlsH2, 'hatchway.http2 only where a handler gets a real stream');
    const h1 = await curl(t, ['-s', '--cacert', cert.certPath, '--http1.1', '-w', '\n%{http_version}', `https://localhost:${host.port}/`]);
    t.equal(h1.stdout, `Hello from hatchway on ${runtime}\n\n1.1`, 'HTTP/1.1 over TLS');
    const native = await curl(t, ['-s', '--cacert', cert.certPath, '--http2', `https://localhost:${host.port}/probe/upgrade-to`]);
    t.match(native.stdout, has.nativeH2 ? /^native stream \d+\n$/ : /^emulated\n$/, 'upgradeTo: the native stream, or emulated');
    const trailers = await curl(t, ['-s', '--cacert', cert.certPath, '--http2', '-i', `https://localhost:${host.port}/probe/trailers`]);
    t.equal(/\nx-checksum: abc123/.test(trailers.stdout), has.trailers, `trailers over ${version}: ${has.trailers}`);
  });

  t.test(`${runtime}: streaming both ways, backpressure, a client that leaves`, async (t) => {
    const host = await startHost(t, runtime);
    // The response's first chunk arrives while the app still holds the body open.
    const reader = await RawClient.connect(t, host.port);
    reader.write('GET /probe/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    t.ok(await reader.until((r) => r.includes('first\n')), 'the first chunk before the body ends');
    t.notOk(reader.received.includes('late'), 'and nothing after it yet');
    const before = await getJson<Stats>(`${host.url}/stats`);
    reader.socket.destroy();
    t.equal((await until(host, (s) => s.bodiesClosed > before.bodiesClosed)).bodiesClosed, before.bodiesClosed + 1, 'the client left: the body was closed');

    // The request body reaches the app as it comes: each chunk echoed before the next is sent.
    const duplex = await RawClient.connect(t, host.port);
    duplex.write('POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n');
    t.ok(await duplex.until((r) => r.includes('first')), 'the echo of the first chunk arrives before the request ends');
    duplex.write('6\r\nsecond\r\n0\r\n\r\n');
    t.ok(await duplex.until((r) => /second\r\n0\r\n\r\n$/.test(r)), 'then the rest, and the end');

    // A reader that takes nothing: the app is held back, not run to its 64 MiB.
    const slow = connect(host.port, '127.0.0.1');
    slow.on('error', () => {});
    t.teardown(() => void slow.destroy());
    await new Promise<void>((resolve) => slow.once('connect', resolve));
    slow.pause();
    const start = await getJson<Stats>(`${host.url}/stats`);
    slow.write('GET /probe/flood HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    let ahead = 0;
    for (let i = 0, steady = 0; i < 60 && steady < 5; i++) {
      await sleep(100);
      const now = (await getJson<Stats>(`${host.url}/stats`)).produced - start.produced;
      steady = now === ahead && now > 0 ? steady + 1 : 0;
      ahead = now;
    }
    t.ok(ahead > 0 && ahead < 32 * 1024 * 1024, `the app produced ${(ahead / 2 ** 20).toFixed(1)} MiB of 64 ahead of a reader that took none`);
    slow.destroy();
    const closed = await until(host, (s) => s.bodiesClosed > before.bodiesClosed + 1);
    t.equal(closed.bodiesClosed, before.bodiesClosed + 2, 'and its body was closed when the reader left');
  });
}
