/**
 * Seeded property tests of the checker: any chain of well-behaved middleware passes every
 * rule; the same chain with one violating middleware inserted anywhere fails with that
 * violation's rule id.
 */
import t from 'tap';
import fc from 'fast-check';
import { compose, copyEnviron, mapBody, onBodyClose, type Middleware } from '../../src/index.ts';
import { RULES } from '../../src/conformance/rules.ts';
import { checkMiddleware } from '../../src/testing.ts';
import headerAdder from '../fixtures/conformance/header-adder.ts';
import authGate from '../fixtures/conformance/auth-gate.ts';
import mount from '../fixtures/conformance/mount.ts';
import logger from '../fixtures/conformance/logger.ts';
import compressor from '../fixtures/conformance/compressor.ts';

const SEED = 20261201;
const auth = { authorization: 'Bearer letmein' };
const identityBody: Middleware = (app) => (environ, startResponse) => mapBody(app(environ, startResponse), (chunk) => chunk);
const addsKey: Middleware = (app) => (environ, startResponse) => app(copyEnviron(environ, { 'trace.id': environ.requestId }), startResponse);
const closeHook: Middleware = (app) => (environ, startResponse) => onBodyClose(app(environ, startResponse), () => {});

// Well-behaved middleware, by name (the compressor only where nothing inside it is broken:
// dropping Content-Length it hides a wrong one, which is no violation of the chain).
const GOOD: Record<string, () => Middleware> = {
  headerAdder, authGate: () => authGate(), mount: () => mount, logger: () => logger, identityBody: () => identityBody, addsKey: () => addsKey, closeHook: () => closeHook,
};
const names = Object.keys(GOOD);

// Violations that survive any well-behaved neighbour. Two do not, and are tested on their own
// (rules.test.ts): HW-BODY-04 and HW-CLOSE-03 need a sync body, which an async-normalising
// middleware inside them (mapBody) no longer gives them.
const INJECTABLE = RULES.filter((r) => r.id !== 'HW-BODY-04' && r.id !== 'HW-CLOSE-03');

t.test('chains of well-behaved middleware always pass', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.constantFrom(...names), { minLength: 1, maxLength: 4 }), fc.boolean(), async (chain, gzip) => {
      const mw = compose(...(gzip ? [compressor()] : []), ...chain.map((n) => GOOD[n]!()));
      const report = await checkMiddleware(mw, { headers: auth });
      if (report.verdict !== 'pass') throw new Error(`${chain.join(' → ')}: ${report.rules.filter((r) => r.verdict === 'fail').map((r) => `${r.id} ${r.evidence?.message}`).join('; ')}`);
      if (report.grade !== 'escape-safe') throw new Error(`${chain.join(' → ')} is ${report.grade}`);
    }),
    { seed: SEED, numRuns: 8 },
  );
  t.pass('8 chains');
});

t.test('one violation injected anywhere in a chain fails with its rule id', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.constantFrom(...names), { minLength: 0, maxLength: 3 }),
      fc.nat(),
      fc.constantFrom(...INJECTABLE),
      async (chain, at, rule) => {
        const position = at % (chain.length + 1);
        const stack = chain.map((n) => GOOD[n]!());
        stack.splice(position, 0, rule.examples.fail);
        const report = await checkMiddleware(compose(...stack), { rules: [rule.id], headers: auth });
        if (report.rules[0]!.verdict !== 'fail') {
          const shown = [...chain.slice(0, position), `«${rule.id}»`, ...chain.slice(position)].join(' → ');
          throw new Error(`${shown}: ${rule.id} was ${report.rules[0]!.verdict}`);
        }
      },
    ),
    { seed: SEED, numRuns: 40 },
  );
  t.pass('40 injections');
});
