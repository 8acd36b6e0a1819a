/**
 * The report extension (SPEC §7.9) on a real server: a middleware that asks `onResponse` learns
 * what the client really got — 101 for a websocket takeover, 200 over RFC 8441, the status of
 * an HTTP/2 handler, the 426 of a fallback, the bytes, an abort — not the token response it saw.
 */
import t from 'tap';
import WebSocket from 'ws';
import { acceptWebSocket, onResponse, upgradeTo, type App, type Middleware, type ResponseReport } from '../../src/index.ts';
import { start } from '../fixtures/server.ts';
import { curl, request } from '../fixtures/clients.ts';
import { h2WebSocket } from '../fixtures/h2-ws.ts';
import { released } from '../fixtures/holes-chain.ts';
import { request as memory } from '../../src/testing.ts';

/** Records every report, and what the middleware itself saw go past. */
function recorder(reports: (ResponseReport & { seen: string })[]): Middleware {
  return (app) => (environ, startResponse) => {
    let seen = '';
    onResponse(environ, (r) => reports.push({ ...r, seen }));
    return app(environ, (status, headers, excInfo) => {
      seen = String(status);
      return startResponse(status, headers, excInfo);
    });
  };
}

const routes: App = (environ, startResponse) => {
  switch (environ.pathInfo) {
    case '/ws':
      return acceptWebSocket(environ, startResponse, { onSocket: (ws) => ws.close(1000) });
    case '/h2':
      return upgradeTo((stream) => {
        stream.respond(201, [['content-type', 'text/plain']]);
        stream.end('made\n');
      })(environ, startResponse);
    case '/broken':
      startResponse(200, [['content-type', 'text/plain']]);
      return (async function* () {
        yield 'part';
        throw new Error('lost the database');
      })();
    default:
      startResponse(200, [['content-type', 'text/plain']]);
      return ['twelve bytes'];
  }
};

t.test('the report tells what went on the wire, on HTTP/1.1', async (t) => {
  const reports: (ResponseReport & { seen: string })[] = [];
  const { url } = await start(t, recorder(reports)(routes));
  const plain = await request(`${url}/`);
  t.equal(plain.status, 200);
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
  await new Promise((resolve) => ws.once('close', resolve));
  const fallback = await curl(t, ['-s', '-o', '/dev/null', '-w', '%{http_code}', `${url}/ws`]);
  t.equal(fallback.stdout, '426');
  await request(`${url}/broken`);
  await released();
  const [a, b, c, d] = reports;
  t.match(a, { status: 200, bytes: 12, protocol: 'HTTP/1.1', escape: undefined, aborted: false, seen: '200' });
  t.match(b, { status: 101, bytes: 0, escape: { kind: 'websocket', situation: 'honoured', outcome: 'takeover' }, aborted: false, seen: '200' }, 'the middleware saw the 200 placeholder; the client got 101');
  t.match(c, { status: 426, escape: { situation: 'ineligible', outcome: 'fallback' }, aborted: false, seen: '200' });
  t.ok(c!.bytes > 0);
  t.match(d, { status: 200, bytes: 4, aborted: true });
  t.equal(reports.length, 4, 'one report per request');
});

t.test('over h2c: an upgradeTo handler reports its own status, RFC 8441 its 200', async (t) => {
  const reports: (ResponseReport & { seen: string })[] = [];
  const { url, port } = await start(t, recorder(reports)(routes));
  const res = await curl(t, ['-s', '--http2-prior-knowledge', '-w', ' %{http_code}', `${url}/h2`]);
  t.equal(res.stdout, 'made\n 201');
  const ws = await h2WebSocket(t, port, '/ws');
  t.equal(ws.status, 200);
  await released();
  t.match(reports[0], { status: 201, bytes: 5, protocol: 'HTTP/2', escape: { kind: 'http2', outcome: 'takeover' }, seen: '200' });
  t.match(reports[1], { status: 200, escape: { kind: 'websocket', outcome: 'takeover' } });
});

t.test('a listener that throws fails nothing; a foreign host has no report extension', async (t) => {
  const loud: Middleware = (app) => (environ, startResponse) => {
    onResponse(environ, () => {
      throw new Error('listener bug');
    });
    return app(environ, startResponse);
  };
  const res = await memory(loud(routes));
  t.equal(res.status, 200);
  t.ok(res.logs.some((l) => l.includes('listener bug')), 'reported to environ.errors');
  let asked: boolean | undefined;
  const probe: Middleware = (app) => (environ, startResponse) => {
    asked = onResponse(environ, () => {});
    return app(environ, startResponse);
  };
  await memory(probe(routes), { escapes: false });
  t.equal(asked, false, 'onResponse says so; the caller falls back to what it saw');
});

t.test('a response that claims only pushes reports the push row: preload over HTTP/1.1, push where allowed', async (t) => {
  const { associate } = await import('../../src/index.ts');
  const page: App = (environ, startResponse) => {
    startResponse(200, [['content-type', 'text/html'], ...associate(environ, [{ path: '/app.css', as: 'style' }])]);
    return ['<p>'];
  };
  const reports: (ResponseReport & { seen: string })[] = [];
  const { url } = await start(t, recorder(reports)(page));
  await request(`${url}/`);
  await released();
  t.match(reports[0], { status: 200, escape: { kind: 'push', situation: 'ineligible', outcome: 'preload' } });
  const pushed = await memory(recorder(reports)(page), { protocol: 'HTTP/2', features: { push: true } });
  t.match(pushed.escape, { kind: 'push', situation: 'honoured', outcome: 'push' });
  t.match(reports[1], { escape: { kind: 'push', outcome: 'push' } });
});
