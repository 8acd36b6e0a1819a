/**
 * The showcase that `npm start` serves on http://127.0.0.1:8000: one app, one middleware
 * chain, and every escape behind it.
 *
 *   /            a hello page that preloads /app.css (103 Early Hints + Link, or push on h2)
 *                and opens a websocket to /ws
 *   /ws          an echo websocket (426 for a plain GET)
 *   /checksum    a streamed body followed by an `x-checksum` trailer (curl --raw -H 'TE: trailers')
 *   /app.css     the stylesheet
 */
import { createHash } from 'node:crypto';
import { acceptWebSocket, associate, compose, onBodyClose, sendWithTrailers, type App, type Middleware } from '../src/index.ts';

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>hatchway</title>
<link rel="stylesheet" href="/app.css">
<h1>Hello from hatchway</h1>
<p>This page came over <b id="proto">PROTOCOL</b>. The stylesheet was announced with a preload link (or pushed).</p>
<p>WebSocket: <output id="ws">connecting…</output></p>
<script>
  const ws = new WebSocket(location.origin.replace('http', 'ws') + '/ws');
  ws.onopen = () => ws.send('hello');
  ws.onmessage = (e) => { document.getElementById('ws').textContent = e.data; };
  ws.onerror = () => { document.getElementById('ws').textContent = 'failed'; };
</script>
`;

const CSS = 'body { font: 16px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 40rem; }\n';

const page: App = (environ, startResponse) => {
  startResponse(200, [['content-type', 'text/html; charset=utf-8'], ...associate(environ, [{ path: '/app.css', as: 'style' }])]);
  return [PAGE.replace('PROTOCOL', environ.protocol)];
};

const css: App = (_environ, startResponse) => {
  startResponse(200, [['content-type', 'text/css; charset=utf-8'], ['cache-control', 'max-age=60']]);
  return [CSS];
};

const echo: App = (environ, startResponse) =>
  acceptWebSocket(environ, startResponse, {
    onSocket(ws) {
      ws.on('message', (data) => ws.send(`echo over ${environ.protocol}: ${String(data)}`));
    },
  });

const checksum: App = (environ, startResponse) => {
  const hash = createHash('sha256');
  return sendWithTrailers(environ, startResponse, {
    headers: [['content-type', 'text/plain; charset=utf-8']],
    names: ['x-checksum'],
    body: (async function* () {
      for (let i = 1; i <= 5; i++) {
        const line = `line ${i}\n`;
        hash.update(line);
        yield line;
      }
    })(),
    trailers: () => [['x-checksum', `sha-256=${hash.digest('base64')}`]],
  });
};

const routes: Record<string, App> = { '/': page, '/ws': echo, '/checksum': checksum, '/app.css': css };

const notFound: App = (_environ, startResponse) => {
  startResponse(404, [['content-type', 'text/plain; charset=utf-8']]);
  return ['not found\n'];
};

/** Logs one line per response, when it is over. */
const accessLog: Middleware = (app) => (environ, startResponse) => {
  let status = '-';
  const started = performance.now();
  const body = app(environ, (s, headers, excInfo) => {
    status = String(s);
    startResponse(s, headers, excInfo);
  });
  return onBodyClose(body, () => {
    console.log(`${environ.remoteAddress} ${environ.method} ${environ.target} ${environ.protocol} ${status} ${(performance.now() - started).toFixed(1)}ms`);
  });
};

/** Security headers on every response — escape-safe, so they ride the 101 too. */
const securityHeaders: Middleware = (app) => (environ, startResponse) =>
  app(environ, (status, headers, excInfo) =>
    startResponse(status, [...headers, ['x-content-type-options', 'nosniff'], ['referrer-policy', 'no-referrer']], excInfo),
  );

const router: App = (environ, startResponse) => (routes[environ.pathInfo] ?? notFound)(environ, startResponse);

export default compose(accessLog, securityHeaders)(router);
