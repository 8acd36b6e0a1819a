/**
 * Escapes across adapters: tokens from an inner hatchway app pass through Connect/Express
 * middleware that does not alter them (helmet, cors, morgan, and compression below its
 * threshold), and degrade — never garbage — through middleware that rewrites the body (forced
 * compression). A websocket route behind express-session and an auth check is refused with a
 * real 401 without a session and works with one.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PassThrough } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';
import WebSocket from 'ws';
import compression from 'compression';
import cors from 'cors';
import helmet from 'helmet';
import morgan from 'morgan';
import session from 'express-session';
import { acceptWebSocket, compose, liveRegistrations, sendWithTrailers, type App } from '../../src/index.ts';
import { fromConnect, CONNECT_REQ } from '../../adapters/connect.ts';
import { start } from '../fixtures/server.ts';

const exec = promisify(execFile);

const opened: string[] = [];
const ws: App = (environ, startResponse) =>
  acceptWebSocket(environ, startResponse, {
    onSocket(socket, env) {
      const req = env[CONNECT_REQ] as { session?: { user?: string } } | undefined;
      opened.push(req?.session?.user ?? 'anonymous');
      socket.on('message', (data) => socket.send(`${req?.session?.user ?? '?'}: ${String(data)}`));
    },
  });

const trailers: App = (environ, startResponse) =>
  sendWithTrailers(environ, startResponse, { headers: [['content-type', 'text/plain']], names: ['x-n'], body: ['a', 'b'], trailers: () => [['x-n', '2']] });

function open(url: string, headers: Record<string, string> = {}): Promise<{ socket: WebSocket; upgrade: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.once('upgrade', (upgrade) => socket.once('open', () => resolve({ socket, upgrade })));
    socket.once('unexpected-response', (_req, res) => reject(Object.assign(new Error('refused'), { status: res.statusCode })));
    socket.once('error', reject);
  });
}

t.test('tokens pass through helmet, cors, morgan and compression under its threshold', async (t) => {
  const log = new PassThrough();
  const lines: string[] = [];
  log.on('data', (d: Buffer) => lines.push(String(d).trim()));
  const stack = compose(
    fromConnect(morgan('tiny', { stream: log }) as never),
    fromConnect(helmet() as never),
    fromConnect(cors({ origin: 'https://client.example', credentials: true }) as never),
    fromConnect(compression() as never),
  );
  const { url } = await start(t, stack((environ, startResponse) => (environ.pathInfo === '/ws' ? ws : trailers)(environ, startResponse)));
  opened.length = 0;
  const { socket, upgrade } = await open(url.replace('http', 'ws') + '/ws', { origin: 'https://client.example' });
  t.equal(upgrade.statusCode, 101, 'honoured through four adapted middleware');
  t.equal(upgrade.headers['access-control-allow-origin'], 'https://client.example', 'the CORS header rides the 101');
  t.equal(upgrade.headers['x-content-type-options'], 'nosniff', "helmet's headers ride the 101");
  t.equal(upgrade.headers['hatchway-escape'], undefined);
  const reply = new Promise<string>((resolve) => socket.once('message', (d) => resolve(String(d))));
  socket.send('hi');
  t.equal(await reply, '?: hi');
  socket.close();
  const { stdout } = await exec('curl', ['-s', '--raw', '-i', '-H', 'TE: trailers', '-H', 'accept-encoding: gzip', url + '/trailers']);
  t.match(stdout, /\r\n0\r\nx-n: 2\r\n\r\n$/, 'trailers honoured through the same chain');
  t.match(stdout, /strict-transport-security/i);
  t.notMatch(stdout, /hw1\.|hatchway-escape/i);
  await new Promise((r) => setTimeout(r, 50));
  t.ok(lines.some((l) => /GET \/ws/.test(l)), 'morgan logged the websocket request');
});

t.test('forced compression rewrites the token body: the escapes degrade, never garbage', async (t) => {
  const stack = fromConnect(compression({ threshold: 0, filter: () => true }) as never);
  const { url } = await start(t, stack((environ, startResponse) => (environ.pathInfo === '/ws' ? ws : trailers)(environ, startResponse)));
  const err = (await open(url.replace('http', 'ws') + '/ws', { 'accept-encoding': 'gzip' }).catch((e: unknown) => e)) as { status?: number };
  t.equal(err.status, 426, 'the websocket fallback');
  const { stdout } = await exec('curl', ['-s', '-i', '--compressed', '-H', 'TE: trailers', url + '/trailers']);
  t.match(stdout, /^HTTP\/1\.1 200/);
  t.match(stdout, /\r\n\r\nab$/, 'the body, intact, without trailers');
  t.notMatch(stdout, /hw1\./);
  t.equal(liveRegistrations(), 0);
});

t.test('a websocket route behind express-session and an auth check: 401 without a session, works with one', async (t) => {
  const sessions = session({ secret: 'test-secret', resave: false, saveUninitialized: false, name: 'sid' });
  type SessionReq = IncomingMessage & { session: { user?: string } };
  const requireUser = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => {
    if ((req as SessionReq).session.user) return next();
    res.statusCode = 401;
    res.setHeader('www-authenticate', 'Session');
    res.end('log in first\n');
  };
  const login = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => {
    if (req.url !== '/login') return next();
    (req as SessionReq).session.user = 'alice';
    res.end('welcome\n');
  };
  const app = compose(fromConnect(sessions as never), fromConnect(login), fromConnect(requireUser))(ws);
  const { url } = await start(t, app);
  opened.length = 0;

  const refused = (await open(url.replace('http', 'ws') + '/ws').catch((e: unknown) => e)) as { status?: number };
  t.equal(refused.status, 401, 'a real 401, not a 101 and a close frame');
  t.same(opened, [], 'the websocket callback never ran');

  const res = await fetch(url + '/login');
  t.equal(await res.text(), 'welcome\n');
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  t.match(cookie, /^sid=/);

  const { socket } = await open(url.replace('http', 'ws') + '/ws', { cookie });
  const reply = new Promise<string>((resolve) => socket.once('message', (d) => resolve(String(d))));
  socket.send('hello');
  t.equal(await reply, 'alice: hello', 'the session user is seen by onSocket');
  t.same(opened, ['alice']);
  socket.close();
});
