import t from 'tap';
import type { App } from '../../src/index.ts';
import { cors } from '../../middleware/cors.ts';
import { start } from '../fixtures/server.ts';
import { request } from '../fixtures/clients.ts';
import { curlRaw, escapeRoutes, hasTrailer, wsPing } from '../fixtures/escape-routes.ts';

let calls = 0;
const hello: App = (_environ, startResponse) => {
  calls++;
  startResponse(200, [['content-type', 'text/plain'], ['x-request-cost', '3']]);
  return ['hello\n'];
};

t.test('a preflight is answered 204 with methods, the requested headers and max-age; the app never runs', async (t) => {
  const { url } = await start(t, cors({ origin: 'https://app.test', maxAge: 600, methods: ['GET', 'POST'] })(hello));
  calls = 0;
  const res = await request(url + '/api', {
    method: 'OPTIONS',
    headers: { origin: 'https://app.test', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-token' },
  });
  t.equal(res.status, 204);
  t.equal(res.headers['access-control-allow-origin'], 'https://app.test');
  t.equal(res.headers['access-control-allow-methods'], 'GET, POST');
  t.equal(res.headers['access-control-allow-headers'], 'content-type, x-token', 'reflected');
  t.equal(res.headers['access-control-max-age'], '600');
  t.equal(res.headers['vary'], 'Origin, Access-Control-Request-Headers');
  t.equal(calls, 0);
});

t.test('a preflight from an origin not allowed gets no CORS fields', async (t) => {
  const { url } = await start(t, cors({ origin: ['https://a.test', /\.b\.test$/], allowedHeaders: ['content-type'] })(hello));
  const res = await request(url + '/api', { method: 'OPTIONS', headers: { origin: 'https://evil.test', 'access-control-request-method': 'PUT' } });
  t.equal(res.status, 204);
  t.equal(res.headers['access-control-allow-origin'], undefined);
  t.equal(res.headers['access-control-allow-methods'], undefined);
  t.equal(res.headers['vary'], 'Origin');
  const ok = await request(url + '/api', { method: 'OPTIONS', headers: { origin: 'https://x.b.test', 'access-control-request-method': 'PUT' } });
  t.equal(ok.headers['access-control-allow-origin'], 'https://x.b.test', 'a RegExp in the list');
  t.equal(ok.headers['access-control-allow-headers'], 'content-type', 'the configured list');
});

t.test('a simple request from an allowed origin gets the origin, credentials, exposed headers and Vary', async (t) => {
  const { url } = await start(t, cors({ origin: /^https:\/\/[a-z]+\.example$/, credentials: true, exposedHeaders: ['x-request-cost'] })(hello));
  const res = await request(url + '/api', { headers: { origin: 'https://shop.example' } });
  t.equal(res.status, 200);
  t.equal(res.headers['access-control-allow-origin'], 'https://shop.example');
  t.equal(res.headers['access-control-allow-credentials'], 'true');
  t.equal(res.headers['access-control-expose-headers'], 'x-request-cost');
  t.equal(res.headers['vary'], 'Origin');
  const other = await request(url + '/api', { headers: { origin: 'https://evil.test' } });
  t.equal(other.headers['access-control-allow-origin'], undefined);
  t.equal(other.headers['vary'], 'Origin', 'a refusal varies by origin too');
  const none = await request(url + '/api');
  t.equal(none.headers['vary'], 'Origin', 'so does a request without Origin');
});

t.test('the default allows every origin with *, and does not vary', async (t) => {
  const { url } = await start(t, cors()(hello));
  const res = await request(url + '/', { headers: { origin: 'https://any.test' } });
  t.equal(res.headers['access-control-allow-origin'], '*');
  t.equal(res.headers['vary'], undefined);
  t.equal(res.body.toString(), 'hello\n');
});

t.test('a function decides per request; * with credentials echoes the origin', async (t) => {
  const { url } = await start(t, cors({ origin: (origin, environ) => origin.endsWith('.trusted') && environ.method === 'GET' })(hello));
  t.equal((await request(url + '/', { headers: { origin: 'https://x.trusted' } })).headers['access-control-allow-origin'], 'https://x.trusted');
  t.equal((await request(url + '/', { method: 'POST', headers: { origin: 'https://x.trusted' } })).headers['access-control-allow-origin'], undefined);
  const cred = await start(t, cors({ credentials: true })(hello));
  t.equal((await request(cred.url + '/', { headers: { origin: 'https://y.test' } })).headers['access-control-allow-origin'], 'https://y.test');
});

t.test('options are checked at construction', async (t) => {
  t.throws(() => cors({ maxAge: -1 }), TypeError);
});

t.test('the CORS fields ride the 101 of a websocket and the head of a trailers response', async (t) => {
  const { url } = await start(t, cors({ origin: 'https://app.test', credentials: true })(escapeRoutes(hello)));
  const ws = await wsPing(url + '/ws', { origin: 'https://app.test' });
  t.equal(ws.status, 101);
  t.equal(ws.reply, 'echo: ping');
  t.equal(ws.headers['access-control-allow-origin'], 'https://app.test');
  t.equal(ws.headers['vary'], 'Origin');
  for (const args of [[], ['--http2-prior-knowledge']]) {
    const { head, body } = await curlRaw(t, url + '/trailers', ['-H', 'origin: https://app.test', ...args]);
    t.match(head, /access-control-allow-origin: https:\/\/app\.test/i);
    t.ok(hasTrailer(body), `the trailer arrives (${args.join(' ') || 'HTTP/1.1'})`);
  }
});

t.test('passes the hatchway checklist (checkMiddleware), escape-safe', async (t) => {
  const { assertConformance } = await import('../../src/testing.ts');
  const { conformance } = await import('../../middleware/cors.ts');
  for (const entry of conformance) await assertConformance(t, entry.make(), { grade: 'escape-safe', name: entry.name });
});
