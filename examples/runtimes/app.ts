/**
 * One app, every runtime (docs/RUNTIMES.md): the same routes and the same bundled middleware
 * on Node (`hatchway/server`), Bun (`hatchway/host/bun`), Deno (`hatchway/host/deno`) and
 * Cloudflare's workerd (`hatchway/host/workerd`, where the websocket degrades to its 426).
 *
 *   node examples/runtimes/node.ts
 *   bun examples/runtimes/bun.ts
 *   deno run --allow-net --allow-env examples/runtimes/deno.ts
 *   (workerd) bundle examples/runtimes/worker.ts as docs/RUNTIMES.md says, then `wrangler dev`
 *
 * Routes: `GET /`, `GET /hello/:name`, `POST /echo` (the body streamed back), and behind a
 * bearer-token check (`Authorization: Bearer secret`, else 401) `GET /private` and `GET /ws`, a
 * websocket echo. The check sets a session cookie, which rides the websocket's `101` — the
 * handshake goes through the middleware chain like any request, on every runtime.
 */
import { compose, getHeader, websocket, type App, type Body, type Middleware } from '../../src/index.ts';
import { accessLog } from '../../middleware/access-log.ts';
import { cookies, getCookies } from '../../middleware/cookies.ts';
import { cors } from '../../middleware/cors.ts';
import { errors } from '../../middleware/errors.ts';
import { limits } from '../../middleware/limits.ts';
import { params, router } from '../../middleware/router.ts';

/** Which runtime runs this process. */
export const runtime: 'bun' | 'deno' | 'node' | 'workerd' =
  'Bun' in globalThis ? 'bun' : 'Deno' in globalThis ? 'deno' : globalThis.navigator?.userAgent === 'Cloudflare-Workers' ? 'workerd' : 'node';

/** 401 without `Authorization: Bearer secret`; otherwise a session cookie and `auth.user`. */
export const auth: Middleware = (app) =>
  function authApp(environ, startResponse): Body {
    if (getHeader(environ.headers, 'authorization') !== 'Bearer secret') {
      startResponse(401, [
        ['www-authenticate', 'Bearer realm="runtimes"'],
        ['content-type', 'text/plain; charset=utf-8'],
      ]);
      return ['unauthorized\n'];
    }
    getCookies(environ).set('session', 'authenticated', { httpOnly: true, path: '/', sameSite: 'lax' });
    return app({ ...environ, 'auth.user': 'bearer' }, startResponse);
  };

const text =
  (make: (environ: Parameters<App>[0]) => string): App =>
  (environ, startResponse) => {
    const body = make(environ);
    startResponse(200, [['content-type', 'text/plain; charset=utf-8']]);
    return [body];
  };

/** The request body back, chunk by chunk as it arrives. */
const echo: App = (environ, startResponse) => ({
  async *[Symbol.asyncIterator]() {
    startResponse(200, [['content-type', getHeader(environ.headers, 'content-type') ?? 'application/octet-stream']]);
    for await (const chunk of environ.input) yield chunk;
  },
});

const socket = websocket({
  // `env` is the environ the app saw: the auth middleware's `auth.user` is there.
  onSocket(ws, env) {
    ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `${String(env['auth.user'])}: ${String(data)}`));
  },
  protocol: (offered) => (offered.has('echo') ? 'echo' : false),
});

const guarded = compose(auth);

/** The app: errors → access log (stderr) → CORS → cookies → limits → routes. */
export const app: App = compose(
  errors(),
  accessLog({ format: 'json', sink: (line) => console.error(line) }),
  cors({ origin: 'https://app.example', credentials: true }),
  cookies(),
  limits({ body: '1mb', headers: 100 }),
)(
  router()
    .get('/', text(() => `Hello from hatchway on ${runtime}\n`))
    .get('/hello/:name', text((environ) => `Hello, ${params(environ).name}!\n`))
    .post('/echo', echo)
    .get('/private', guarded(text((environ) => `private: ${String(environ['auth.user'])} over ${environ.protocol}\n`)))
    .get('/ws', guarded(socket)).app,
);

export default app;
