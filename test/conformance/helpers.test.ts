import t from 'tap';
import { CONTROL_HEADER, claimedEscapes, copyEnviron, isEscapeResponse, mapBody, replayInput, type Body, type Environ } from '../../src/index.ts';

t.test('mapBody: one chunk out per chunk in, the inner body closed once on every path', async (t) => {
  let closes = 0;
  const inner = (): Body => Object.assign(['a', 'b', 'c'], { close: () => void closes++ });
  const out: string[] = [];
  for await (const chunk of mapBody(inner(), (c) => String(c).toUpperCase()) as AsyncIterable<string>) out.push(chunk);
  t.same(out, ['A', 'B', 'C']);
  t.equal(closes, 1, 'at the end');
  const early = mapBody(inner(), (c) => c);
  const it = (early as AsyncIterable<string>)[Symbol.asyncIterator]();
  await it.next();
  await it.return!();
  early.close?.();
  t.equal(closes, 2, 'on early return, once even with close() after return()');
  const last = mapBody(inner(), { chunk: (c) => c, end: () => '!' });
  const all: string[] = [];
  for await (const chunk of last as AsyncIterable<string>) all.push(chunk);
  t.same(all, ['a', 'b', 'c', '!']);
  const failing = mapBody(Object.assign((async function* () { yield 'x'; throw new Error('boom'); })(), { close: () => void closes++ }), (c) => c);
  await t.rejects(async () => { for await (const c of failing as AsyncIterable<string>) void c; }, /boom/, 'errors pass on');
  t.equal(closes, 4);
});

t.test('isEscapeResponse and copyEnviron', async (t) => {
  t.ok(isEscapeResponse([['Hatchway-Escape', 'websocket hw1.AAAAAAAAAAAAAAAAAAAAAAAA']]));
  t.notOk(isEscapeResponse([[CONTROL_HEADER, 'garbage']]), 'a malformed field claims nothing');
  t.notOk(isEscapeResponse([['content-type', 'text/plain']]));
  const environ = { pathInfo: '/a', headers: [['x', '1']], features: { push: false, trailers: true, websocket: false, earlyHints: true }, 'hatchway.trailers': () => 't', 'auth.user': 'bob' } as unknown as Environ;
  const copy = copyEnviron(environ, { pathInfo: '/b' });
  t.equal(copy.pathInfo, '/b');
  t.equal(copy['auth.user'], 'bob');
  t.equal(copy['hatchway.trailers'], environ['hatchway.trailers']);
  copy.headers.push(['y', '2']);
  copy.features.trailers = false;
  t.equal(environ.headers.length, 1, "the caller's headers are not changed");
  t.equal(environ.features.trailers, true);
});

t.test('replayInput serves the bytes again, with their length', async (t) => {
  const input = replayInput(new TextEncoder().encode('hello'));
  t.equal(input.length, 5);
  t.equal(await input.text(), 'hello');
});

t.test('claimedEscapes: the body claim first (the first body-kind field), then each push; malformed fields claim nothing', async (t) => {
  const token = 'hw1.AAAAAAAAAAAAAAAAAAAAAAAA';
  t.same(claimedEscapes([['content-type', 'text/html']]), []);
  t.same(claimedEscapes([[CONTROL_HEADER, `push ${token}`], ['Hatchway-Escape', `trailers ${token}`], [CONTROL_HEADER, `websocket ${token}`]]), ['trailers', 'push']);
  t.same(claimedEscapes([[CONTROL_HEADER, `push ${token}`]]), ['push']);
  t.same(claimedEscapes([[CONTROL_HEADER, 'websocket not-a-token']]), [], 'malformed');
  t.equal(isEscapeResponse([[CONTROL_HEADER, 'websocket not-a-token']]), false);
});
