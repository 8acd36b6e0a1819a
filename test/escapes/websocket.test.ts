import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { get } from 'node:http';
import { acceptWebSocket, compose, liveRegistrations, type App } from '../../src/index.ts';
import { start } from '../fixtures/server.ts';
import { auth, chain, gzipEverything, replaceAll, session } from '../fixtures/chain.ts';

const run = promisify(execFile);
const PY_CLIENT = fileURLToPath(new URL('../fixtures/py/ws_client.py', import.meta.url));

interface PyResult {
  status: number;
  headers?: [string, string][];
  subprotocol?: string | null;
  extensions?: string[];
  messages?: string[];
}

async function python(url: string, authorization = '', subprotocol?: string): Promise<PyResult> {
  const args = [PY_CLIENT, url, authorization, ...(subprotocol ? [subprotocol] : [])];
  const { stdout } = await run('/usr/bin/python3', args, { timeout: 20_000 });
  return JSON.parse(stdout) as PyResult;
}

/** An echo websocket app, with a subprotocol chooser. */
const echo: App = (environ, startResponse) =>
  acceptWebSocket(environ, startResponse, {
    protocol: (offered) => (offered.has('chat.v1') ? 'chat.v1' : false),
    onSocket(ws, env) {
      ws.on('message', (data) => ws.send(`${String(env['auth.user'])}: ${String(data)}`));
    },
  });

function wsOpen(url: string, headers: Record<string, string> = {}, protocols?: string[]) {
  return new Promise<{ ws: WebSocket; upgrade: import('node:http').IncomingMessage }>((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers });
    ws.once('upgrade', (upgrade) => ws.once('open', () => resolve({ ws, upgrade })));
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error('refused'), { status: res.statusCode })));
    ws.once('error', reject);
  });
}

function next(ws: WebSocket): Promise<string> {
  return new Promise((resolve) => ws.once('message', (data) => resolve(String(data))));
}

t.test('Python websockets chats through auth, session and logger', async (t) => {
  const lines: string[] = [];
  const { url } = await start(t, chain(echo, lines));
  const res = await python(url.replace('http', 'ws') + '/chat', 'Bearer letmein', 'chat.v1');
  t.equal(res.status, 101);
  t.same(res.messages, ['alice: hello', 'alice: world']);
  t.equal(res.subprotocol, 'chat.v1', 'subprotocol negotiated');
  t.ok(res.extensions?.includes('permessage-deflate'), 'extension negotiated');
  const cookie = res.headers!.find(([name]) => name === 'set-cookie');
  t.equal(cookie?.[1], 'sid=s3ss10n; HttpOnly; Path=/', 'the session cookie rides the 101');
  t.notOk(res.headers!.some(([name]) => name === 'hatchway-escape'), 'no control header on the wire');
  t.same(lines, ['GET /chat 200'], 'the logger saw the request');
});

t.test('Python websockets without credentials gets a real 401', async (t) => {
  let opened = 0;
  const app: App = (environ, startResponse) => acceptWebSocket(environ, startResponse, { onSocket: () => void opened++ });
  const { url } = await start(t, chain(app));
  const res = await python(url.replace('http', 'ws') + '/chat');
  t.equal(res.status, 401);
  t.equal(opened, 0, 'the callback never ran');
});

t.test('the ws client chats, and gets the cookie on the 101', async (t) => {
  const { url } = await start(t, chain(echo));
  const { ws, upgrade } = await wsOpen(url.replace('http', 'ws') + '/chat', { authorization: 'Bearer letmein' });
  t.equal(upgrade.statusCode, 101);
  t.same(upgrade.headers['set-cookie'], ['sid=s3ss10n; HttpOnly; Path=/']);
  t.equal(upgrade.headers['hatchway-escape'], undefined);
  const reply = next(ws);
  ws.send('ping');
  t.equal(await reply, 'alice: ping');
  ws.close();
});

t.test('the ws client without credentials gets a real 401', async (t) => {
  const { url } = await start(t, chain(echo));
  const err = (await wsOpen(url.replace('http', 'ws') + '/chat').catch((e: unknown) => e)) as { status?: number };
  t.equal(err.status, 401);
});

t.test('a plain GET to a websocket route gets the 426 fallback', async (t) => {
  const { url } = await start(t, chain(echo));
  const res = await fetch(url + '/chat', { headers: { authorization: 'Bearer letmein' } });
  t.equal(res.status, 426);
  t.equal(res.headers.get('upgrade'), 'websocket');
  const body = await res.text();
  t.notMatch(body, /hw1\./, 'no token in the body');
  t.equal(res.headers.get('hatchway-escape'), null);
});

t.test('a middleware that compresses the token body gets the fallback, not garbage', async (t) => {
  const { url } = await start(t, compose(auth(), gzipEverything)(echo));
  const err = (await wsOpen(url.replace('http', 'ws') + '/chat', { authorization: 'Bearer letmein' }).catch((e: unknown) => e)) as { status?: number };
  t.equal(err.status, 426);
});

t.test('a middleware that replaces the response sends exactly its response', async (t) => {
  const { url } = await start(t, compose(session, replaceAll)(echo));
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    const req = get(url + '/chat', {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('response', resolve);
    req.on('upgrade', () => reject(new Error('upgraded')));
    req.on('error', reject);
  });
  let body = '';
  for await (const chunk of res) body += String(chunk);
  t.equal(res.statusCode, 503);
  t.equal(res.headers['retry-after'], '1');
  t.equal(body, 'maintenance\n');
  t.same(res.headers['set-cookie'], ['sid=s3ss10n; HttpOnly; Path=/']);
});

t.test('a message over maxPayload closes with 1009', async (t) => {
  const { url } = await start(t, chain(echo), { websocket: { maxPayload: 1024 } });
  const { ws } = await wsOpen(url.replace('http', 'ws') + '/chat', { authorization: 'Bearer letmein' });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.on('error', () => {});
  ws.send('x'.repeat(4096));
  t.equal(await closed, 1009);
});

t.test('a callback that throws fails only its own socket', async (t) => {
  const app: App = (environ, startResponse) =>
    acceptWebSocket(environ, startResponse, {
      onSocket() {
        throw new Error('handler bug');
      },
    });
  const { url, logs } = await start(t, app);
  const { ws } = await wsOpen(url.replace('http', 'ws') + '/x');
  const code = await new Promise<number>((resolve) => ws.once('close', (c) => resolve(c)));
  t.equal(code, 1011);
  t.match(logs.join('\n'), /handler bug/);
  const res = await fetch(url + '/still-alive');
  t.equal(res.status, 426, 'the server still answers');
});

t.test('server shutdown closes live websockets with 1001', async (t) => {
  const { url, server } = await start(t, echo);
  const { ws } = await wsOpen(url.replace('http', 'ws') + '/x');
  const code = new Promise<number>((resolve) => ws.once('close', (c) => resolve(c)));
  await server.close();
  t.equal(await code, 1001);
});

t.test('every registration is released after websocket requests', async (t) => {
  const { url } = await start(t, chain(echo));
  for (let i = 0; i < 5; i++) {
    const { ws } = await wsOpen(url.replace('http', 'ws') + '/chat', { authorization: 'Bearer letmein' });
    ws.close();
  }
  await fetch(url + '/chat', { headers: { authorization: 'Bearer letmein' } }).then((r) => r.text());
  t.equal(liveRegistrations(), 0);
});

void session;
