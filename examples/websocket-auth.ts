// A websocket behind an ordinary auth middleware: without the token the handshake gets a real
// 401 from the middleware (the escape is never honoured); with it, the app's socket runs.
//   hatchway serve examples/websocket-auth.ts
//   websocat -H 'authorization: Bearer letmein' ws://127.0.0.1:8000/   (or any ws client)
import { acceptWebSocket, compose, getHeader, type App, type Middleware } from '../src/index.ts';

const auth: Middleware = (app) => (environ, startResponse) => {
  if (getHeader(environ.headers, 'authorization') !== 'Bearer letmein') {
    startResponse(401, [['www-authenticate', 'Bearer'], ['content-type', 'text/plain']]);
    return ['unauthorized\n'];
  }
  return app({ ...environ, 'auth.user': 'letmein' }, startResponse);
};

const echo: App = (environ, startResponse) =>
  acceptWebSocket(environ, startResponse, {
    // `env` is the environ the app saw: what the auth middleware added is there.
    onSocket: (ws, env) => ws.on('message', (data) => ws.send(`${String(env['auth.user'])} said: ${String(data)}`)),
  });

export default compose(auth)(echo);
