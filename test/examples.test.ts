/**
 * Every one-file example in examples/ runs: each is served on a real port and asked what its
 * header comment promises, by a client we did not write where it matters (curl, nghttp, ws,
 * @grpc/grpc-js).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import WebSocket from 'ws';
import type { App } from '../src/index.ts';
import { start } from './fixtures/server.ts';
import { curl, request } from './fixtures/clients.ts';

const exec = promisify(execFile);
const load = async (name: string) => ((await import(`../examples/${name}`)) as { default: App }).default;

t.test('hello answers over HTTP/1.1 and h2c', async (t) => {
  const { url } = await start(t, await load('hello.ts'));
  t.match((await request(`${url}/x`)).body.toString(), 'Hello from hatchway over HTTP/1.1: GET /x');
  t.match((await curl(t, ['-s', '--http2-prior-knowledge', `${url}/`])).stdout, 'over HTTP/2');
});

t.test('streaming sends its ticks as they come, chunked', async (t) => {
  const { url } = await start(t, await load('streaming.ts'));
  const reply = await request(url);
  t.equal(reply.headers['transfer-encoding'], 'chunked');
  t.equal(reply.body.toString().split('\n').filter(Boolean).length, 5);
  t.match((await curl(t, ['-s', '--http2-prior-knowledge', url])).stdout, 'tick 5 over HTTP/2');
});

t.test('file sends README.md with its length', async (t) => {
  const { url } = await start(t, await load('file.ts'));
  const reply = await request(url);
  t.equal(reply.status, 200);
  t.equal(Number(reply.headers['content-length']), reply.body.length);
  t.match(reply.body.toString(), /^# hatchway/);
});

t.test('websocket-auth refuses a handshake without the token with a 401 and echoes with it', async (t) => {
  const { url } = await start(t, await load('websocket-auth.ts'));
  const ws = url.replace('http', 'ws');
  const refused = await new Promise<number>((resolve) => {
    const c = new WebSocket(ws);
    c.once('unexpected-response', (_req, res) => (resolve(res.statusCode ?? 0), c.terminate()));
    c.once('error', () => {});
  });
  t.equal(refused, 401);
  const c = new WebSocket(ws, { headers: { authorization: 'Bearer letmein' } });
  t.teardown(() => c.terminate());
  const reply = await new Promise<string>((resolve, reject) => {
    c.once('open', () => c.send('hi'));
    c.once('message', (m) => resolve(String(m)));
    c.once('error', reject);
  });
  t.equal(reply, 'letmein said: hi');
});

t.test('trailers: the checksum trailer with TE: trailers and over h2c, dropped without', async (t) => {
  const { url, logs } = await start(t, await load('trailers.ts'));
  t.match((await curl(t, ['-s', '--raw', '-H', 'TE: trailers', url])).stdout, /x-checksum: sha-256=/);
  t.match((await curl(t, ['-s', '--http2-prior-knowledge', '-D', '-', url])).stdout, /x-checksum: sha-256=/);
  const plain = await request(url);
  t.equal(plain.body.toString(), 'one\ntwo\nthree\n');
  t.notOk(plain.headers['x-checksum']);
  for (let i = 0; i < 50 && !logs.some((l) => l.includes('trailers dropped')); i++) await new Promise((r) => setTimeout(r, 10));
  t.ok(logs.some((l) => l.includes('trailers dropped: x-checksum')), 'onDropped was told');
});

t.test('push: PUSH_PROMISE for nghttp, a preload link (and 103) without push', async (t) => {
  const { port } = await start(t, await load('push.ts'));
  const pushed = await exec('nghttp', ['-nv', `http://127.0.0.1:${port}/`], { timeout: 20_000 });
  t.match(pushed.stdout, /PUSH_PROMISE/);
  t.match(pushed.stdout, /:path: \/style\.css/);
  const off = await exec('nghttp', ['-nv', '--no-push', `http://127.0.0.1:${port}/`], { timeout: 20_000 });
  t.notMatch(off.stdout, /PUSH_PROMISE/);
  t.match(off.stdout, /link: <\/style\.css>; rel=preload; as=style/);
  const h1 = await curl(t, ['-si', `http://127.0.0.1:${port}/`]);
  t.match(h1.stdout, /HTTP\/1\.1 103 Early Hints/);
});

t.test('upgrade-to: the native handler on a real HTTP/2 stream, emulated on HTTP/1.1', async (t) => {
  const { url } = await start(t, await load('upgrade-to.ts'));
  const h2 = await curl(t, ['-s', '--http2-prior-knowledge', '-D', '-', `${url}/a`]);
  t.match(h2.stdout, /native handler on HTTP\/2 stream 1/);
  t.match(h2.stdout, /x-handled-by: upgradeTo/, 'its trailer');
  const h1 = await request(`${url}/b`);
  t.match(h1.body.toString(), 'native handler on an emulated stream (HTTP/1.1)\nGET /b');
});

t.test('grpc: the Echo service answers @grpc/grpc-js over h2c, 401 → UNAUTHENTICATED', async (t) => {
  const { PROTO } = await import('../examples/grpc/server.ts');
  const { port } = await start(t, await load('grpc/server.ts'));
  const proto = grpc.loadPackageDefinition(loader.loadSync(PROTO, { keepCase: true, defaults: true })) as never as {
    hatchway: { example: { Echo: new (address: string, credentials: grpc.ChannelCredentials) => grpc.Client & Record<string, Function> } };
  };
  const client = new proto.hatchway.example.Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const say = (md: grpc.Metadata) =>
    new Promise<{ text?: string; code?: number }>((resolve) => client.Say!({ text: 'hi' }, md, (err: grpc.ServiceError | null, reply: { text: string }) => resolve(err ? { code: err.code } : reply)));
  const md = new grpc.Metadata();
  md.set('authorization', 'Bearer letmein');
  t.same(await say(md), { text: 'you said: hi' });
  t.same(await say(new grpc.Metadata()), { code: grpc.status.UNAUTHENTICATED });
});

t.test('express-h2: an Express app answers over h2c and HTTP/1.1', async (t) => {
  const { url } = await start(t, await load('express-h2.ts'));
  const h2 = JSON.parse((await curl(t, ['-s', '--http2-prior-knowledge', `${url}/users/42`])).stdout) as { id: string; httpVersion: string };
  t.same(h2, { id: '42', httpVersion: '2.0' });
  t.same(JSON.parse((await request(`${url}/users/7`)).body.toString()), { id: '7', httpVersion: '1.1' });
});

t.test('express-middleware: helmet and cors headers on the response and on the websocket', async (t) => {
  const { url } = await start(t, await load('express-middleware.ts'));
  const reply = await request(url, { headers: { origin: 'https://app.example' } });
  t.equal(reply.headers['x-content-type-options'], 'nosniff', 'helmet ran');
  t.equal(reply.headers['access-control-allow-origin'], 'https://app.example', 'cors ran');
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
  t.teardown(() => ws.terminate());
  const [upgrade, message] = await new Promise<[import('node:http').IncomingMessage, string]>((resolve, reject) => {
    ws.once('upgrade', (res) => ws.once('message', (m) => resolve([res, String(m)])));
    ws.once('error', reject);
  });
  t.equal(upgrade.headers['x-content-type-options'], 'nosniff', "helmet's header rode the 101");
  t.equal(message, 'hello through helmet and cors');
});

t.test('koa: @koa/router answers, the timing middleware wraps it, hatchway answers the rest', async (t) => {
  const { url } = await start(t, await load('koa.ts'));
  const reply = await request(`${url}/hello/koa`);
  t.same(JSON.parse(reply.body.toString()), { hello: 'koa', protocol: '1.1' });
  t.match(String(reply.headers['x-response-time']), /ms$/);
  const missing = await request(`${url}/nope`);
  t.equal(missing.status, 404);
  t.match(missing.body.toString(), 'answered by hatchway behind Koa');
  t.match((await curl(t, ['-s', '--http2-prior-knowledge', `${url}/hello/h2`])).stdout, '"protocol":"2.0"');
});

t.test('hono: a Hono app answers and echoes a streamed body, over HTTP/1.1 and h2c', async (t) => {
  const { url } = await start(t, await load('hono.ts'));
  t.match(JSON.parse((await request(`${url}/api/hello`)).body.toString()), { hello: 'hono' });
  t.equal((await request(`${url}/api/echo`, { method: 'POST', body: 'ping' })).body.toString(), 'ping');
  t.match((await curl(t, ['-s', '--http2-prior-knowledge', `${url}/api/hello`])).stdout, '"hello":"hono"');
});
