/**
 * lint at run time: development throws at the broken call with the rule id (a 500 naming it),
 * production logs one line per rule per middleware; lintMiddleware checks both sides.
 */
import t from 'tap';
import { compose, isHatchwayError, lint, lintMiddleware, type App, type Middleware } from '../../src/index.ts';
import { request } from '../../src/testing.ts';
import lintDefault, { conformance } from '../../middleware/lint.ts';

const hello: App = (_environ, startResponse) => {
  startResponse(200, [['content-type', 'text/plain']]);
  return ['hello'];
};
const twice: App = (_environ, startResponse) => {
  startResponse(200, []);
  startResponse(200, []);
  return ['x'];
};
const dropsKeys: Middleware = (app) => (environ, startResponse) => {
  const inner = { ...environ };
  delete inner['user.id'];
  return app(inner, startResponse);
};

t.test('in development a broken rule throws ERR_HATCHWAY_CONFORMANCE with its id: the request fails with a 500', async (t) => {
  const seen: string[] = [];
  const res = await request(lint(twice, { mode: 'throw', onViolation: (v) => seen.push(v.rule) }));
  t.equal(res.status, 500);
  t.same(seen, ['HW-RSP-03']);
  t.match(res.logs.join('\n'), /HW-RSP-03/);
});

t.test('in production each rule is logged once per middleware, and the request goes on', async (t) => {
  const stack = lintMiddleware(dropsKeys, { mode: 'log', name: 'drops-keys' })(hello);
  const first = await request(stack, { environ: { 'user.id': 7 } });
  const second = await request(stack, { environ: { 'user.id': 7 } });
  t.equal(first.status, 200);
  t.equal(second.status, 200);
  t.match(first.logs.join('\n'), /hatchway lint: drops-keys: HW-ENV-02/);
  t.notMatch(second.logs.join('\n'), /HW-ENV-02/, 'once');
});

t.test('NODE_ENV=production means log mode', async (t) => {
  const before = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  t.teardown(() => void (process.env.NODE_ENV = before));
  const res = await request(lint()(twice));
  t.equal(res.status, 500, 'the server still refuses the second call');
  t.match(res.logs.join('\n'), /hatchway lint: twice: HW-RSP-03/);
});

t.test('a clean stack passes lint untouched, and a thrown violation carries the catalogue code', async (t) => {
  const res = await request(compose(lint())(hello));
  t.equal(res.text, 'hello');
  t.same(res.logs, []);
  const linted = lint(twice, { mode: 'throw' });
  let caught: unknown;
  await request((environ, startResponse) => {
    try {
      return linted(environ, startResponse);
    } catch (err) {
      caught = err;
      throw err;
    }
  });
  t.ok(isHatchwayError(caught, 'ERR_HATCHWAY_CONFORMANCE'));
  t.match((caught as Error).message, /^twice: HW-RSP-03 \(A second `startResponse` only with `excInfo`\): .*Hint: /);
});

t.test('hatchway/middleware/lint: a factory, and its conformance entry passes the checklist', async (t) => {
  t.equal((await request(lintDefault()(hello))).text, 'hello');
  t.equal(conformance[0]!.name, 'lint');
});
