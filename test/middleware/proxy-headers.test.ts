import t, { type Test } from 'tap';
import type { App, Environ } from '../../src/index.ts';
import { isIP, proxyHeaders, parseForwarded, type ProxyHeadersOptions } from '../../middleware/proxy-headers.ts';
import { start } from '../fixtures/server.ts';
import { curl, request } from '../fixtures/clients.ts';
import { curlRaw, escapeRoutes, hasTrailer, wsPing } from '../fixtures/escape-routes.ts';

const view = (environ: Environ) => ({
  scheme: environ.scheme,
  authority: environ.authority,
  remoteAddress: environ.remoteAddress,
  remotePort: environ.remotePort,
  peer: environ['proxy.peer'],
  originalScheme: environ['proxy.scheme'],
  chain: environ['proxy.chain'],
});

const whoami: App = (environ, startResponse) => {
  startResponse(200, [['content-type', 'application/json']]);
  return [JSON.stringify(view(environ))];
};

async function ask(t: Test, options: ProxyHeadersOptions, headers: Record<string, string>) {
  const { url } = await start(t, proxyHeaders(options)(escapeRoutes(whoami)));
  const res = await request(url + '/', { headers });
  return JSON.parse(res.body.toString()) as ReturnType<typeof view>;
}

t.test('X-Forwarded-* are believed hop by hop, as far as the hops are trusted', async (t) => {
  const headers = { 'x-forwarded-for': '203.0.113.7, 10.0.0.2', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example', 'x-forwarded-port': '8443' };
  const all = await ask(t, { trust: ['loopback', '10.0.0.0/8'] }, headers);
  t.equal(all.remoteAddress, '203.0.113.7', 'the client behind two trusted proxies');
  t.equal(all.remotePort, 0, 'its port was not forwarded');
  t.equal(all.scheme, 'https');
  t.equal(all.authority, 'shop.example:8443');
  t.same(all.chain, ['203.0.113.7', '10.0.0.2', '127.0.0.1']);
  t.same(all.peer, { address: '127.0.0.1', port: all.peer && (all.peer as { port: number }).port });
  t.equal(all.originalScheme, 'http');
  const one = await ask(t, { trust: 'loopback' }, headers);
  t.equal(one.remoteAddress, '10.0.0.2', 'the walk stops at the first untrusted address');
  t.same(one.chain, ['10.0.0.2', '127.0.0.1']);
});

t.test('a peer that is not trusted is not believed at all', async (t) => {
  const res = await ask(t, { trust: '10.0.0.0/8' }, { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', forwarded: 'for=1.2.3.4' });
  t.equal(res.remoteAddress, '127.0.0.1');
  t.equal(res.scheme, 'http');
  t.equal(res.peer, undefined, 'the environ is passed on as it was');
});

t.test('Forwarded (RFC 7239) gives address, port, proto and host per hop, and wins over X-Forwarded-*', async (t) => {
  const forwarded = 'for=192.0.2.60;proto=https;host=example.com, for="[2001:db8:cafe::17]:4711";proto=http';
  const near = await ask(t, { trust: 'loopback' }, { forwarded, 'x-forwarded-for': '198.51.100.1' });
  t.equal(near.remoteAddress, '2001:db8:cafe::17');
  t.equal(near.remotePort, 4711);
  t.equal(near.scheme, 'http');
  const far = await ask(t, { trust: () => true }, { forwarded });
  t.equal(far.remoteAddress, '192.0.2.60');
  t.equal(far.scheme, 'https', 'the outermost trusted hop says how the client came');
  t.equal(far.authority, 'example.com');
  const xff = await ask(t, { trust: 'loopback', headers: 'x-forwarded' }, { forwarded, 'x-forwarded-for': '198.51.100.1' });
  t.equal(xff.remoteAddress, '198.51.100.1', 'headers: x-forwarded ignores Forwarded');
});

t.test('a hop count trusts that many hops; nonsense proto and host are ignored', async (t) => {
  const res = await ask(t, { trust: 2 }, { 'x-forwarded-for': '1.1.1.1, 2.2.2.2, 3.3.3.3', 'x-forwarded-proto': 'gopher', 'x-forwarded-host': 'bad host\\x' });
  t.equal(res.remoteAddress, '2.2.2.2');
  t.equal(res.scheme, 'http');
  t.match(res.authority, /^127\.0\.0\.1:\d+$/);
  t.throws(() => proxyHeaders({ trust: -1 }), TypeError);
  t.throws(() => proxyHeaders(undefined as unknown as ProxyHeadersOptions), TypeError);
});

t.test('parseForwarded handles quoting, case and obfuscated nodes', async (t) => {
  t.same(parseForwarded(['For="_gazonk";Proto=HTTPS, for=unknown;host="a.example:81"']), [
    { for: '_gazonk', port: undefined, proto: 'https', host: undefined },
    { for: 'unknown', port: undefined, proto: undefined, host: 'a.example:81' },
  ]);
  const res = await ask(t, { trust: () => true }, { forwarded: 'for=9.9.9.9, for=_hidden' });
  t.equal(res.remoteAddress, '_hidden', 'an obfuscated node cannot be walked past');
});

t.test('the same rewrite over h2c', async (t) => {
  const { url } = await start(t, proxyHeaders({ trust: 'loopback' })(whoami));
  const { stdout } = await curl(t, ['-s', '--http2-prior-knowledge', '-H', 'x-forwarded-for: 198.51.100.9', '-H', 'x-forwarded-proto: https', url + '/']);
  t.match(JSON.parse(stdout), { remoteAddress: '198.51.100.9', scheme: 'https' });
});

t.test('a websocket\'s onSocket sees the rewritten environ; trailers are honoured', async (t) => {
  const app = proxyHeaders({ trust: 'loopback' })(escapeRoutes(whoami, (env) => `${env.remoteAddress} ${env.scheme}`));
  const { url } = await start(t, app);
  const ws = await wsPing(url + '/ws', { 'x-forwarded-for': '203.0.113.50', 'x-forwarded-proto': 'https' });
  t.equal(ws.status, 101);
  t.equal(ws.reply, '203.0.113.50 https: ping');
  const { body } = await curlRaw(t, url + '/trailers', ['-H', 'x-forwarded-for: 203.0.113.50']);
  t.ok(hasTrailer(body));
});

t.test('passes the hatchway checklist (checkMiddleware), escape-safe', async (t) => {
  const { assertConformance } = await import('../../src/testing.ts');
  const { conformance } = await import('../../middleware/proxy-headers.ts');
  for (const entry of conformance) await assertConformance(t, entry.make(), { grade: 'escape-safe', name: entry.name });
});

t.test("isIP (a regular expression, for runtimes without node:net) agrees with node:net's isIP", async (t) => {
  const { isIP: nodeIsIP } = await import('node:net');
  const fc = (await import('fast-check')).default;
  const zone = fc.stringMatching(/^%[0-9a-zA-Z.:-]{0,6}$/);
  const noise = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEFg:.%-_ '), maxLength: 45 });
  const broken = fc.tuple(fc.oneof(fc.ipV6(), fc.ipV4()), fc.nat(40), fc.constantFrom(':', '.', '0', 'f', '::', '%', '')).map(([a, i, c]) => a.slice(0, i) + c + a.slice(i));
  const address = fc.oneof(fc.ipV4(), fc.ipV4Extended(), fc.ipV6(), fc.tuple(fc.ipV6(), zone).map(([a, z]) => a + z), noise, broken);
  fc.assert(fc.property(address, (a) => isIP(a) === (nodeIsIP(a) !== 0)), { numRuns: 20_000 });
  for (const a of ['unknown', '_hidden', '', '::ffff:127.0.0.1', 'fe80::1%eth0', '01.2.3.4']) t.equal(isIP(a), nodeIsIP(a) !== 0, JSON.stringify(a));
});
