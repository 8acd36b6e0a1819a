import t, { type Test } from 'tap';
import type { App } from '../../src/index.ts';
import { MemoryStore, getSession, session, type SessionOptions } from '../../middleware/session.ts';
import { sign } from '../../middleware/cookies.ts';
import { start } from '../fixtures/server.ts';
import { request } from '../fixtures/clients.ts';
import { curlRaw, escapeRoutes, hasTrailer, wsPing } from '../fixtures/escape-routes.ts';

/** `/count` increments, `/login` regenerates, `/logout` destroys, `/` only reads. */
const site: App = (environ, startResponse) => {
  const s = getSession(environ);
  if (environ.pathInfo === '/count') s.data.n = Number(s.data.n ?? 0) + 1;
  if (environ.pathInfo === '/login') {
    s.regenerate();
    s.data.user = 'alice';
  }
  if (environ.pathInfo === '/logout') s.destroy();
  startResponse(200, [['content-type', 'application/json']]);
  return [JSON.stringify({ id: s.id, data: s.data, isNew: s.isNew })];
};

async function client(t: Test, options: Partial<SessionOptions> = {}) {
  const { url } = await start(t, session({ secrets: ['k2', 'k1'], ...options })(escapeRoutes(site)));
  let cookie = '';
  return async (path: string) => {
    const res = await request(url + path, { headers: cookie ? { cookie } : {} });
    const set = res.headers['set-cookie']?.[0];
    if (set !== undefined) cookie = set.split(';')[0]!;
    return { set, body: JSON.parse(res.body.toString()) as { id: string; data: Record<string, unknown>; isNew: boolean } };
  };
}

t.test('a session gets a cookie only once it holds data; later changes are saved without one', async (t) => {
  const get = await client(t);
  const empty = await get('/');
  t.equal(empty.set, undefined, 'an empty new session sends no cookie');
  const first = await get('/count');
  t.match(first.set, /^sid=[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{43}; Max-Age=86400; Path=\/; HttpOnly; SameSite=Lax$/);
  const second = await get('/count');
  t.equal(second.set, undefined, 'the cookie did not change');
  t.same(second.body.data, { n: 2 });
  t.equal(second.body.isNew, false);
  const read = await get('/');
  t.same(read.body.data, { n: 2 }, 'the change was stored');
});

t.test('a forged or unknown id starts a fresh session under a new id', async (t) => {
  const { url } = await start(t, session({ secrets: 'k' })(site));
  const forged = await request(url + '/count', { headers: { cookie: 'sid=attacker-chosen' } });
  const body = JSON.parse(forged.body.toString());
  t.not(body.id, 'attacker-chosen');
  t.equal(body.isNew, true);
  const unknown = await request(url + '/', { headers: { cookie: `sid=${sign('sid', 'not-stored', 'k')}` } });
  t.equal(JSON.parse(unknown.body.toString()).isNew, true, 'a validly signed id with no stored session is not adopted');
});

t.test('sessions expire after their TTL in the memory store', async (t) => {
  let now = 1_000_000;
  const store = new MemoryStore(() => now);
  const get = await client(t, { store, ttl: 60_000 });
  await get('/count');
  now += 30_000;
  t.same((await get('/count')).body.data, { n: 2 });
  now += 61_000;
  const later = await get('/');
  t.equal(later.body.isNew, true, 'expired');
  t.same(later.body.data, {});
});

t.test('regenerate moves the data to a new id and forgets the old one; destroy clears the cookie', async (t) => {
  const store = new MemoryStore();
  const get = await client(t, { store });
  const before = await get('/count');
  const login = await get('/login');
  t.ok(login.set, 'a new cookie');
  t.not(login.body.id, before.body.id);
  t.equal(await store.get(before.body.id), undefined, 'the old id is gone');
  t.same(await store.get(login.body.id), { n: 1, user: 'alice' });
  const logout = await get('/logout');
  t.match(logout.set, /^sid=; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/);
  t.equal(await store.get(login.body.id), undefined);
});

t.test('rolling re-sends the cookie on every response', async (t) => {
  const get = await client(t, { rolling: true });
  await get('/count');
  t.ok((await get('/')).set, 'even when nothing changed');
  t.throws(() => session({ secrets: [] }), TypeError);
});

t.test('the websocket\'s onSocket sees the session; its Set-Cookie rides the 101; trailers are honoured', async (t) => {
  const login: App = (environ, startResponse) => {
    getSession(environ).data.user = 'alice';
    return escapeRoutes(site, (env) => String(getSession(env).data.user))(environ, startResponse);
  };
  const { url } = await start(t, session({ secrets: 'k' })(login));
  const ws = await wsPing(url + '/ws');
  t.equal(ws.status, 101);
  t.equal(ws.reply, 'alice: ping');
  t.match(ws.headers['set-cookie']?.[0], /^sid=/);
  for (const args of [[], ['--http2-prior-knowledge']]) {
    const { head, body } = await curlRaw(t, url + '/trailers', args);
    t.match(head, /set-cookie: sid=/i);
    t.ok(hasTrailer(body), `the trailer arrives (${args.join(' ') || 'HTTP/1.1'})`);
  }
});

t.test('passes the hatchway checklist (checkMiddleware), escape-safe', async (t) => {
  const { assertConformance } = await import('../../src/testing.ts');
  const { conformance } = await import('../../middleware/session.ts');
  for (const entry of conformance) await assertConformance(t, entry.make(), { grade: 'escape-safe', name: entry.name });
});
