/**
 * nginx in front of hatchway, as in production: a websocket through `proxy_pass` with the
 * Upgrade/Connection headers (the 101 and the middleware's Set-Cookie pass nginx), and gRPC
 * through `grpc_pass` to hatchway's h2c (nginx re-frames the response, so grpc-js succeeding
 * proves the trailers reached nginx as HTTP/2 trailers with END_STREAM).
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import WebSocket from 'ws';
import { acceptWebSocket, type App } from '../../src/index.ts';
import { PROTO, createApp } from '../../examples/grpc/server.ts';
import { session } from '../fixtures/chain.ts';
import { start } from '../fixtures/server.ts';

/** True when something accepts TCP connections on `port` (nginx's h2 port speaks no HTTP/1.1). */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A free loopback port (bound, then released for nginx). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function nginx(t: Test, backend: number): Promise<{ h1: number; h2: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'hatchway-nginx-'));
  const [h1, h2] = [await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:${h1};
    location / {
      proxy_pass http://127.0.0.1:${backend};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
    }
  }
  server {
    listen 127.0.0.1:${h2} http2;
    location / { grpc_pass grpc://127.0.0.1:${backend}; }
  }
}
`,
  );
  const child = spawn('/usr/sbin/nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += String(d)));
  t.teardown(async () => {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    rmSync(dir, { recursive: true, force: true });
  });
  // Ready when both ports accept.
  for (let i = 0; i < 100; i++) {
    const up = await Promise.all([h1, h2].map(accepts));
    if (up.every(Boolean)) break;
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { h1, h2 };
}

const chat: App = (environ, startResponse) =>
  acceptWebSocket(environ, startResponse, { onSocket: (ws) => ws.on('message', (data) => ws.send(`via nginx: ${String(data)}`)) });

const grpcApp = createApp();
const app: App = session((environ, startResponse) => (environ.pathInfo === '/ws' ? chat : grpcApp)(environ, startResponse));

t.test('a websocket through nginx proxy_pass keeps its 101, cookie and messages', async (t) => {
  const { port } = await start(t, app);
  const { h1 } = await nginx(t, port);
  const ws = new WebSocket(`ws://127.0.0.1:${h1}/ws`);
  // 'open' follows 'upgrade' in the same tick: listen for both at once.
  const upgrade = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    ws.once('upgrade', (res) => ws.once('open', () => resolve(res)));
    ws.once('error', reject);
  });
  t.equal(upgrade.statusCode, 101);
  t.same(upgrade.headers['set-cookie'], ['sid=s3ss10n; HttpOnly; Path=/'], "the middleware's cookie passed nginx on the 101");
  const reply = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
  ws.send('hello');
  t.equal(await reply, 'via nginx: hello');
  ws.close();
});

t.test('gRPC through nginx grpc_pass to hatchway h2c: unary, streaming and error statuses', async (t) => {
  const { port } = await start(t, app);
  const { h2 } = await nginx(t, port);
  const proto = grpc.loadPackageDefinition(loader.loadSync(PROTO, { keepCase: true, defaults: true })) as never as {
    hatchway: { example: { Echo: new (address: string, credentials: grpc.ChannelCredentials) => grpc.Client & Record<string, Function> } };
  };
  const client = new proto.hatchway.example.Echo(`127.0.0.1:${h2}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const md = new grpc.Metadata();
  md.set('authorization', 'Bearer letmein');
  const said = await new Promise<{ text: string }>((resolve, reject) =>
    client.Say!({ text: 'proxied' }, md, (err: Error | null, reply: { text: string }) => (err ? reject(err) : resolve(reply))),
  );
  t.same(said, { text: 'you said: proxied' });
  const texts: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const call = client.Repeat!({ text: 'n', count: 3 }, md) as grpc.ClientReadableStream<{ text: string }>;
    call.on('data', (r) => texts.push(r.text));
    call.on('error', reject);
    call.on('end', resolve);
  });
  t.same(texts, ['n #1', 'n #2', 'n #3']);
  const failed = await new Promise<grpc.ServiceError>((resolve) =>
    client.Fail!({ code: grpc.status.PERMISSION_DENIED, message: 'nope' }, md, (err: grpc.ServiceError) => resolve(err)),
  );
  t.equal(failed.code, grpc.status.PERMISSION_DENIED);
  const unauthenticated = await new Promise<grpc.ServiceError>((resolve) =>
    client.Say!({ text: 'x' }, new grpc.Metadata(), (err: grpc.ServiceError) => resolve(err)),
  );
  t.equal(unauthenticated.code, grpc.status.UNAUTHENTICATED, "the auth middleware's 401, through nginx");
});
