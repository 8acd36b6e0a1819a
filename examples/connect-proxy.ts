// A forward proxy written as a hatchway app: it opens HTTP CONNECT tunnels (RFC 9110 §9.3.6)
// over HTTP/1.1 and over HTTP/2 (RFC 9113 §8.5) through the upgrade escape, behind an
// ordinary auth middleware that answers 407 with `Proxy-Authenticate` when the client sent no
// (or wrong) `Proxy-Authorization`. The proxy dials the target first and opens the tunnel only
// once it is connected (502 if it cannot); it reaches loopback hosts only (403 otherwise); any
// other method gets the registration's fallback, a 405 with `Allow: CONNECT`.
//   hatchway serve examples/connect-proxy.ts
//   curl -p -x http://127.0.0.1:8000 -U user:pass https://127.0.0.1:8443/ -k
import { connect, type Socket } from 'node:net';
import { acceptUpgrade, asyncApp, compose, getHeader, type App, type Middleware, type StartResponse } from '../src/index.ts';

const CREDENTIALS = process.env.PROXY_CREDENTIALS ?? 'user:pass';
const ALLOWED = new Set(['127.0.0.1', 'localhost', '::1']);

const proxyAuth: Middleware = (app) => (environ, startResponse) => {
  const expected = `Basic ${Buffer.from(CREDENTIALS).toString('base64')}`;
  if (getHeader(environ.headers, 'proxy-authorization') !== expected) {
    startResponse(407, [['proxy-authenticate', 'Basic realm="hatchway proxy"'], ['content-type', 'text/plain']]);
    return ['proxy authentication required\n'];
  }
  return app(environ, startResponse);
};

function refuse(startResponse: StartResponse, status: number, text: string): string[] {
  startResponse(status, [['content-type', 'text/plain']]);
  return [`${text}\n`];
}

/** `host:port` of a CONNECT (authority-form, RFC 9112 §3.2.3; `[v6]:port` too). */
function parseTarget(target: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(target);
  const port = Number(m?.[3]);
  return m === null || port < 1 || port > 65535 ? undefined : { host: m[1] ?? m[2]!, port };
}

function dial(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

const tunnel: App = asyncApp(async (environ, startResponse) => {
  const registration = { protocols: ['connect'], onConnection: () => {} };
  if (environ.method !== 'CONNECT') return acceptUpgrade(environ, startResponse, registration); // the 405 fallback
  const target = parseTarget(environ.target);
  if (target === undefined) return refuse(startResponse, 400, 'CONNECT needs host:port');
  if (!ALLOWED.has(target.host)) return refuse(startResponse, 403, `this proxy does not reach ${target.host}`);
  let upstream: Socket;
  try {
    upstream = await dial(target.host, target.port);
  } catch (err) {
    return refuse(startResponse, 502, `cannot reach ${environ.target}: ${(err as Error).message}`);
  }
  upstream.on('error', (err) => environ.errors.write(`upstream ${environ.target}: ${err.message}`));
  let opened = false;
  return acceptUpgrade(environ, startResponse, {
    protocols: ['connect'],
    onConnection(client) {
      opened = true;
      // pipe() carries the backpressure both ways; either side's end ends the other.
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', (hadError) => hadError && client.destroy());
    },
    // The tunnel never opened (a middleware answered, the client left): drop the dial.
    onRelease: () => opened || upstream.destroy(),
  });
});

export default compose(proxyAuth)(tunnel);
