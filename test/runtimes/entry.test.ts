/**
 * The `hatchway` entry, `hatchway/adapters/fetch` and the runtime-neutral bundled middleware
 * load and serve on every JavaScript runtime (issue 18): Node 24, Bun and Deno run
 * fixtures/probe.ts unbundled from the .ts sources; workerd runs fixtures/worker.ts bundled
 * by esbuild as wrangler would, without `nodejs_compat` (miniflare). Each answers the same
 * requests (fixtures/requests.ts) through `toFetch`, and the answers are asserted — status,
 * fields and body — not only that the import succeeded.
 */
import t, { type Test } from 'tap';
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { jsonChild } from '../fixtures/h2.ts';
import { bundleWorker, startWorker } from './fixtures/bundle.ts';
import { COOKIE_SECRET } from './fixtures/app.ts';
import { REQUESTS, probe, type ProbeResult } from './fixtures/requests.ts';

t.setTimeout(120_000);

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = `${ROOT}node_modules/.bin`;
const PROBE = fileURLToPath(new URL('./fixtures/probe.ts', import.meta.url));

interface Report {
  runtime: string;
  results: ProbeResult[];
  log: string[];
}

/** What every runtime must answer; `workerd` marks what workerd itself changes on the way out. */
function check(t: Test, runtime: string, report: Report): void {
  t.equal(report.results.length, REQUESTS.length, 'every request answered');
  const by = Object.fromEntries(report.results.map((r) => [r.name, r]));
  const is = (name: string, status: number, body?: string): ProbeResult => {
    const r = by[name]!;
    t.equal(r.status, status, `${name}: ${status}`);
    if (body !== undefined) t.equal(r.body, body, `${name}: body`);
    return r;
  };
  is('root', 200, `hatchway on ${runtime}\n`);
  is('hello', 200, 'Hello, world!\n');
  t.equal(is('echo', 200, 'ping ✓').headers['content-type'], 'text/plain', 'echo: the request body and its type come back');
  is('stream', 200, 'one\ntwo\nthree\n');
  t.equal(is('ws-refused', 401, 'unauthorized\n').headers['www-authenticate'], 'Bearer', 'the websocket route behind auth: 401 without the token');
  const ws = is('ws-plain', 426);
  t.equal(ws.headers['sec-websocket-version'], '13', 'the websocket fallback: 426 with Sec-WebSocket-Version');
  // workerd drops Upgrade from every non-101 response (workerd.test.ts shows it with a bare Worker).
  t.equal(ws.headers.upgrade, runtime === 'workerd' ? undefined : 'websocket', runtime === 'workerd' ? 'Upgrade: dropped by workerd' : 'Upgrade: websocket');
  is('missing', 404, 'Not Found\n');
  const visit = is('visit', 200, 'visit 1\n');
  const signed = /^visits=1\.([\w-]+); Path=\/$/.exec(visit.headers['set-cookie'] ?? '');
  t.ok(signed, 'a signed cookie is set');
  t.equal(signed?.[1], createHmac('sha256', COOKIE_SECRET).update('visits=1').digest('base64url'), "its signature is node:crypto's HMAC-SHA256");
  t.match(is('session', 200, 'session 1\n').headers['set-cookie'], /^sid=[\w-]{24}\.[\w-]+; Max-Age=86400; Path=\/; HttpOnly; SameSite=Lax$/, 'a session cookie is set');
  t.equal(is('trailers', 200, 'ab').headers['x-checksum'], undefined, 'trailers: the body, without its trailers');
  is('trailers-required', 400);
  const up = is('upgrade', 426);
  t.equal(up.headers.upgrade, runtime === 'workerd' ? undefined : 'echo/1', 'the upgrade fallback: 426 naming its protocol (workerd drops the field)');
  t.equal(is('push', 200).headers.link, '</style.css>; rel=preload; as=style', 'push: a preload link instead');
  is('h2', 200, 'http2 handler, stream emulated\n');
  is('error', 500, 'Internal Server Error\n');
  t.equal(is('preflight', 204, '').headers['access-control-allow-origin'], 'https://app.test', 'the CORS preflight');
  for (const r of report.results) {
    t.notOk(Object.keys(r.headers).some((name) => name.startsWith('hatchway-')) || r.body.includes('hw1.'), `${r.name}: no control field, no token`);
  }
  t.equal(report.log.filter((l) => l.startsWith('access: ')).length, REQUESTS.length, 'the access log has a line per request');
  t.same(report.log.filter((l) => l.startsWith('lint: ')), [], 'lint saw no broken rule');
  t.match(report.log.filter((l) => l.startsWith('error: ')), [/Error: boom/], 'the one error line is the thrown one');
  t.same(report.log.filter((l) => l.startsWith('dropped: ')), ['dropped: x-checksum'], 'onDropped is told of the trailers');
}

const unbundled: [string, string[]][] = [
  ['node', [process.execPath, PROBE]],
  ['bun', [`${BIN}/bun`, PROBE]],
  // depd (under http-errors) reads these two at load; nothing else needs a permission.
  ['deno', [`${BIN}/deno`, 'run', '--no-prompt', '--allow-env=NO_DEPRECATION,TRACE_DEPRECATION', PROBE]],
];

for (const [runtime, [command, ...args]] of unbundled) {
  t.test(`the entry loads and the app answers on ${runtime}`, { skip: existsSync(command!) ? false : `${command} is not installed` }, async (t) => {
    const report = await jsonChild<Report>(t, command!, args, { cwd: ROOT, timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
    t.equal(report.runtime, runtime, `the probe ran on ${runtime}`);
    check(t, runtime, report);
  });
}

t.test('the entry loads and the app answers on workerd (bundled, no nodejs_compat)', async (t) => {
  const w = await startWorker(await bundleWorker());
  t.teardown(() => w.dispose());
  const results = await probe(async (request) => {
    const body = request.method === 'POST' ? await request.text() : undefined;
    const response = await w.mf.dispatchFetch(request.url, { method: request.method, headers: [...request.headers], body });
    return response as unknown as Response;
  });
  // miniflare's dispatchFetch adds its own mf-* fields.
  for (const r of results) for (const name of Object.keys(r.headers)) if (name.startsWith('mf-')) delete r.headers[name];
  const log = (await (await w.mf.dispatchFetch(new URL('/__log', w.url))).json()) as string[];
  check(t, 'workerd', { runtime: 'workerd', results, log });
});
