/**
 * `close()` is called exactly once on every path over a real connection: normal end, app
 * error, client abort — and a generator body's `finally` (its iterator's `return()`) runs once.
 */
import t from 'tap';
import { request as httpRequest } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileBody } from '../../src/gateway/body.ts';
import type { App, Chunk, Environ } from '../../src/gateway/types.ts';
import { start } from '../fixtures/server.ts';
import { request, sleep } from '../fixtures/clients.ts';

/** A body that counts its close() calls and its generator's finally, and remembers its environ. */
function tracked() {
  const seen = { close: 0, finally: 0, produced: 0, environ: undefined as Environ | undefined };
  let onClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => (onClosed = resolve));
  const app = (makeGen: () => AsyncGenerator<Chunk> | Generator<Chunk>): App =>
    (environ, startResponse) => {
      seen.environ = environ;
      startResponse(200, [['content-type', 'text/plain']]);
      const gen = makeGen();
      const body = {
        [Symbol.asyncIterator]: () => gen as AsyncIterator<Chunk>,
        close() {
          seen.close++;
          onClosed();
        },
      };
      return body;
    };
  return { seen, closed, app };
}

async function waitFor(condition: () => boolean, timeout = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

t.test('close() runs once when the body ends normally', async (t) => {
  const { seen, closed, app } = tracked();
  const { url } = await start(t, app(async function* () {
    try {
      yield 'a';
      yield 'b';
    } finally {
      seen.finally++;
    }
  }));
  const reply = await request(url);
  t.equal(reply.body.toString(), 'ab');
  await closed;
  await sleep(20);
  t.equal(seen.close, 1);
  t.equal(seen.finally, 1);
  t.equal(seen.environ?.signal.aborted, false, 'a finished request is not aborted');
});

t.test('close() runs once when the app fails after the commit', async (t) => {
  const { seen, closed, app } = tracked();
  const { url } = await start(t, app(async function* () {
    try {
      yield 'a';
      throw new Error('fails');
    } finally {
      seen.finally++;
    }
  }));
  const reply = await request(url);
  t.not(reply.error, undefined);
  await closed;
  await sleep(20);
  t.equal(seen.close, 1);
  t.equal(seen.finally, 1);
});

t.test('close() runs once when the app fails before the commit', async (t) => {
  const { seen, closed, app } = tracked();
  const { url } = await start(t, app(async function* () {
    try {
      yield '';
      throw new Error('fails');
    } finally {
      seen.finally++;
    }
  }));
  const reply = await request(url);
  t.equal(reply.status, 500);
  await closed;
  await sleep(20);
  t.equal(seen.close, 1);
  t.equal(seen.finally, 1);
});

t.test('close() runs once for an array body with a close method', async (t) => {
  let closes = 0;
  const { url } = await start(t, (_environ, startResponse) => {
    startResponse(200, []);
    return Object.assign(['x'], { close: () => closes++ });
  });
  await request(url);
  await request(url);
  t.equal(closes, 2, 'once per request');
});

t.test('a client abort mid-stream closes the body once and aborts environ.signal', async (t) => {
  const { seen, closed, app } = tracked();
  const { url } = await start(t, app(async function* () {
    try {
      for (let i = 0; i < 1000; i++) {
        seen.produced++;
        yield `chunk ${i}\n`;
        await sleep(10);
      }
    } finally {
      seen.finally++;
    }
  }));
  const req = httpRequest(url, { agent: false });
  req.on('error', () => {});
  req.on('response', (res) => {
    let received = 0;
    res.on('error', () => {});
    res.on('data', (d: Buffer) => {
      received += d.length;
      if (received > 30) req.destroy();
    });
  });
  req.end();
  await closed;
  t.ok(await waitFor(() => seen.finally === 1), "the generator's finally runs");
  const produced = seen.produced;
  await sleep(100);
  t.equal(seen.close, 1, 'close() once');
  t.equal(seen.finally, 1, 'return() once');
  t.equal(seen.environ?.signal.aborted, true, 'environ.signal is aborted');
  t.equal(seen.produced, produced, 'the producer stopped');
  t.ok(produced < 1000, 'long before the end');
});

t.test('a client abort while the body waits closes it once, without another chunk', async (t) => {
  let closes = 0;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let environ: Environ | undefined;
  let afterGate = 0;
  const { url } = await start(t, (env, startResponse) => {
    environ = env;
    startResponse(200, []);
    return {
      async *[Symbol.asyncIterator]() {
        yield 'first';
        await gate;
        afterGate++;
        yield 'second';
      },
      close: () => closes++,
    };
  });
  const req = httpRequest(url, { agent: false });
  req.on('error', () => {});
  const gotFirst = new Promise<void>((resolve) => req.on('response', (res) => {
    res.on('error', () => {});
    res.once('data', () => resolve());
  }));
  req.end();
  await gotFirst;
  req.destroy();
  t.ok(await waitFor(() => environ?.signal.aborted === true), 'environ.signal aborts while the body waits');
  t.ok(await waitFor(() => closes === 1), 'close() runs although the generator is suspended');
  release();
  await sleep(50);
  t.equal(closes, 1, 'and only once');
  t.ok(afterGate <= 1, 'the generator is not driven further than its pending step');
});

t.test('a client that leaves before the commit gets nothing and the body closes once', async (t) => {
  let closes = 0;
  let environ: Environ | undefined;
  const { url, server } = await start(t, (env, startResponse) => {
    environ = env;
    return {
      async *[Symbol.asyncIterator]() {
        await sleep(200);
        startResponse(200, []);
        yield 'late';
      },
      close: () => closes++,
    };
  });
  const req = httpRequest(url, { agent: false });
  req.on('error', () => {});
  req.end();
  t.ok(await waitFor(() => environ !== undefined));
  req.destroy();
  t.ok(await waitFor(() => closes === 1));
  await sleep(300);
  t.equal(closes, 1);
  t.equal(environ?.signal.aborted, true);
  t.ok(await waitFor(() => server.inFlight === 0), 'the request is no longer in flight');
});

t.test('a client that leaves mid-stream is not logged as a server error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hatchway-close-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'big.bin');
  await writeFile(path, Buffer.alloc(32 * 1024 * 1024, 1));
  const environs: Environ[] = [];
  const { url, logs } = await start(t, (environ, startResponse) => {
    environs.push(environ);
    startResponse(200, []);
    if (environ.pathInfo === '/file') return fileBody(path);
    return (async function* () {
      for (let i = 0; i < 10_000; i++) yield Buffer.alloc(64 * 1024, 2);
    })();
  });
  for (const path of ['/file', '/stream']) {
    const req = httpRequest(`${url}${path}`, { agent: false });
    req.on('error', () => {});
    req.on('response', (res) => {
      res.on('error', () => {});
      res.once('data', () => req.destroy());
    });
    req.end();
    t.ok(await waitFor(() => environs.length > 0 && environs.at(-1)!.pathInfo === path && environs.at(-1)!.signal.aborted), `${path}: the request is aborted`);
  }
  await sleep(100);
  t.same(logs, [], 'nothing is logged');
});
