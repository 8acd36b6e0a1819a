import t from 'tap';
import { EscapeRegistry, isTokenShaped, liveRegistrations } from '../../src/escapes/registry.ts';
import { DEGRADE, renderDegradeTable } from '../../src/escapes/degrade.ts';

t.test('tokens carry at least 128 random bits and are distinct', async (t) => {
  const registry = new EscapeRegistry();
  const seen = new Set<string>();
  for (let i = 0; i < 16; i++) {
    const token = registry.register('push', { resources: [] });
    t.ok(isTokenShaped(token));
    // 24 base64url characters = 144 bits
    t.ok(token.length - 'hw1.'.length >= Math.ceil(128 / 6));
    seen.add(token);
  }
  t.equal(seen.size, 16);
  registry.release();
});

t.test('a token matches only its own kind, once', async (t) => {
  const registry = new EscapeRegistry();
  const token = registry.register('websocket', { onSocket() {} });
  t.equal(registry.match('trailers', token), undefined, 'another kind');
  const entry = registry.match('websocket', token);
  t.ok(entry);
  entry!.used = true;
  t.equal(registry.match('websocket', token), undefined, 'single use');
  registry.release();
});

t.test('a token of another registry is never matched', async (t) => {
  const a = new EscapeRegistry();
  const b = new EscapeRegistry();
  const token = a.register('websocket', { onSocket() {} });
  t.equal(b.match('websocket', token), undefined);
  t.equal(b.match('websocket', 'hw1.' + 'A'.repeat(24)), undefined, 'token-shaped forgery');
  t.equal(b.match('websocket', 'not a token'), undefined);
  a.release();
  b.release();
});

t.test('registrations are capped per request', async (t) => {
  const registry = new EscapeRegistry(2);
  registry.register('push', { resources: [] });
  registry.register('push', { resources: [] });
  t.throws(() => registry.register('push', { resources: [] }), { code: 'ERR_HATCHWAY_TOO_MANY_ESCAPES' });
  registry.release();
});

t.test('release runs in reverse order, exactly once, and survives a throwing callback', async (t) => {
  const order: number[] = [];
  const reported: unknown[] = [];
  const before = liveRegistrations();
  const registry = new EscapeRegistry(16, (err) => reported.push(err));
  registry.register('push', { resources: [], onRelease: () => order.push(1) });
  registry.register('push', {
    resources: [],
    onRelease: () => {
      order.push(2);
      throw new Error('boom');
    },
  });
  registry.register('push', { resources: [], onRelease: () => order.push(3) });
  t.equal(liveRegistrations(), before + 3);
  registry.release();
  registry.release();
  t.same(order, [3, 2, 1]);
  t.equal(reported.length, 1);
  t.equal(liveRegistrations(), before);
  t.throws(() => registry.register('push', { resources: [] }), { code: 'ERR_HATCHWAY_REQUEST_OVER' });
});

t.test('the degrade table covers every kind, protocol and situation', async (t) => {
  for (const [kind, protocols] of Object.entries(DEGRADE)) {
    for (const [protocol, row] of Object.entries(protocols)) {
      t.equal(Object.keys(row).length, 9, `${kind} ${protocol}`);
      t.equal(row['client-gone'], 'release');
      t.equal(row.replaced, 'middleware', 'middleware that says no always wins');
      t.ok(row.answered === 'answer' || row.answered === 'middleware', 'a status a middleware set always wins');
    }
  }
  t.match(renderDegradeTable(), /\| websocket \| HTTP\/1 \| takeover \|/);
});
