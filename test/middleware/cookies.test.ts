import t from 'tap';
import type { App } from '../../src/index.ts';
import { cookies, getCookies, sign, unsign } from '../../middleware/cookies.ts';
import { start } from '../fixtures/server.ts';
import { curl, request } from '../fixtures/clients.ts';
import { curlRaw, escapeRoutes, hasTrailer, wsPing } from '../fixtures/escape-routes.ts';

/** Echoes the cookies it got and the signed `user`; `/login` sets a signed cookie. */
const site: App = (environ, startResponse) => {
  const jar = getCookies(environ);
  if (environ.pathInfo === '/login') jar.set('user', 'alice', { signed: true, httpOnly: true });
  if (environ.pathInfo === '/logout') jar.delete('user');
  startResponse(200, [['content-type', 'application/json']]);
  if (environ.pathInfo === '/late') {
    try {
      jar.set('late', '1');
    } catch (err) {
      return [JSON.stringify({ code: (err as { code?: string }).code })];
    }
  }
  return [JSON.stringify({ all: jar.all(), user: jar.getSigned('user') ?? null })];
};

const stack = (secrets = ['new-secret', 'old-secret']) => cookies({ secrets, defaults: { path: '/', sameSite: 'lax' } })(escapeRoutes(site));

t.test('the request\'s cookies are parsed into the environ, repeated fields joined', async (t) => {
  const { url } = await start(t, stack());
  const res = await request(url + '/', { headers: { cookie: ['a=1; b=two%20words', 'c=3'] as unknown as string } });
  t.same(JSON.parse(res.body.toString()), { all: { a: '1', b: 'two words', c: '3' }, user: null });
  const { stdout } = await curl(t, ['-s', '--http2-prior-knowledge', '-H', 'cookie: a=1', '-H', 'cookie: c=3', url + '/']);
  t.same(JSON.parse(stdout).all, { a: '1', c: '3' }, 'over h2c');
});

t.test('a signed cookie is set with the first secret and read back', async (t) => {
  const { url } = await start(t, stack());
  const login = await request(url + '/login');
  const cookie = login.headers['set-cookie']![0]!;
  t.match(cookie, /^user=alice\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
  const back = await request(url + '/', { headers: { cookie: cookie.split(';')[0]! } });
  t.equal(JSON.parse(back.body.toString()).user, 'alice');
});

t.test('rotation: a cookie signed with an older secret verifies; tampered or moved ones do not', async (t) => {
  const { url } = await start(t, stack());
  const read = async (cookie: string) => JSON.parse((await request(url + '/', { headers: { cookie } })).body.toString()).user;
  t.equal(await read(`user=${sign('user', 'bob', 'old-secret')}`), 'bob', 'an old secret still verifies');
  t.equal(await read(`user=${sign('user', 'bob', 'retired')}`), null, 'a retired one does not');
  t.equal(await read(`user=${sign('user', 'bob', 'new-secret').replace('bob', 'eve')}`), null, 'a changed value does not');
  t.equal(await read(`user=${sign('admin', 'bob', 'new-secret')}`), null, 'a signature made for another name does not');
  t.equal(await read('user=bob'), null, 'an unsigned value does not');
  t.equal(unsign('n', sign('n', 'v.with.dots', 's'), ['s']), 'v.with.dots');
});

t.test('delete expires the cookie; set after startResponse fails with a code', async (t) => {
  const { url } = await start(t, stack());
  const out = await request(url + '/logout');
  t.match(out.headers['set-cookie']![0]!, /^user=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax$/);
  const late = await request(url + '/late');
  t.same(JSON.parse(late.body.toString()), { code: 'ERR_COOKIES_RESPONSE_STARTED' });
  t.throws(() => cookies({ secrets: [''] }), TypeError);
});

t.test('Set-Cookie rides the 101 of a websocket and the head of a trailers response', async (t) => {
  const setter: App = (environ, startResponse) => {
    getCookies(environ).set('seen', 'yes', { path: '/' });
    return escapeRoutes(site)(environ, startResponse);
  };
  const { url } = await start(t, cookies({ secrets: 's' })(setter));
  const ws = await wsPing(url + '/ws');
  t.equal(ws.status, 101);
  t.equal(ws.reply, 'echo: ping');
  t.same(ws.headers['set-cookie'], ['seen=yes; Path=/']);
  for (const args of [[], ['--http2-prior-knowledge']]) {
    const { head, body } = await curlRaw(t, url + '/trailers', args);
    t.match(head, /set-cookie: seen=yes; Path=\//i);
    t.ok(hasTrailer(body), `the trailer arrives (${args.join(' ') || 'HTTP/1.1'})`);
  }
});

t.test('passes the hatchway checklist (checkMiddleware), escape-safe', async (t) => {
  const { assertConformance } = await import('../../src/testing.ts');
  const { conformance } = await import('../../middleware/cookies.ts');
  for (const entry of conformance) await assertConformance(t, entry.make(), { grade: 'escape-safe', name: entry.name });
});

t.test('the JavaScript HMAC-SHA256 (for runtimes without node:crypto) is node:crypto\'s, for every key and data length', async (t) => {
  const { createHmac } = await import('node:crypto');
  const fc = (await import('fast-check')).default;
  const { hmacSha256 } = await import('../../middleware/cookies.ts');
  // Key lengths across the 64-byte block, data across the padding boundaries (55, 56, 64 bytes).
  const key = fc.oneof(fc.uint8Array({ maxLength: 130 }), fc.constantFrom(63, 64, 65).map((n) => new Uint8Array(n).fill(7)));
  const data = fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(55, 56, 63, 64, 119, 120).map((n) => new Uint8Array(n).fill(1)));
  fc.assert(fc.property(key, data, (k, d) => Buffer.from(hmacSha256(k, d)).equals(createHmac('sha256', k).update(d).digest())), { numRuns: 500 });
  t.pass();
});
