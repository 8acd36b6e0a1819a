import t from 'tap';
import { createServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { CONNECTION_SPECIFIC, SINGLE_VALUE_FIELDS, toHeaderObject } from '../../src/protocol/fields.ts';
import { isHopByHop, isServerManaged } from '../../src/protocol/headers.ts';
import { responseHead, trailerFields } from '../../src/protocol/http2-headers.ts';
import { validateTrailers } from '../../src/protocol/trailers.ts';
import { compose, upgradeTo, type App, type Middleware } from '../../src/index.ts';
import { toNodeListener } from '../../adapters/node.ts';
import { start } from '../fixtures/server.ts';
import { curl } from '../fixtures/clients.ts';

t.test('a repeated single-value field becomes one value, the last one', async (t) => {
  const object = toHeaderObject([['X-Content-Type-Options', 'nosniff'], ['content-type', 'text/html'], ['x-content-type-options', 'nosniff'], ['Content-Type', 'text/plain']]);
  t.same(object, { 'x-content-type-options': 'nosniff', 'content-type': 'text/plain' });
});

t.test('other repeated fields become arrays in order; connection-specific and pseudo fields are dropped', async (t) => {
  const object = toHeaderObject([['set-cookie', 'a=1'], ['Set-Cookie', 'b=2'], ['connection', 'close'], ['upgrade', 'websocket'], [':path', '/x'], ['vary', 'accept']], { ':status': 200 });
  t.same(object, { ':status': 200, 'set-cookie': ['a=1', 'b=2'], vary: 'accept' });
});

t.test('the single-value set is the one node:http2 enforces', async (t) => {
  for (const name of ['content-type', 'content-length', 'x-content-type-options', 'etag', 'location', 'last-modified', 'date', 'user-agent']) t.ok(SINGLE_VALUE_FIELDS.has(name), name);
  t.notOk(SINGLE_VALUE_FIELDS.has('set-cookie'));
});

t.test('every rule uses the one connection-specific set', async (t) => {
  for (const name of CONNECTION_SPECIFIC) {
    t.ok(isHopByHop(name), `isHopByHop(${name})`);
    t.equal(isServerManaged(name, 200), true, `an app may not set ${name}`);
    t.same(responseHead(200, [[name, 'x']], undefined), [':status', '200'], `HTTP/2 drops ${name}`);
    t.same(trailerFields([[name, 'x']]), {}, `HTTP/2 trailers drop ${name}`);
    t.throws(() => validateTrailers([[name, 'x']]), { code: 'ERR_HATCHWAY_INVALID_TRAILER' }, `${name} is no trailer`);
  }
  t.equal(isServerManaged('upgrade', 426), false, 'a 426 names the protocol to upgrade to');
  t.ok(isHopByHop('trailer'), 'the server frames trailers itself');
});

const nosniff: Middleware = (app) => (environ, startResponse) =>
  app(environ, (status, headers, excInfo) => startResponse(status, [...headers, ['x-content-type-options', 'nosniff']], excInfo));

t.test('a middleware and an upgradeTo handler that both send x-content-type-options give one nosniff over h2c', async (t) => {
  const app = compose(nosniff)(
    upgradeTo((stream) => {
      stream.respond(200, [['content-type', 'text/plain'], ['x-content-type-options', 'nosniff']]);
      stream.end('native\n');
    }),
  );
  const { url } = await start(t, app);
  const { stdout, code } = await curl(t, ['--http2-prior-knowledge', '-si', `${url}/`]);
  t.equal(code, 0);
  t.match(stdout, /^HTTP\/2 200 ?\r\n/);
  t.equal(stdout.match(/^x-content-type-options: nosniff\r$/gim)?.length, 1, 'one field on the wire');
  t.match(stdout, /\r\n\r\nnative\n$/);
});

t.test('an app hosted in node:http2 with a field set twice answers with one', async (t) => {
  const app: App = (environ, startResponse) => {
    startResponse(200, [['content-type', 'text/plain'], ['x-content-type-options', 'nosniff'], ['x-content-type-options', 'nosniff']]);
    return ['hosted\n'];
  };
  const server = createServer(toNodeListener(app, { errors: { write: () => {} } }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const { port } = server.address() as AddressInfo;
  const { stdout } = await curl(t, ['--http2-prior-knowledge', '-si', `http://127.0.0.1:${port}/`]);
  t.match(stdout, /^HTTP\/2 200 ?\r\n/);
  t.equal(stdout.match(/^x-content-type-options: nosniff\r$/gim)?.length, 1);
  t.match(stdout, /hosted\n$/);
});
