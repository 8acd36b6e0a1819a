/**
 * Every rule's examples, run: the passing one passes the rule, the violating one fails it with
 * that rule's id — so the checklist's examples, the checker and the ids cannot drift apart.
 */
import t from 'tap';
import { RULES, ruleById } from '../../src/conformance/rules.ts';
import { checkMiddleware } from '../../src/testing.ts';

t.test('rule ids are stable in shape and unique', async (t) => {
  const ids = RULES.map((r) => r.id);
  t.equal(new Set(ids).size, ids.length);
  for (const rule of RULES) {
    t.match(rule.id, /^HW-(ENV|HDR|RSP|BODY|CLOSE|IN|ERR|ESC)-\d\d$/, rule.id);
    t.ok(rule.id.startsWith(`HW-${rule.class}-`), `${rule.id} is in its class`);
    t.ok(rule.why && rule.check && rule.hint && rule.spec.startsWith('§'), `${rule.id} says why, how and what instead`);
    t.ok(rule.probes.length > 0);
  }
  t.throws(() => ruleById('HW-NOPE-01'), TypeError);
});

for (const rule of RULES) {
  t.test(`${rule.id}: the passing example passes and the violating one fails with ${rule.id}`, async (t) => {
    const good = await checkMiddleware(rule.examples.pass, { rules: [rule.id] });
    t.equal(good.rules[0]!.verdict, 'pass', `passes: ${good.rules[0]!.evidence?.message ?? ''}`);
    const bad = await checkMiddleware(rule.examples.fail, { rules: [rule.id] });
    t.equal(bad.rules[0]!.id, rule.id);
    t.equal(bad.rules[0]!.verdict, 'fail', 'fails with its id');
    t.equal(bad.verdict, 'fail');
    t.ok(bad.rules[0]!.evidence!.message.length > 0, 'with evidence');
    t.match(bad.rules[0]!.evidence!.reproduce, /^request\(middleware\(probe\), \{/, 'and a reproduction');
  });
}

t.test('the identity middleware passes every rule and is escape-safe', async (t) => {
  const report = await checkMiddleware((app) => app, { name: 'identity' });
  t.equal(report.verdict, 'pass');
  t.same(report.counts, { pass: RULES.length, fail: 0, 'n/a': 0 });
  t.equal(report.grade, 'escape-safe');
  t.same(report.escapes, { websocket: 'honoured', trailers: 'honoured', push: 'honoured' });
});

t.test('a middleware that answers everything itself is escape-aware, with the inner rules not applicable', async (t) => {
  const report = await checkMiddleware(() => (_environ, startResponse) => {
    startResponse(503, [['content-type', 'text/plain']]);
    return ['down\n'];
  });
  t.equal(report.verdict, 'pass');
  t.equal(report.grade, 'escape-aware');
  t.equal(report.rules.find((r) => r.id === 'HW-ENV-02')!.verdict, 'n/a');
  t.equal(report.rules.find((r) => r.id === 'HW-RSP-01')!.verdict, 'pass', 'its own response is still checked');
});
