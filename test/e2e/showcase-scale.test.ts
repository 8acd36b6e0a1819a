/**
 * The showcase past one process (SPEC §8, BRIEF "Scale past one machine"): a real
 * `redis-server` on loopback holds the sessions and carries the chat's fan-out, so two showcase
 * processes behind nginx (round-robin, standing in for two machines) — and one process with
 * `--workers 2` — share logins and chat. Without REDIS_URL a single process works alone.
 */
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const CLI = fileURLToPath(new URL('../../bin/hatchway.js', import.meta.url));
const APP = fileURLToPath(new URL('../../examples/showcase/app.ts', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** Spawns a child, stops it with SIGTERM (then SIGKILL) at teardown, waits for its exit. */
function child(t: Test, command: string, args: string[], env: NodeJS.ProcessEnv = {}): { proc: ChildProcess; output: () => string } {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += String(d)));
  proc.stderr!.on('data', (d: Buffer) => (output += String(d)));
  t.teardown(async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killer);
  });
  return { proc, output: () => output };
}

async function until(what: string, ready: () => Promise<boolean> | boolean, out: () => string, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (await ready()) return;
  throw new Error(`${what} did not start: ${out()}`);
}

async function redis(t: Test): Promise<string> {
  const port = await freePort();
  const r = child(t, 'redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--daemonize', 'no']);
  await until('redis-server', () => accepts(port), r.output);
  return `redis://127.0.0.1:${port}`;
}

/** A showcase process (`hatchway serve examples/showcase/app.ts`) on its own port. */
async function showcase(t: Test, redisUrl: string | undefined, extra: string[] = []): Promise<number> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { SHOWCASE_SECRET: 'scale-test-secret', REDIS_URL: redisUrl ?? '' };
  const s = child(t, process.execPath, [CLI, 'serve', APP, '--port', String(port), '--graceful-timeout', '2000', ...extra], env);
  await until('the showcase', () => /serving/.test(s.output()), s.output);
  return port;
}

async function nginx(t: Test, backends: number[]): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'hatchway-scale-nginx-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
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
  upstream showcase { ${backends.map((b) => `server 127.0.0.1:${b};`).join(' ')} }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://showcase;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
    }
  }
}
`,
  );
  const n = child(t, '/usr/sbin/nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;']);
  await until('nginx', () => accepts(port), n.output);
  return port;
}

interface Reply {
  status: number;
  cookie: string | undefined;
  json: Record<string, unknown>;
}

/** One request on a fresh connection (so cluster's round-robin and nginx's both get a say). */
function request(port: number, path: string, options: { method?: string; cookie?: string; body?: unknown } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = http.request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: false, headers: { ...(options.cookie ? { cookie: options.cookie } : {}), ...(body ? { 'content-type': 'application/json' } : {}) }, timeout: 10_000 },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += String(d)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, cookie: res.headers['set-cookie']?.[0]?.split(';')[0], json: JSON.parse(text || '{}') as Record<string, unknown> }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

async function login(port: number, name: string): Promise<string> {
  const r = await request(port, '/api/login', { method: 'POST', body: { name } });
  if (r.status !== 200 || !r.cookie) throw new Error(`login failed: ${r.status}`);
  return r.cookie;
}

interface ChatSocket {
  ws: WebSocket;
  pid: number;
  lines: { type: string; user: string; text: string; via: { pid: number } }[];
}

async function chat(t: Test, port: number, cookie: string): Promise<ChatSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, { headers: { cookie } });
  t.teardown(() => ws.terminate());
  const lines: ChatSocket['lines'] = [];
  const pid = await new Promise<number>((resolve, reject) => {
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { type: string; pid: number } & ChatSocket['lines'][number];
      if (msg.type === 'welcome') resolve(msg.pid);
      else lines.push(msg);
    });
    ws.once('unexpected-response', (_req, res) => reject(new Error(`chat refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
  return { ws, pid, lines };
}

async function heard(socket: ChatSocket, text: string): Promise<ChatSocket['lines'][number]> {
  for (let i = 0; i < 200; i++, await sleep(25)) {
    const line = socket.lines.find((l) => l.type === 'message' && l.text === text);
    if (line) return line;
  }
  throw new Error(`never heard ${JSON.stringify(text)}`);
}

/** Opens chat sockets through `port` until one lands on a process other than `other`'s. */
async function chatElsewhere(t: Test, port: number, cookie: string, other: number): Promise<ChatSocket> {
  for (let i = 0; i < 8; i++) {
    const socket = await chat(t, port, cookie);
    if (socket.pid !== other) return socket;
    socket.ws.close();
  }
  throw new Error(`every connection landed on process ${other}`);
}

t.test('two processes behind nginx share sessions and chat through one Redis', async (t) => {
  const url = await redis(t);
  const [a, b] = [await showcase(t, url), await showcase(t, url)];
  const lb = await nginx(t, [a, b]);

  // A login made on one process is valid on the other…
  const cookie = await login(a, 'alice');
  const onB = await request(b, '/api/me', { cookie });
  t.equal(onB.json.user, 'alice', 'the session made on A is valid on B');
  t.equal(onB.json.store, 'redis');
  // …and through the balancer, whichever process answers.
  const viaLb = await login(lb, 'bob');
  const pids = new Set<unknown>();
  for (let i = 0; i < 6; i++) {
    const me = await request(lb, '/api/me', { cookie: viaLb });
    t.equal(me.json.user, 'bob');
    pids.add(me.json.pid);
  }
  t.equal(pids.size, 2, 'nginx spread the requests over both processes');

  // A message sent through one process reaches a user connected to the other.
  const alice = await chat(t, a, cookie);
  const bob = await chatElsewhere(t, lb, viaLb, alice.pid);
  t.not(alice.pid, bob.pid, 'the two users are on different processes');
  alice.ws.send('hello from process A');
  const got = await heard(bob, 'hello from process A');
  t.equal(got.user, 'alice');
  t.equal(got.via.pid, alice.pid, "it names the sender's process");
  bob.ws.send('hi back through nginx');
  t.equal((await heard(alice, 'hi back through nginx')).user, 'bob');

  // Logging out on one process ends the session everywhere.
  await request(b, '/api/logout', { method: 'POST', cookie });
  t.equal((await request(a, '/api/me', { cookie })).json.user, null, 'the logout made on B holds on A');
});

t.test('with --workers 2 the workers share sessions and chat through Redis', async (t) => {
  const url = await redis(t);
  const port = await showcase(t, url, ['--workers', '2']);
  const cookie = await login(port, 'carol');
  const pids = new Set<unknown>();
  for (let i = 0; i < 8 && pids.size < 2; i++) {
    const me = await request(port, '/api/me', { cookie });
    t.equal(me.json.user, 'carol');
    pids.add(me.json.pid);
  }
  t.equal(pids.size, 2, 'both workers answered, and both knew the session');
  const first = await chat(t, port, cookie);
  const second = await chatElsewhere(t, port, cookie, first.pid);
  first.ws.send('across workers');
  t.equal((await heard(second, 'across workers')).via.pid, first.pid);
});

t.test('without REDIS_URL one process works alone, on the in-process store', async (t) => {
  const port = await showcase(t, undefined);
  const cookie = await login(port, 'dave');
  const me = await request(port, '/api/me', { cookie });
  t.same([me.json.user, me.json.store], ['dave', 'memory']);
  const one = await chat(t, port, cookie);
  const two = await chat(t, port, await login(port, 'erin'));
  one.ws.send('just us');
  t.equal((await heard(two, 'just us')).user, 'dave');
  const refused = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`);
    ws.once('unexpected-response', (_req, res) => (resolve(res.statusCode ?? 0), ws.terminate()));
    ws.once('error', () => {});
  });
  t.equal(refused, 401, 'and refuses a logged-out user');
});
