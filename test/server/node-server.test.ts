/**
 * `createServer(app, options)` from `hatchway/server`: a Node-shaped server (events,
 * synchronous-looking `listen`, `address()`, `close(cb)`, `closeAllConnections()`) hosting an
 * Express app through `fromNodeListener`, driven over HTTP/1.1 and HTTP/2 (h2c) by node's own
 * clients, and by supertest as supertest drives an `http.Server` when supertest is installed
 * (it is not a devDependency yet: that part is skipped with the reason otherwise).
 */
import t from 'tap';
import express from 'express';
import { connect, type ClientHttp2Session } from 'node:http2';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { createServer, NodeServer } from '../../src/server/index.ts';
import { fromNodeListener } from '../../adapters/node.ts';
import { request } from '../fixtures/clients.ts';

function expressApp() {
  const app = express();
  app.use(express.json());
  app.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id, http: req.httpVersion });
  });
  app.post('/echo', (req, res) => {
    res.status(201).json({ got: req.body });
  });
  app.get('/stuck', () => {
    // never answers: for closeAllConnections()
  });
  return fromNodeListener(app);
}

function h2(session: ClientHttp2Session, path: string, method = 'GET', body?: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ':method': method, ...(body ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}) });
    let text = '';
    let status = 0;
    let headers: Record<string, unknown> = {};
    stream.on('response', (h) => {
      status = Number(h[':status']);
      headers = h;
    });
    stream.setEncoding('utf8').on('data', (d: string) => (text += d));
    stream.on('end', () => resolve({ status, body: text, headers }));
    stream.on('error', reject);
    stream.end(body);
  });
}

t.test('listen() returns at once with the socket bound; listening, close and their callbacks', async (t) => {
  const server = createServer(expressApp());
  t.type(server, NodeServer);
  t.equal(server.address(), null, 'no address before listen');
  let called = false;
  const returned = server.listen(0, () => (called = true));
  t.equal(returned, server, 'listen returns the server');
  const address = server.address() as AddressInfo;
  t.ok(address && address.port > 0, 'address() answers right after listen(0), as http.Server does');
  t.equal(address.address, '::', 'every interface, as http.Server.listen(0)');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  t.ok(called, 'the callback ran on listening');
  t.ok(server.listening);
  t.ok(server.http1Server, 'the node:http engine is reachable');
  const res = await request(`http://127.0.0.1:${address.port}/users/7`);
  t.equal(res.status, 200);
  t.same(JSON.parse(String(res.body)), { id: '7', http: '1.1' });
  const closed = new Promise<void>((resolve) => server.once('close', resolve));
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  await closed;
  t.notOk(server.listening);
  const again = await new Promise<Error | undefined>((resolve) => server.close(resolve));
  t.match(again, { code: 'ERR_SERVER_NOT_RUNNING' }, 'closing twice is an error, as for http.Server');
});

t.test('an Express app over HTTP/1.1 and HTTP/2 on one port', async (t) => {
  const server = createServer(expressApp()).listen(0, '127.0.0.1');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  const count = await new Promise<number>((resolve) => server.getConnections((_err, n) => resolve(n)));
  t.equal(count, 0, 'getConnections(), as net.Server');
  t.equal(server.unref(), server, 'unref() and ref() chain, as net.Server');
  server.ref();
  const typed: import('node:net').Server = server;
  t.ok(typed, 'a net.Server to TypeScript (supertest takes it)');
  const post = await request(`http://127.0.0.1:${port}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
  t.equal(post.status, 201);
  t.same(JSON.parse(String(post.body)), { got: { a: 1 } });
  const session = connect(`http://127.0.0.1:${port}`);
  t.teardown(() => session.close());
  const got = await h2(session, '/users/9');
  t.equal(got.status, 200);
  t.same(JSON.parse(got.body), { id: '9', http: '2.0' });
  const posted = await h2(session, '/echo', 'POST', '{"b":2}');
  t.equal(posted.status, 201);
  t.same(JSON.parse(posted.body), { got: { b: 2 } });
});

t.test("a port in use is an 'error' event, as for http.Server", async (t) => {
  const blocker = createNetServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const server = createServer(expressApp());
  const err = await new Promise<NodeJS.ErrnoException>((resolve) => server.on('error', resolve).listen((blocker.address() as AddressInfo).port, '127.0.0.1'));
  t.equal(err.code, 'EADDRINUSE');
  t.notOk(server.listening);
});

t.test('closeAllConnections() cuts off a request that would never finish', async (t) => {
  const server = createServer(expressApp(), { gracefulTimeout: 60_000 }).listen(0);
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  const stuck = request(`http://127.0.0.1:${port}/stuck`);
  await new Promise((r) => setTimeout(r, 200));
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  const res = await stuck;
  t.ok(res.error, `the stuck request was cut off (${res.error})`);
  await closed;
});

t.test('a unix socket path, as http.Server.listen(path)', async (t) => {
  const path = `/tmp/hatchway-node-server-${process.pid}.sock`;
  const server = createServer(expressApp()).listen(path);
  await new Promise<void>((resolve) => server.once('listening', resolve));
  t.equal(server.address(), path);
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const supertest = await import('supertest' as string).then(
  (m: { default: (app: unknown, options?: { http2?: boolean }) => { get(path: string): Promise<{ status: number; body: unknown }> } }) => m.default,
  () => undefined,
);
t.test('supertest drives it over HTTP/1.1 and HTTP/2', { skip: supertest ? false : 'supertest is not installed (add supertest and @types/supertest to devDependencies)' }, async (t) => {
  const server = createServer(expressApp());
  const one = await supertest!(server).get('/users/1');
  t.equal(one.status, 200);
  t.same(one.body, { id: '1', http: '1.1' });
  const two = await supertest!(server, { http2: true }).get('/users/2');
  t.equal(two.status, 200);
  t.same(two.body, { id: '2', http: '2.0' });
  t.equal(server.address(), null, 'supertest closed what it opened');
});
