// A tiny line protocol behind `Upgrade: echo/1`, with an ordinary auth middleware in front:
// without the token the request gets the middleware's real 401 (the escape never runs); with
// it the server answers `101 Switching Protocols` + `Upgrade: echo/1` and every line the
// client sends comes back as `echo: <line>`. A request for another protocol (or none) gets
// the registration's fallback, a 426 with `Upgrade: echo/1`. Over HTTP/2 the same app answers
// an extended CONNECT with `:protocol echo/1` (RFC 8441 generalised) with `:status 200`.
//   hatchway serve examples/echo-upgrade.ts
//   printf 'GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo/1\r\nAuthorization: Bearer letmein\r\n\r\nhello\n' | nc 127.0.0.1 8000
import type { Duplex } from 'node:stream';
import { acceptUpgrade, compose, getHeader, type App, type Middleware } from '../src/index.ts';

const auth: Middleware = (app) => (environ, startResponse) => {
  if (getHeader(environ.headers, 'authorization') !== 'Bearer letmein') {
    startResponse(401, [['www-authenticate', 'Bearer'], ['content-type', 'text/plain']]);
    return ['unauthorized\n'];
  }
  return app({ ...environ, 'auth.user': 'letmein' }, startResponse);
};

/** Echoes each line back, waiting for 'drain' when the peer reads slowly. */
function echoLines(duplex: Duplex): void {
  let rest = '';
  duplex.setEncoding('utf8');
  duplex.on('data', (text: string) => {
    const lines = (rest + text).split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      if (!duplex.write(`echo: ${line}\n`)) {
        duplex.pause();
        duplex.once('drain', () => duplex.resume());
      }
    }
  });
  duplex.on('end', () => duplex.end(rest === '' ? undefined : `echo: ${rest}\n`));
}

const echo: App = (environ, startResponse) =>
  acceptUpgrade(environ, startResponse, {
    protocols: ['echo/1'],
    onConnection: (duplex) => echoLines(duplex),
  });

export default compose(auth)(echo);
