/**
 * Graceful shutdown of HTTP/1.1 connections through `Server.close()`.
 */
import t from 'tap';
import { Agent } from 'node:http';
import type { App, Environ } from '../../src/gateway/types.ts';
import { start } from '../fixtures/server.ts';
import { RawClient, request, sleep, within } from '../fixtures/clients.ts';

/** An app whose response waits for `release()` between its two chunks. */
function gated() {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const seen = { started: 0, closes: 0, environ: undefined as Environ | undefined };
  const app: App = (environ, startResponse) => {
    seen.started++;
    seen.environ = environ;
    return {
      async *[Symbol.asyncIterator]() {
        await gate;
        startResponse(200, []);
        yield 'slow ';
        yield 'done';
      },
      close: () => seen.closes++,
    };
  };
  return { app, seen, release: () => release() };
}

async function until(condition: () => boolean): Promise<boolean> {
  for (let i = 0; i < 500 && !condition(); i++) await sleep(10);
  return condition();
}

t.test('close() lets a request in flight finish, then closes its connection', async (t) => {
  const { app, seen, release } = gated();
  const { server, url } = await start(t, app, { gracefulTimeout: 10_000 });
  const pending = request(`${url}/slow`);
  t.ok(await until(() => seen.started === 1), 'the request is in flight');
  let closed = false;
  const closing = server.close().then(() => (closed = true));
  await sleep(50);
  t.equal(closed, false, 'close() waits for the request');
  const refused = await request(`${url}/new`, { timeout: 2_000 });
  t.equal(refused.error, 'ECONNREFUSED', 'new connections are refused');
  release();
  const reply = await pending;
  t.equal(reply.status, 200);
  t.equal(reply.body.toString(), 'slow done', 'the request in flight completes');
  t.equal(reply.headers.connection, 'close', 'its response closes the connection');
  t.ok(await within(closing, 5_000), 'close() resolves once it is done');
  t.equal(seen.closes, 1);
  t.equal(seen.environ?.signal.aborted, false, 'the finished request was not aborted');
  t.equal(server.inFlight, 0);
});

t.test('close() does not wait for idle keep-alive connections', async (t) => {
  const { server, url } = await start(t, (_environ, startResponse) => {
    startResponse(200, []);
    return ['ok'];
  }, { keepAliveTimeout: 60_000, gracefulTimeout: 60_000 });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const reply = await request(url, { agent });
  t.equal(reply.headers.connection, 'keep-alive');
  const result = await within(server.close().then(() => 'closed'), 10_000);
  t.equal(result, 'closed', 'the idle connection does not hold close() for keepAliveTimeout or gracefulTimeout');
});

t.test('a response whose head went out before close() still closes its connection after it', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const { server, port } = await start(t, (_environ, startResponse) => {
    startResponse(200, []);
    return (async function* () {
      yield 'first;';
      await gate;
      yield 'second';
    })();
  }, { gracefulTimeout: 10_000 });
  const client = await RawClient.connect(t, port);
  client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  t.ok(await client.until((r) => r.includes('first;')));
  t.match(client.received, /\r\nconnection: keep-alive\r\n/i, 'the head promised keep-alive');
  const closing = server.close();
  release();
  t.ok(await client.untilClosed(), 'the server closes the connection after the response');
  t.match(client.received, /second\r\n0\r\n\r\n$/, 'the response is complete');
  t.equal(await within(closing.then(() => 'closed'), 5_000), 'closed', 'close() resolves');
});

t.test('after gracefulTimeout a stuck request is cut off, its body closed once and its signal aborted', async (t) => {
  const seen = { closes: 0, environ: undefined as Environ | undefined };
  const { server, url } = await start(t, (environ, startResponse) => {
    seen.environ = environ;
    startResponse(200, []);
    return {
      async *[Symbol.asyncIterator]() {
        yield 'stuck;';
        await new Promise<void>((resolve) => environ.signal.addEventListener('abort', () => resolve()));
      },
      close: () => seen.closes++,
    };
  }, { gracefulTimeout: 300 });
  const pending = request(url);
  t.ok(await until(() => seen.environ !== undefined));
  const result = await within(server.close().then(() => 'closed'), 10_000);
  t.equal(result, 'closed', 'close() resolves after the grace period');
  const reply = await pending;
  t.equal(reply.status, 200);
  t.not(reply.error, undefined, 'the client sees the response cut off');
  t.equal(reply.body.toString(), 'stuck;');
  t.ok(await until(() => seen.closes === 1));
  t.equal(seen.environ?.signal.aborted, true);
});

t.test('close() twice returns one shutdown', async (t) => {
  const { server } = await start(t, (_environ, startResponse) => {
    startResponse(204, []);
    return [];
  });
  const a = server.close();
  const b = server.close();
  t.equal(a, b);
  await a;
});
