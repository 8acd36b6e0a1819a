/**
 * hatchway/testing: the in-memory client runs the real runner and the real recognition, so
 * escapes are honoured or degraded as on a socket.
 */
import t from 'tap';
import { acceptWebSocket, associate, compose, sendWithTrailers, upgradeTo, type App, type Middleware } from '../src/index.ts';
import { liveRegistrations, request } from '../src/testing.ts';

const hello: App = (environ, startResponse) => {
  startResponse(200, [['content-type', 'text/plain']]);
  return [`hello ${environ.pathInfo} ${environ.queryString}\n`];
};

const chat: App = (environ, startResponse) => acceptWebSocket(environ, startResponse, { onSocket: () => {} });

const sum: App = (environ, startResponse) =>
  sendWithTrailers(environ, startResponse, {
    headers: [['content-type', 'text/plain']],
    body: ['a', 'b'],
    trailers: () => [['x-sum', 'ab']],
  });

const handshake = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };

t.test('a plain request: status, fields, body, and the environ the server would build', async (t) => {
  const res = await request(hello, { path: '/a/b?c=1' });
  t.equal(res.status, 200);
  t.equal(res.text, 'hello /a/b c=1\n');
  t.equal(res.header('Content-Length'), '15');
  t.equal(res.escape, undefined, 'no escape involved');
});

t.test('a websocket route: honoured for a handshake, the 426 fallback otherwise, a 401 from middleware wins', async (t) => {
  const up = await request(chat, { headers: handshake });
  t.equal(up.status, 101);
  t.ok(up.upgraded);
  t.match(up.escape, { kind: 'websocket', situation: 'honoured', outcome: 'takeover' });
  const plain = await request(chat);
  t.equal(plain.status, 426);
  t.match(plain.escape, { situation: 'ineligible', outcome: 'fallback' });
  const refuse: Middleware = (app) => (environ, startResponse) => app(environ, (_s, h) => startResponse(401, h));
  const no = await request(refuse(chat), { headers: handshake });
  t.equal(no.status, 401);
  t.equal(no.text, 'Unauthorized\n');
  t.notOk(no.upgraded);
  t.match(no.escape, { situation: 'answered', outcome: 'answer' });
  t.notMatch(no.text + no.headers.flat().join(' '), /hw1\./, 'no token');
});

t.test('trailers: sent with TE: trailers and over HTTP/2, dropped without', async (t) => {
  const withTe = await request(sum, { headers: { te: 'trailers' } });
  t.equal(withTe.text, 'ab');
  t.same(withTe.trailers, [['x-sum', 'ab']]);
  const h2 = await request(sum, { protocol: 'HTTP/2' });
  t.same(h2.trailers, [['x-sum', 'ab']]);
  const without = await request(sum);
  t.same(without.trailers, []);
  t.match(without.escape, { situation: 'ineligible', outcome: 'body-without-trailers' });
});

t.test('push degrades to preload links and a 103; with push allowed it is recorded', async (t) => {
  const page: App = (environ, startResponse) => {
    startResponse(200, [['content-type', 'text/html'], ...associate(environ, [{ path: '/app.css', as: 'style' }])]);
    return ['<p>'];
  };
  const preload = await request(page);
  t.match(preload.header('link'), /<\/app\.css>; rel=preload; as=style/);
  t.same(preload.earlyHints, [['</app.css>; rel=preload; as=style']]);
  const pushed = await request(page, { protocol: 'HTTP/2', features: { push: true } });
  t.same(pushed.pushed, [{ path: '/app.css', as: 'style' }]);
  t.equal(pushed.header('link'), undefined);
});

t.test('upgradeTo runs its emulation; a host without escapes degrades every helper by itself', async (t) => {
  const api = upgradeTo((stream) => {
    stream.respond(200, [['content-type', 'text/plain']]);
    stream.end(`emulated=${stream.emulated}`);
  });
  const res = await request(api, { protocol: 'HTTP/2' });
  t.equal(res.text, 'emulated=true');
  const bare = await request(chat, { escapes: false, headers: handshake });
  t.equal(bare.status, 426, 'no extension: the helper answers with its fallback');
  t.equal(liveRegistrations(), 0, 'every registration released');
});

t.test('a request body reaches environ.input', async (t) => {
  const echo: App = (environ, startResponse) => ({
    async *[Symbol.asyncIterator]() {
      const text = await environ.input.text();
      startResponse(200, [['content-type', 'text/plain']]);
      yield `${environ.method} ${text}`;
    },
  });
  const res = await request(echo, { method: 'post', body: 'payload' });
  t.equal(res.text, 'POST payload');
});

t.test("the README's testing example holds: 401 refused, 101 taken, 426 for a plain GET", async (t) => {
  const auth: Middleware = (app) => (environ, startResponse) => {
    if (!environ.headers.some(([n]) => n === 'authorization')) {
      startResponse(401, [['www-authenticate', 'Bearer']]);
      return ['unauthorized\n'];
    }
    return app(environ, startResponse);
  };
  const app: App = (environ, startResponse) => (environ.pathInfo === '/chat' ? chat : hello)(environ, startResponse);
  const refused = await request(compose(auth)(app), { path: '/chat', headers: handshake });
  t.equal(refused.status, 401);
  t.notOk(refused.upgraded);
  const taken = await request(compose(auth)(app), { path: '/chat', headers: { ...handshake, authorization: 'Bearer x' } });
  t.equal(taken.status, 101);
  t.match(taken.escape, { kind: 'websocket', situation: 'honoured', outcome: 'takeover' });
  const plain = await request(compose(auth)(app), { path: '/chat', headers: { authorization: 'Bearer x' } });
  t.equal(plain.status, 426);
});

t.test('a client that leaves (disconnectAfter) and one that stops reading (stallAfter)', async (t) => {
  let closed = 0;
  let produced = 0;
  const stream: App = (_environ, startResponse) => {
    startResponse(200, [['content-type', 'text/plain']]);
    return {
      async *[Symbol.asyncIterator]() {
        for (let i = 0; i < 100; i++) {
          produced++;
          yield 'x'.repeat(10);
          await new Promise((r) => setImmediate(r));
        }
      },
      close: () => void closed++,
    };
  };
  const gone = await request(stream, { disconnectAfter: 25 });
  t.ok(gone.disconnected);
  t.equal(gone.body.byteLength, 30, 'the bytes up to the one that crossed the mark');
  t.equal(closed, 1, 'the body was closed once');
  produced = 0;
  const slow = await request(stream, { stallAfter: 10, timeout: 100 });
  t.ok(slow.timedOut);
  t.ok(produced <= 2, `the runner waited for the client: ${produced} chunks produced`);
  t.equal(closed, 2);
});

t.test('assertConformance: the tap helper is one line in an author’s suite', async (t) => {
  const { assertConformance } = await import('../src/testing.ts');
  const report = await assertConformance(t, (app) => app, { grade: 'escape-safe', name: 'identity' });
  t.equal(report.verdict, 'pass');
  const seen: string[] = [];
  await assertConformance({ ok: (v, m) => void (v ? undefined : seen.push(String(m))) }, (app) => (environ, startResponse) => app(environ, (s, h, e) => startResponse(s, h.filter(([n]) => n !== 'hatchway-escape'), e)));
  t.ok(seen.some((m) => m.startsWith('HW-ESC-03 ')), 'one failing assertion per broken rule, named by id');
});
