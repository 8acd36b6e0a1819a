import t from 'tap';
import createError from 'http-errors';
import { asyncApp, type App } from '../../src/index.ts';
import { errors } from '../../middleware/errors.ts';
import { start } from '../fixtures/server.ts';
import { curl, request } from '../fixtures/clients.ts';
import { curlRaw, escapeRoutes, hasTrailer, wsPing } from '../fixtures/escape-routes.ts';

/** Throws what the path asks for: /http-404, /unauthorized, /plain, /late, /async-early. */
const thrower: App = (environ, startResponse) => {
  switch (environ.pathInfo) {
    case '/http-404':
      throw createError(404, 'no such widget', { code: 'ERR_NO_WIDGET' });
    case '/unauthorized':
      throw createError(401, 'log in', { headers: { 'WWW-Authenticate': 'Bearer', 'Content-Length': '999', 'bad header': 'x' } });
    case '/hidden':
      throw createError(503, 'the database password is hunter2');
    case '/plain':
      throw new Error('secret internals <b>');
    case '/async-early':
      return asyncApp(async (_environ, sr) => {
        sr(200, [['content-type', 'text/plain']]);
        await new Promise((r) => setTimeout(r, 5));
        throw createError(409, 'conflict after a wait');
      })(environ, startResponse);
    case '/late':
      return (async function* () {
        startResponse(200, [['content-type', 'text/plain']]);
        yield 'first chunk\n';
        await new Promise((r) => setTimeout(r, 5));
        throw new Error('broke mid-stream');
      })();
    default:
      startResponse(200, [['content-type', 'text/plain']]);
      return ['fine\n'];
  }
};

const app = (options = {}) => errors({ development: false, ...options })(escapeRoutes(thrower));

t.test('an HttpError keeps its status and exposed message, as JSON when the client asks for JSON', async (t) => {
  const { url } = await start(t, app());
  const res = await request(url + '/http-404', { headers: { accept: 'application/json' } });
  t.equal(res.status, 404);
  t.match(res.headers['content-type'], /^application\/json/);
  t.same(JSON.parse(res.body.toString()), { error: { status: 404, message: 'no such widget', code: 'ERR_NO_WIDGET' } });
  t.equal(res.headers['vary'], 'Accept');
});

t.test('the error\'s own headers are sent, less framing and invalid fields', async (t) => {
  const { url } = await start(t, app());
  const res = await request(url + '/unauthorized');
  t.equal(res.status, 401);
  t.equal(res.headers['www-authenticate'], 'Bearer');
  t.equal(res.headers['content-length'], String(res.body.length), 'the error\'s Content-Length is not believed');
  t.equal(res.body.toString(), 'log in\n', 'plain text by default');
});

t.test('an unexposed error gets the standard phrase; its stack goes to environ.errors only', async (t) => {
  const { url, logs } = await start(t, app());
  const res = await request(url + '/plain', { headers: { accept: 'text/html' } });
  t.equal(res.status, 500);
  t.match(res.headers['content-type'], /^text\/html/);
  t.match(res.body.toString(), /<h1>500<\/h1><p>Internal Server Error<\/p>/);
  t.notMatch(res.body.toString(), /secret|at /, 'no message, no stack');
  t.ok(logs.some((l) => l.includes('secret internals') && l.includes('errors.test.ts')), 'the stack was reported');
  const hidden = await request(url + '/hidden');
  t.equal(hidden.status, 503);
  t.equal(hidden.body.toString(), 'Service Unavailable\n', 'a 5xx HttpError is not exposed');
});

t.test('development mode shows the message and the stack, HTML-escaped', async (t) => {
  const { url } = await start(t, app({ development: true }));
  const res = await request(url + '/plain', { headers: { accept: 'text/html' } });
  t.match(res.body.toString(), /secret internals &lt;b&gt;/);
  t.match(res.body.toString(), /<pre>Error: secret internals/);
});

t.test('an error in an async body before the first chunk still becomes a response', async (t) => {
  const { url } = await start(t, app());
  const res = await request(url + '/async-early', { headers: { accept: 'application/json;q=0.5, text/plain;q=0.1' } });
  t.equal(res.status, 409);
  t.equal(JSON.parse(res.body.toString()).error.message, 'conflict after a wait');
  t.ok(res.complete);
});

t.test('an error after the commit aborts the response (HTTP/1.1 and h2c) rather than ending it', async (t) => {
  const { url, logs } = await start(t, app());
  const res = await request(url + '/late');
  t.equal(res.status, 200);
  t.equal(res.complete, false, 'the response never looks complete');
  t.match(res.body.toString(), /^first chunk\n/);
  const h2 = await curl(t, ['-s', '--http2-prior-knowledge', url + '/late']);
  t.not(h2.code, 0, 'curl sees the stream reset');
  t.ok(logs.some((l) => l.includes('broke mid-stream')), 'the runner reported it');
});

t.test('h2c clients get the same negotiated error', async (t) => {
  const { url } = await start(t, app());
  const { stdout, code } = await curl(t, ['-s', '-i', '--http2-prior-knowledge', '-H', 'accept: application/json', url + '/http-404']);
  t.equal(code, 0);
  t.match(stdout, /^HTTP\/2 404/);
  t.match(stdout, /"message":"no such widget"/);
});

t.test('a websocket and a trailers response behind it are honoured', async (t) => {
  const { url } = await start(t, app());
  const ws = await wsPing(url + '/ws');
  t.equal(ws.status, 101);
  t.equal(ws.reply, 'echo: ping');
  const h1 = await curlRaw(t, url + '/trailers');
  t.ok(hasTrailer(h1.body), 'the trailer follows the last chunk');
  const h2 = await curlRaw(t, url + '/trailers', ['--http2-prior-knowledge']);
  t.ok(hasTrailer(h2.body), 'the trailer follows the data over h2c');
});

t.test('a request that fails nothing passes through untouched', async (t) => {
  const { url } = await start(t, app());
  const res = await request(url + '/ok');
  t.equal(res.status, 200);
  t.equal(res.body.toString(), 'fine\n');
});

t.test('passes the hatchway checklist (checkMiddleware), escape-safe', async (t) => {
  const { assertConformance } = await import('../../src/testing.ts');
  const { conformance } = await import('../../middleware/errors.ts');
  for (const entry of conformance) await assertConformance(t, entry.make(), { grade: 'escape-safe', name: entry.name });
});
