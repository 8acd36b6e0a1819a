/**
 * The escapes over HTTP/2 with peers we did not write: nghttp (push, preload), Python h2
 * (END_STREAM on the trailing HEADERS), headless Chromium (websocket over RFC 8441), and the
 * ws client and Python websockets over HTTP/1.1 on the same port.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { acceptWebSocket, associate, compose, sendWithTrailers, type App, type Environ } from '../../src/index.ts';
import { start } from '../fixtures/server.ts';
import { session } from '../fixtures/chain.ts';
import { testCert } from '../fixtures/tls.ts';
import { h2peer } from '../fixtures/h2.ts';

const exec = promisify(execFile);

const sockets: { protocol: string; streamId: number | undefined }[] = [];

const PAGE = `<!doctype html><title>ws</title><script>
  const ws = new WebSocket(location.origin.replace('http', 'ws') + '/ws');
  ws.onopen = () => ws.send('from chromium');
  ws.onmessage = (e) => { document.title = e.data; };
  ws.onerror = () => { document.title = 'error'; };
</script>`;

const routes: Record<string, App> = {
  '/': (environ, startResponse) => {
    startResponse(200, [['content-type', 'text/html; charset=utf-8'], ...associate(environ, [{ path: '/app.css', as: 'style' }])]);
    return [PAGE];
  },
  '/app.css': (_environ, startResponse) => {
    startResponse(200, [['content-type', 'text/css']]);
    return ['body { color: teal }\n'];
  },
  '/ws': (environ, startResponse) =>
    acceptWebSocket(environ, startResponse, {
      onSocket(ws, env: Environ) {
        sockets.push({ protocol: env.protocol, streamId: env.streamId });
        ws.on('message', (data) => ws.send(`echo over ${env.protocol}: ${String(data)}`));
      },
    }),
  '/trailers': (environ, startResponse) =>
    sendWithTrailers(environ, startResponse, {
      headers: [['content-type', 'text/plain']],
      names: ['x-checksum'],
      body: ['one\n', 'two\n'],
      trailers: () => [['x-checksum', 'c0ffee']],
    }),
};

const app = compose(session)((environ, startResponse) => (routes[environ.pathInfo] ?? routes['/app.css']!)(environ, startResponse));

t.test('nghttp receives a PUSH_PROMISE and the pushed body', async (t) => {
  const { port } = await start(t, app);
  const { stdout } = await exec('nghttp', ['-v', `http://127.0.0.1:${port}/`], { timeout: 20_000 });
  t.match(stdout, /recv PUSH_PROMISE frame <[^>]*>\s*; END_HEADERS\s*\(padlen=0, promised_stream_id=2\)/);
  t.match(stdout, /:path: \/app\.css/);
  t.match(stdout, /body \{ color: teal \}/, 'the pushed response was produced by the app');
  t.match(stdout, /set-cookie: sid=s3ss10n/, 'the pushed response ran through the middleware');
  t.notMatch(stdout, /hatchway-escape|hw1\./);
});

t.test('with push disabled by the client, the same response carries a preload link', async (t) => {
  const { port } = await start(t, app);
  const { stdout } = await exec('nghttp', ['-v', '--no-push', `http://127.0.0.1:${port}/`], { timeout: 20_000 });
  t.notMatch(stdout, /PUSH_PROMISE/);
  t.match(stdout, /link: <\/app\.css>; rel=preload; as=style/);
  t.match(stdout, /:status: 103/, 'a 103 Early Hints went first');
});

t.test('an upgradeTo handler pushes on the real stream: nghttp gets the PUSH_PROMISE, or a preload link without push', async (t) => {
  const { upgradeTo } = await import('../../src/index.ts');
  const handler = upgradeTo(async (stream) => {
    const pushed = await stream.push('/handler.css');
    if (pushed) {
      pushed.respond(200, [['content-type', 'text/css']]);
      pushed.end('h1 { color: plum }\n');
    }
    stream.respond(200, [['content-type', 'text/html']]);
    stream.end(`<h1>pushed: ${pushed !== undefined}</h1>\n`);
  });
  const { port } = await start(t, handler);
  const { stdout } = await exec('nghttp', ['-v', `http://127.0.0.1:${port}/`], { timeout: 20_000 });
  t.match(stdout, /recv \(stream_id=\d+\) :path: \/handler\.css[^]*recv PUSH_PROMISE frame/);
  t.match(stdout, /h1 \{ color: plum \}/, 'the pushed body');
  t.match(stdout, /<h1>pushed: true<\/h1>/);
  const off = await exec('nghttp', ['-v', '--no-push', `http://127.0.0.1:${port}/`], { timeout: 20_000 });
  t.notMatch(off.stdout, /PUSH_PROMISE/);
  t.match(off.stdout, /link: <\/handler\.css>; rel=preload/);
  t.match(off.stdout, /<h1>pushed: false<\/h1>/);
});

t.test('Python h2 receives trailers with END_STREAM on them', async (t) => {
  const { port } = await start(t, app);
  const report = await h2peer(t, port, 'get', ['/trailers']);
  const events = report.events as { event: string; headers?: [string, string][]; stream_ended?: boolean }[];
  const trailers = events.find((e) => e.event === 'TrailersReceived');
  t.ok(trailers, 'a trailing HEADERS frame');
  t.same(trailers!.headers, [['x-checksum', 'c0ffee']]);
  t.equal(trailers!.stream_ended, true, 'END_STREAM rode on the trailers');
  const data = events.filter((e) => e.event === 'DataReceived') as { stream_ended?: boolean }[];
  t.notOk(data.some((e) => e.stream_ended), 'no DATA frame ended the stream first');
});

t.test('headless Chromium opens its websocket over RFC 8441 on an h2 TLS page', async (t) => {
  const { chromium } = await import('playwright-core');
  const { cert, key } = testCert();
  const { port } = await start(t, app, { tls: { cert, key } });
  sockets.length = 0;
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--ignore-certificate-errors'],
    timeout: 60_000,
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ ignoreHTTPSErrors: true });
  const response = await page.goto(`https://localhost:${port}/`, { timeout: 30_000 });
  t.equal(response?.status(), 200);
  t.equal(await response?.headerValue('link'), '</app.css>; rel=preload; as=style', 'Chromium turns push off, so it gets the preload link');
  // The predicate runs in the page (a string, so the test needs no DOM types).
  await page.waitForFunction("document.title.startsWith('echo') || document.title === 'error'", undefined, { timeout: 30_000 });
  t.equal(await page.title(), 'echo over HTTP/2: from chromium');
  t.equal(sockets.length, 1);
  t.equal(sockets[0]!.protocol, 'HTTP/2', 'the websocket rode an HTTP/2 stream');
  t.ok(typeof sockets[0]!.streamId === 'number' && sockets[0]!.streamId % 2 === 1, 'on a client stream');
});

t.test('the ws client and Python websockets still work over HTTP/1.1 on the same TLS+cleartext port', async (t) => {
  const { cert, key } = testCert();
  const { port } = await start(t, app, { tls: { cert, key } });
  sockets.length = 0;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const reply = await new Promise<string>((resolve, reject) => {
    ws.once('open', () => ws.send('from ws'));
    ws.once('message', (data) => resolve(String(data)));
    ws.once('error', reject);
  });
  ws.close();
  t.equal(reply, 'echo over HTTP/1.1: from ws');
  const py = fileURLToPath(new URL('../fixtures/py/ws_client.py', import.meta.url));
  const { stdout } = await exec('/usr/bin/python3', [py, `ws://127.0.0.1:${port}/ws`], { timeout: 20_000 });
  const result = JSON.parse(stdout) as { status: number; messages: string[] };
  t.equal(result.status, 101);
  t.same(result.messages, ['echo over HTTP/1.1: hello', 'echo over HTTP/1.1: world']);
  t.same(
    sockets.map((s) => s.protocol),
    ['HTTP/1.1', 'HTTP/1.1'],
  );
});

t.test('a 2xx to an extended CONNECT that is not an escape is refused, never a fake tunnel', async (t) => {
  const careless: App = (_environ, startResponse) => {
    startResponse(200, [['content-type', 'text/plain']]);
    return ['not a websocket'];
  };
  const { port, logs } = await start(t, careless);
  const report = await h2peer(t, port, 'connect', ['websocket']);
  t.equal(report.status, 500);
  t.match(logs.join('\n'), /2xx answer to CONNECT/);
});
