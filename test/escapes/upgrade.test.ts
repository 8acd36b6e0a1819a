/**
 * The upgrade escape's pure parts (SPEC §7.10): which protocols a request asks for, which one
 * is chosen, which registrations are refused, and the default fallback, which a host without
 * the extension (the in-memory test host) answers by itself.
 */
import t from 'tap';
import { acceptUpgrade, isHatchwayError, type App, type UpgradeRegistration } from '../../src/index.ts';
import { chooseProtocol, requestedH1, requestedH2 } from '../../src/protocol/upgrade.ts';
import { validateUpgrade } from '../../src/escapes/upgrade.ts';
import { request } from '../../src/testing.ts';

function codeOf(f: () => void): string | undefined {
  try {
    f();
  } catch (err) {
    return isHatchwayError(err) ? err.code : 'not a HatchwayError';
  }
  return undefined;
}

const up = (h: Record<string, string>) => Object.entries(h);

t.test('an HTTP/1.1 request asks for its Upgrade tokens only with the upgrade option and no content', async (t) => {
  t.same(requestedH1('GET', up({ connection: 'keep-alive, Upgrade', upgrade: 'echo/1, chat' })), ['echo/1', 'chat']);
  t.same(requestedH1('GET', up({ upgrade: 'echo/1' })), [], 'no upgrade connection option (RFC 9110 §7.8)');
  t.same(requestedH1('POST', up({ connection: 'upgrade', upgrade: 'echo/1', 'content-length': '3' })), [], 'a body: answered as an ordinary request');
  t.same(requestedH1('POST', up({ connection: 'upgrade', upgrade: 'echo/1', 'content-length': '0' })), ['echo/1']);
  t.same(requestedH1('GET', up({ connection: 'upgrade', upgrade: 'websocket, h2c, H2C, echo/1' })), ['echo/1'], 'websocket and h2c are never the generic kind’s');
  t.same(requestedH1('GET', up({ connection: 'upgrade', upgrade: 'bad token, /x, echo/1/2' })), [], 'not tokens');
  t.same(requestedH1('CONNECT', up({ host: 'h:443' })), ['connect'], 'a CONNECT asks for a tunnel');
});

t.test('an HTTP/2 request asks for a tunnel (plain CONNECT) or its :protocol (extended CONNECT)', async (t) => {
  t.same(requestedH2('CONNECT', undefined), ['connect']);
  t.same(requestedH2('CONNECT', 'echo/1'), ['echo/1']);
  t.same(requestedH2('CONNECT', 'websocket'), [], 'the websocket kind’s');
  t.same(requestedH2('GET', undefined), [], 'HTTP/2 has no Upgrade (RFC 9113 §8.6)');
});

t.test('the first protocol the client asked for that the registration speaks is chosen, in any case', async (t) => {
  t.equal(chooseProtocol(['chat', 'ECHO/1'], ['echo/1', 'chat']), 'chat', 'the client’s order');
  t.equal(chooseProtocol(['ECHO/1'], ['echo/1']), 'echo/1', 'the registration’s spelling is sent');
  t.equal(chooseProtocol(['foo'], ['echo/1']), undefined);
});

t.test('a registration for websocket, h2c, a non-token or no protocol at all is refused with a code', async (t) => {
  const onConnection = () => {};
  for (const protocols of [['websocket'], ['H2C'], ['two words'], ['']]) {
    t.equal(codeOf(() => validateUpgrade({ protocols, onConnection })), 'ERR_HATCHWAY_UPGRADE_PROTOCOL', JSON.stringify(protocols));
  }
  for (const bad of [{ protocols: [], onConnection }, { protocols: ['echo/1'] }, null]) {
    t.equal(codeOf(() => validateUpgrade(bad as unknown as UpgradeRegistration)), 'ERR_HATCHWAY_INVALID_REGISTRATION');
  }
  t.doesNotThrow(() => validateUpgrade({ protocols: ['echo/1', 'connect'], onConnection }));
});

t.test('without the extension the default fallback answers: 426 with Upgrade, 405 for a tunnel-only registration, 501 to a CONNECT', async (t) => {
  const echo: App = (environ, startResponse) => acceptUpgrade(environ, startResponse, { protocols: ['echo/1', 'line'], onConnection: () => t.fail('never switched') });
  const tunnel: App = (environ, startResponse) => acceptUpgrade(environ, startResponse, { protocols: ['connect'], onConnection: () => t.fail('never switched') });
  for (const escapes of [true, false]) {
    const a = await request(echo, { escapes, headers: { connection: 'upgrade', upgrade: 'echo/1' } });
    t.equal(a.status, 426);
    t.match(Object.fromEntries(a.headers), { upgrade: 'echo/1, line' });
    const b = await request(tunnel, { escapes });
    t.equal(b.status, 405);
    t.match(Object.fromEntries(b.headers), { allow: 'CONNECT' });
    const c = await request(tunnel, { escapes, method: 'CONNECT', path: '/' });
    t.equal(c.status, 501);
  }
  const own = await request((environ, startResponse) => acceptUpgrade(environ, startResponse, { protocols: ['echo/1'], onConnection: () => {}, fallback: (_e, sr) => (sr(418, []), ['teapot']) }));
  t.equal(own.status, 418, 'a fallback of its own');
});
