/**
 * The token scan (SPEC §7.2): in memory, the carry across chunks and the hold-back of bytes
 * that could begin a token; over a socket, what curl receives from a middleware that wraps the
 * token in a longer body split mid-token.
 */
import t from 'tap';
import { EscapeRegistry, TOKEN_LENGTH } from '../../src/escapes/registry.ts';
import { TokenScan, lastBytes } from '../../src/escapes/scan.ts';
import { acceptWebSocket, toBytes, type Chunk, type Middleware } from '../../src/index.ts';
import { start } from '../fixtures/server.ts';
import { curl } from '../fixtures/clients.ts';
import { released } from '../fixtures/holes-chain.ts';

const registries: EscapeRegistry[] = [];
t.teardown(() => registries.forEach((r) => r.release()));

function scanner() {
  const errors: string[] = [];
  const registry = new EscapeRegistry();
  registries.push(registry);
  const token = registry.register('websocket', { onSocket: () => {} });
  const scan = new TokenScan(registry, { write: (line) => errors.push(line) });
  scan.start();
  return { token, scan, errors };
}

const text = (c: Chunk | false | undefined) => (c === false ? false : c === undefined ? '' : Buffer.from(toBytes(c)).toString('latin1'));

t.test('a token split across any chunk boundary is found, and none of it is sent first', async (t) => {
  for (let cut = 1; cut < TOKEN_LENGTH; cut++) {
    const { token, scan, errors } = scanner();
    t.equal(text(scan.body(`page ${token.slice(0, cut)}`)), 'page ', `cut at ${cut}: the start of the token is held`);
    t.equal(scan.body(`${token.slice(cut)} more`), false, `cut at ${cut}: found`);
    t.match(errors[0], /ERR_HATCHWAY_TOKEN_LEAK/);
  }
});

t.test('bytes that only look like the start of a token are sent when the next chunk shows they are not', async (t) => {
  const { scan } = scanner();
  t.equal(text(scan.body('ends with h')), 'ends with ', 'the "h" is held');
  t.equal(text(scan.body('ello')), 'hello');
  t.equal(text(scan.body('hw1.')), '', 'the public prefix is held');
  t.equal(text(lastBytes(scan, undefined)), 'hw1.', 'and sent at the end: it says nothing about a token');
  const other = scanner();
  t.equal(text(other.scan.body(`x ${other.token.slice(0, 9)}`)), 'x ');
  t.equal(lastBytes(other.scan, undefined), false, 'a body that ends in more of a token than its prefix is torn down');
});

t.test('without registrations the scan passes chunks through untouched', async (t) => {
  const registry = new EscapeRegistry();
  const scan = new TokenScan(registry, { write: () => {} });
  scan.start();
  const chunk = 'hw1.whatever';
  t.equal(scan.body(chunk), chunk, 'the same string, not a copy');
});

t.test('curl receives no part of a token that a middleware wrapped in a longer body split mid-token', async (t) => {
  // A careless debug middleware: it echoes the inner body inside its own, in small pieces.
  const echo: Middleware = (app) => (environ, startResponse) => {
    const inner = app(environ, () => {});
    return {
      async *[Symbol.asyncIterator]() {
        const parts: Buffer[] = [];
        for await (const c of inner as AsyncIterable<Chunk>) parts.push(Buffer.from(toBytes(c)));
        startResponse(200, [['content-type', 'text/plain']]);
        const all = Buffer.concat([Buffer.from('inner said: '), ...parts, Buffer.from(' (end)')]);
        for (let i = 0; i < all.byteLength; i += 7) yield all.subarray(i, i + 7);
      },
      close: () => inner.close?.(),
    };
  };
  registries.splice(0).forEach((r) => r.release()); // the in-memory ones above
  const { url, logs } = await start(t, echo((environ, startResponse) => acceptWebSocket(environ, startResponse, { onSocket: () => {} })));
  const res = await curl(t, ['-s', '-i', url]);
  t.notMatch(res.stdout, /hw1\.[A-Za-z0-9_-]/, 'not even the start of the token');
  t.match(res.stdout, /inner said: /, 'what came before it was sent');
  t.ok(logs.some((l) => l.includes('ERR_HATCHWAY_TOKEN_LEAK')));
  t.equal(await released(), 0);
});
