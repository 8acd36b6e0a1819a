/**
 * The portable fallbacks that only other runtimes take, run here on Node by loading a second
 * instance of the module with the Node API hidden while it loads (the module reads the runtime
 * once, at load): the JavaScript HMAC behind signed cookies (no node:crypto), the synchronous
 * context behind lintMiddleware (no AsyncLocalStorage), and envVar where `process.env` is
 * missing or refuses to be read (workerd; Deno without --allow-env).
 */
import t from 'tap';
import type { App, Environ, Middleware } from '../../src/index.ts';
import { envVar } from '../../src/wire/env.ts';
import * as cookiesNode from '../../middleware/cookies.ts';
import type * as Watch from '../../src/conformance/watch.ts';

/** Imports a second instance of `specifier` with `process.getBuiltinModule` hidden while it loads. */
async function withoutBuiltins<M>(specifier: string): Promise<M> {
  const saved = process.getBuiltinModule;
  (process as { getBuiltinModule?: unknown }).getBuiltinModule = undefined;
  try {
    return (await import(specifier)) as M;
  } finally {
    process.getBuiltinModule = saved;
  }
}

t.test('without node:crypto, cookies sign and verify with the same signatures', async (t) => {
  const portable = await withoutBuiltins<typeof cookiesNode>('../../middleware/cookies.ts?without-node-crypto');
  for (const [name, value, secret] of [['visits', '1', 'cookie-secret'], ['sid', 'ä id ✓', 'k'.repeat(100)], ['', '', 's']] as const) {
    const signed = portable.sign(name, value, secret);
    t.equal(signed, cookiesNode.sign(name, value, secret), `${name}: the same signature as node:crypto's`);
    t.equal(portable.unsign(name, signed, ['other', secret]), value, 'it verifies, with rotation');
    t.equal(portable.unsign(name, signed.slice(0, -1) + (signed.endsWith('A') ? 'B' : 'A'), [secret]), undefined, 'a changed signature does not');
  }
});

t.test('without AsyncLocalStorage, watchMiddleware still compares what passes inward synchronously', async (t) => {
  const watch = await withoutBuiltins<typeof Watch>('../../src/conformance/watch.ts?without-async-hooks');
  const dropsKey: Middleware = (app) => (environ, startResponse) => {
    const { ['x.key']: _dropped, ...rest } = environ;
    return app(rest as Environ, startResponse);
  };
  const inner: App = (_environ, startResponse) => {
    startResponse(200, [['content-type', 'text/plain']]);
    return ['ok'];
  };
  const rules: string[] = [];
  const app = watch.watchMiddleware(dropsKey, { report: (v) => rules.push(v.rule) })(inner);
  const { request } = await import('../../src/testing.ts');
  const response = await request((environ, startResponse) => app({ ...environ, 'x.key': 1 }, startResponse), { path: '/' });
  t.equal(response.status, 200);
  t.ok(rules.includes('HW-ENV-02'), `the dropped environ key is reported (${rules.join(', ')})`);
});

t.test('envVar: the variable, or undefined where there is no process.env or reading it throws', async (t) => {
  process.env.HATCHWAY_ENV_TEST = 'yes';
  t.teardown(() => delete process.env.HATCHWAY_ENV_TEST);
  t.equal(envVar('HATCHWAY_ENV_TEST'), 'yes');
  t.equal(envVar('HATCHWAY_ENV_TEST_UNSET'), undefined);
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'process')!;
  const as = (fake: unknown): string | undefined => {
    Object.defineProperty(globalThis, 'process', { configurable: true, writable: true, value: fake });
    try {
      return envVar('HATCHWAY_ENV_TEST');
    } finally {
      Object.defineProperty(globalThis, 'process', descriptor);
    }
  };
  t.equal(as(undefined), undefined, 'no process (workerd)');
  t.equal(as({}), undefined, 'a process without env');
  t.equal(
    as({
      env: new Proxy({}, { get: () => { throw new Error('NotCapable: Requires env access'); } }),
    }),
    undefined,
    'a refused read (Deno without --allow-env)',
  );
});
