import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import WebSocket from 'ws';
import { acceptWebSocket, fileBody, onBodyClose, REPORT_KEY, upgradeTo, type App, type Body, type Middleware, type ResponseReport } from '../../src/index.ts';
import { accessLog, type AccessLogEntry, type AccessLogOptions } from '../../middleware/access-log.ts';
import { start } from '../fixtures/server.ts';
import { request, sleep, within } from '../fixtures/clients.ts';
import { exchange, session } from '../fixtures/h2.ts';

const hello: App = (environ, startResponse) => {
  if (environ.pathInfo === '/missing') {
    startResponse(404, [['content-type', 'text/plain']]);
    return ['no such thing'];
  }
  startResponse(200, [['content-type', 'text/plain']]);
  return (function* () {
    yield 'hello';
    yield ', world';
  })();
};

async function logged(t: Test, options: AccessLogOptions, app: App = hello, host: Middleware = (a) => a) {
  const lines: string[] = [];
  const { url } = await start(t, host(accessLog({ sink: (line) => lines.push(line), ...options })(app)));
  return { url, lines };
}

/** A host without the report extension (a foreign server, an adapter): the key is gone. */
const foreign: Middleware = (app) => (environ, startResponse) => {
  const { [REPORT_KEY]: _report, ...rest } = environ;
  return app(rest as typeof environ, startResponse);
};

/** Lines are written when the body is closed, just after the client has the response. */
async function settle(lines: string[], n: number): Promise<void> {
  for (let i = 0; i < 100 && lines.length < n; i++) await sleep(10);
}

t.test('the common format logs the request line, status and bytes', async (t) => {
  const { url, lines } = await logged(t, {});
  await request(`${url}/a?b=1`);
  await request(`${url}/missing`);
  await request(`${url}/a`, { method: 'HEAD' });
  await settle(lines, 3);
  t.match(lines[0], /^127\.0\.0\.1 - - \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/a\?b=1 HTTP\/1\.1" 200 12$/);
  t.match(lines[1], /"GET \/missing HTTP\/1\.1" 404 13$/);
  t.match(lines[2], /"HEAD \/a HTTP\/1\.1" 200 -$/, 'HEAD sends no bytes');
});

t.test('the combined format adds referer and user agent, escaped', async (t) => {
  const { url, lines } = await logged(t, { format: 'combined', user: () => 'ann' });
  await request(`${url}/`, { headers: { referer: 'http://x/"quoted"', 'user-agent': 'tester/1.0' } });
  await settle(lines, 1);
  t.match(lines[0], /^127\.0\.0\.1 - ann \[.*\] "GET \/ HTTP\/1\.1" 200 12 "http:\/\/x\/\\"quoted\\"" "tester\/1\.0"$/);
});

t.test('JSON lines carry the request id, duration, protocol and source', async (t) => {
  const { url, lines } = await logged(t, { format: 'json' });
  await request(`${url}/x`);
  const s = await session(t, url);
  await exchange(s, { ':path': '/missing' });
  await settle(lines, 2);
  const [h1, h2] = lines.map((l) => JSON.parse(l) as AccessLogEntry & { time: string });
  t.match(h1, { method: 'GET', target: '/x', protocol: 'HTTP/1.1', status: 200, bytes: 12, aborted: false, source: 'server', escape: undefined });
  t.type(h1!.requestId, 'string');
  t.ok(h1!.requestId.length > 0);
  t.type(h1!.durationMs, 'number');
  t.match(h1!.time, /^\d{4}-\d\d-\d\dT/);
  t.match(h2, { protocol: 'HTTP/2', status: 404, bytes: 13 });
  t.not(h1!.requestId, h2!.requestId);
});

t.test('a writable stream sink gets newline-terminated lines; skip and time options apply', async (t) => {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  const { url } = await start(t, accessLog({ sink: stream, skip: (e) => e.status < 400, time: 'epoch' })(hello));
  await request(`${url}/ok`);
  await request(`${url}/missing`);
  for (let i = 0; i < 100 && text === ''; i++) await sleep(10);
  t.match(text, /^127\.0\.0\.1 - - \[\d{13}\] "GET \/missing HTTP\/1\.1" 404 13\n$/, 'only the 404 is logged');
});

t.test('a file body stays a file body and is counted by its size', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hatchway-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'f.bin'), Buffer.alloc(5000, 1));
  const { url, lines } = await logged(t, {}, (_environ, startResponse) => {
    startResponse(200, [['content-type', 'application/octet-stream']]);
    return fileBody(join(dir, 'f.bin'), { start: 1000 });
  });
  const res = await request(`${url}/f`);
  t.equal(res.headers['content-length'], '4000', 'the server knows the length: it got the FileBody');
  await settle(lines, 1);
  t.match(lines[0], /" 200 4000$/);
});

const escapes: App = (environ, startResponse) =>
    environ.pathInfo === '/ws'
      ? acceptWebSocket(environ, startResponse, { onSocket: (ws) => ws.on('message', (m) => ws.send(`echo ${m}`)) })
      : upgradeTo((stream) => {
          stream.respond(201, [['content-type', 'text/plain']]);
          stream.end(`emulated=${stream.emulated}`);
        })(environ, startResponse);

/** A websocket echo and an HTTP/2 handler through the log, both taken over. */
async function escapeTraffic(t: Test, url: string): Promise<void> {
  const client = new WebSocket(`${url.replace('http', 'ws')}/ws`);
  t.teardown(() => client.terminate());
  const reply = await within(
    new Promise<string>((resolve, reject) => {
      client.on('open', () => client.send('hi'));
      client.on('message', (m) => resolve(String(m)));
      client.on('error', reject);
    }),
  );
  t.equal(reply, 'echo hi', 'the websocket took over through the access log');
  const s = await session(t, url);
  const h2 = await exchange(s, { ':path': '/h2' });
  t.equal(h2.status, 201);
  t.equal(h2.body.toString(), 'emulated=false', 'the handler ran on the real HTTP/2 stream');
}

t.test('without the report extension a websocket and an upgradeTo response are still honoured', async (t) => {
  const { url, lines } = await logged(t, { format: 'json' }, escapes, foreign);
  await escapeTraffic(t, url);
  await settle(lines, 2);
  const entries = lines.map((l) => JSON.parse(l) as AccessLogEntry);
  const ws = entries.find((e) => e.target === '/ws');
  t.match(ws, { source: 'middleware', status: 200, escape: { kind: 'websocket', outcome: 'unreported' } }, 'the middleware-level status, with the claimed escape');
  t.match(entries.find((e) => e.target === '/h2'), { escape: { kind: 'http2' } });
});

t.test("on hatchway's server it logs what went on the wire: 101 for the takeover, the handler's 201", async (t) => {
  const { url, lines } = await logged(t, { format: 'json' }, escapes);
  await escapeTraffic(t, url);
  await settle(lines, 2);
  const entries = lines.map((l) => JSON.parse(l) as AccessLogEntry);
  t.match(entries.find((e) => e.target === '/ws'), { source: 'server', status: 101, escape: { kind: 'websocket', outcome: 'takeover' } });
  t.match(entries.find((e) => e.target === '/h2'), { source: 'server', status: 201, protocol: 'HTTP/2', escape: { kind: 'http2', outcome: 'takeover' } });
});

/** A stand-in for the server side of the report extension: tells listeners `report` when the body is closed. */
function fakeReport(report: Partial<ResponseReport>): Middleware {
  return (app) => (environ, startResponse) => {
    const listeners: ((r: ResponseReport) => void)[] = [];
    const inner = { ...environ, [REPORT_KEY]: (listener: (r: ResponseReport) => void) => listeners.push(listener) };
    return onBodyClose(app(inner, startResponse), () => {
      for (const l of listeners) l({ status: 0, bytes: 0, protocol: environ.protocol, escape: undefined, aborted: false, ...report });
    });
  };
}

t.test('with the report extension it logs what the server reports and wraps nothing', async (t) => {
  const lines: string[] = [];
  let returned: Body | undefined;
  let passed: Body | undefined;
  const inner: App = (environ, startResponse) => {
    returned = hello(environ, startResponse);
    return returned;
  };
  const spy: Middleware = (app) => (environ, startResponse) => (passed = app(environ, startResponse));
  const report = { status: 101, bytes: 0, escape: { kind: 'websocket', situation: 'honoured', outcome: 'takeover' } };
  const app = fakeReport(report)(spy(accessLog({ format: 'json', sink: (l) => lines.push(l) })(inner)));
  const { url } = await start(t, app);
  const res = await request(`${url}/chat`);
  t.equal(res.status, 200);
  await settle(lines, 1);
  t.equal(passed, returned, 'the body passes through the access log as the same object');
  t.match(JSON.parse(lines[0]!), { status: 101, bytes: 0, source: 'server', escape: report.escape, aborted: false });
});

t.test('a 426 fallback and an aborted response are logged as reported', async (t) => {
  const lines: string[] = [];
  const app = fakeReport({ status: 426, bytes: 65, aborted: true, escape: { kind: 'websocket', situation: 'ineligible', outcome: 'fallback' } })(
    accessLog({ sink: (l) => lines.push(l) })(hello),
  );
  const { url } = await start(t, app);
  await request(`${url}/chat`);
  await settle(lines, 1);
  t.match(lines[0], /"GET \/chat HTTP\/1\.1" 426 65$/);
});

t.test('passes the hatchway checklist (checkMiddleware), escape-safe', async (t) => {
  const { assertConformance } = await import('../../src/testing.ts');
  const { conformance } = await import('../../middleware/access-log.ts');
  for (const entry of conformance) await assertConformance(t, entry.make(), { grade: 'escape-safe', name: entry.name });
});
