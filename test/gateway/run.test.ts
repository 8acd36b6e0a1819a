import t from 'tap';
import createError from 'http-errors';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/gateway/run.ts';
import { fileBody } from '../../src/gateway/body.ts';
import { asyncApp } from '../../src/gateway/compose.ts';
import type { App, Body, Chunk, Environ, HeaderList, StartResponse } from '../../src/gateway/types.ts';
import { MemorySink, memoryEnviron, tick } from '../fixtures/memory-sink.ts';

/** Runs `app` for `method /` into a fresh memory sink. */
async function runApp(app: App, method = 'GET') {
  const env = memoryEnviron(method);
  const sink = new MemorySink();
  await run(app, env.environ, sink);
  return { sink, errors: env.errors, environ: env.environ };
}

/** An app that answers `status`/`headers` with `makeBody()`. */
function answer(status: number | string, headers: HeaderList, makeBody: () => Body): App {
  return (_environ, startResponse) => {
    startResponse(status, headers);
    return makeBody();
  };
}

/** Counts `close()` calls and iterator `return()` calls of the body it wraps. */
function counted(makeIterable: () => Iterable<Chunk> | AsyncIterable<Chunk>) {
  const counts = { close: 0, returned: 0 };
  const iterable = makeIterable();
  const isAsync = Symbol.asyncIterator in iterable;
  const body = {
    close() {
      counts.close++;
    },
  } as Body & { close(): void };
  const wrap = <I extends Iterator<Chunk> | AsyncIterator<Chunk>>(it: I): I =>
    ({
      next: () => it.next(),
      return: (value?: unknown) => {
        counts.returned++;
        return it.return ? it.return(value as never) : ({ done: true, value } as never);
      },
    }) as unknown as I;
  if (isAsync) (body as { [Symbol.asyncIterator]: unknown })[Symbol.asyncIterator] = () => wrap((iterable as AsyncIterable<Chunk>)[Symbol.asyncIterator]());
  else (body as { [Symbol.iterator]: unknown })[Symbol.iterator] = () => wrap((iterable as Iterable<Chunk>)[Symbol.iterator]());
  return { body, counts };
}

t.test('a body that yields before startResponse becomes a 500', async (t) => {
  const bodies: [string, () => Body][] = [
    ['array', () => ['x']],
    ['sync generator', () => (function* () { yield 'x'; })()],
    ['async generator', () => (async function* () { yield 'x'; })()],
    ['empty array', () => []],
  ];
  for (const [kind, makeBody] of bodies) {
    const { sink, errors } = await runApp(() => makeBody());
    t.equal(sink.response.status, 500, kind);
    t.notMatch(sink.text, /^x$/, `${kind}: the chunk is not sent`);
    t.match(errors.join('\n'), /HatchwayError/, `${kind}: the misuse is logged`);
  }
});

t.test('an app that returns something other than a body gets a 500', async (t) => {
  for (const value of [undefined, null, 'a string is not a body? it is iterable', Promise.resolve(['x']), 42]) {
    if (typeof value === 'string') continue; // strings are iterable; the spec does not forbid them here
    const { sink, errors } = await runApp(((_e: Environ, s: StartResponse) => {
      s(200, []);
      return value;
    }) as unknown as App);
    t.equal(sink.response.status, 500, String(value));
    t.equal(errors.length, 1, 'the misuse is logged once');
  }
});

t.test('an app that throws before returning gets a 500 and nothing of its error in the body', async (t) => {
  const { sink, errors } = await runApp(() => {
    throw new Error('secret database password');
  });
  t.equal(sink.response.status, 500);
  t.equal(sink.text, 'Internal Server Error\n');
  t.notMatch(sink.text, 'secret');
  t.match(errors.join('\n'), 'secret database password');
});

t.test('strings are sent as UTF-8 and counted in bytes, bytes are sent as they are', async (t) => {
  const bytes = new Uint8Array([0xff, 0x00, 0x41]);
  const { sink } = await runApp(answer(200, [], () => ['héllo €', bytes]));
  t.equal(sink.response.length, 10 + 3, "'héllo €' is 10 bytes in UTF-8");
  t.equal(sink.chunks[0], 'héllo €');
  t.equal(sink.chunks[1], bytes, 'the Uint8Array is passed through, not copied');
});

t.test('a chunk that is neither a string nor bytes is an error', async (t) => {
  const before = await runApp(answer(200, [], () => [42 as unknown as string]));
  t.equal(before.sink.response.status, 500, 'in an array: an error response');
  const after = await runApp(answer(200, [], () => (async function* () {
    yield 'ok';
    yield {} as unknown as string;
  })()));
  t.equal(after.sink.response.status, 200, 'after the commit: the head stands');
  t.match(after.sink.aborted[0], { code: 'ERR_HATCHWAY_INVALID_CHUNK' });
  t.notOk(after.sink.ended);
});

t.test('sync and async iterables of every kind are streamed', async (t) => {
  const kinds: [string, () => Body][] = [
    ['Set', () => new Set(['a', 'b', 'c'])],
    ['sync generator', () => (function* () { yield 'a'; yield 'b'; yield 'c'; })()],
    ['async generator', () => (async function* () { yield 'a'; yield 'b'; yield 'c'; })()],
    ['hand-written async iterable', () => {
      let i = 0;
      const parts = ['a', 'b', 'c'];
      return { [Symbol.asyncIterator]: () => ({ next: async () => (i < parts.length ? { done: false, value: parts[i++]! } : { done: true, value: undefined }) }) };
    }],
  ];
  for (const [kind, makeBody] of kinds) {
    const { sink } = await runApp(answer(200, [], makeBody));
    t.equal(sink.response.status, 200, kind);
    t.equal(sink.text, 'abc', kind);
    t.ok(sink.ended, `${kind} ends`);
  }
});

t.test('empty chunks do not commit: startResponse may still be called after them', async (t) => {
  const app: App = (_environ, startResponse) =>
    (async function* () {
      yield '';
      yield new Uint8Array(0);
      startResponse(201, [['x-late', 'yes']]);
      yield 'created';
    })();
  const { sink } = await runApp(app);
  t.equal(sink.response.status, 201);
  t.equal(sink.header('x-late'), 'yes');
  t.equal(sink.text, 'created');
  t.notOk(sink.chunks.some((c) => c.length === 0), 'empty chunks are not written');
});

t.test('an error before the first non-empty chunk becomes an error response', async (t) => {
  const app = answer(200, [['x-app', '1']], () =>
    (async function* () {
      yield '';
      throw createError(409, 'conflict here');
    })(),
  );
  const { sink, errors } = await runApp(app);
  t.equal(sink.response.status, 409);
  t.equal(sink.header('x-app'), undefined, "the app's headers are not sent");
  t.equal(sink.text, 'conflict here\n');
  t.same(sink.aborted, []);
  t.equal(errors.length, 0, 'a 4xx HttpError is not logged');
});

t.test('an error after the first chunk aborts the committed response', async (t) => {
  const failure = new Error('midway');
  const app = answer(200, [], () =>
    (async function* () {
      yield 'first';
      throw failure;
    })(),
  );
  const { sink, errors } = await runApp(app);
  t.equal(sink.response.status, 200);
  t.equal(sink.text, 'first');
  t.same(sink.aborted, [failure]);
  t.notOk(sink.ended, 'the response does not look complete');
  t.match(errors.join('\n'), 'midway');
});

t.test('a sync iterator that fails on its second chunk still gets an error response', async (t) => {
  const app = answer(200, [], () =>
    (function* () {
      yield 'first';
      throw new Error('second');
    })(),
  );
  const { sink } = await runApp(app);
  t.equal(sink.response.status, 500, 'the look-ahead happens before anything is sent');
  t.notMatch(sink.text, 'first');
});

t.test('Content-Length is set for arrays and single-chunk sync iterators only', async (t) => {
  const cases: [string, () => Body, number | undefined][] = [
    ['array', () => ['ab', 'cd'], 4],
    ['empty array', () => [], 0],
    ['sync iterator with one chunk', () => (function* () { yield 'abc'; })(), 3],
    ['sync iterator with two chunks', () => (function* () { yield 'a'; yield 'b'; })(), undefined],
    ['sync iterator with no chunks', () => (function* () {})(), 0],
    ['async iterator with one chunk', () => (async function* () { yield 'abc'; })(), undefined],
  ];
  for (const [kind, makeBody, length] of cases) {
    const { sink } = await runApp(answer(200, [], makeBody));
    t.equal(sink.response.length, length, kind);
  }
});

t.test('an app-declared Content-Length is kept and not doubled', async (t) => {
  const { sink } = await runApp(answer(200, [['content-length', '2']], () => ['ok']));
  t.equal(sink.response.length, undefined, 'the runner adds no length of its own');
  t.same(sink.response.headers, [['content-length', '2']]);
  const streamed = await runApp(answer(200, [['content-length', '4']], () => (async function* () { yield 'ab'; yield 'cd'; })()));
  t.equal(streamed.sink.text, 'abcd');
  t.ok(streamed.sink.ended);
});

t.test('a Content-Length mismatch is a 500 before the commit', async (t) => {
  const bodies: [string, () => Body][] = [
    ['array too short', () => ['abc']],
    ['array too long', () => ['abcdefghijkl']],
    ['sync iterator with one chunk', () => (function* () { yield 'abc'; })()],
    ['empty async body', () => (async function* () {})()],
  ];
  for (const [kind, makeBody] of bodies) {
    const { sink, errors } = await runApp(answer(200, [['content-length', '10']], makeBody));
    t.equal(sink.response.status, 500, kind);
    t.match(errors.join('\n'), /HatchwayError/, `${kind}: logged`);
  }
});

t.test('a Content-Length mismatch aborts the response after the commit', async (t) => {
  const bodies: [string, () => Body][] = [
    ['too short', () => (async function* () { yield 'ab'; yield 'c'; })()],
    ['too long', () => (async function* () { yield 'ab'; yield 'cdefghijklmn'; })()],
  ];
  for (const [kind, makeBody] of bodies) {
    const { sink } = await runApp(answer(200, [['content-length', '10']], makeBody));
    t.equal(sink.response.status, 200, kind);
    t.match(sink.aborted[0], { code: 'ERR_HATCHWAY_CONTENT_LENGTH_MISMATCH' }, kind);
    t.notOk(sink.ended, `${kind}: not ended`);
    t.ok(sink.text.length <= 10, `${kind}: never more than declared`);
  }
});

t.test('HEAD gets the status, headers and Content-Length but no body', async (t) => {
  const { sink } = await runApp(answer(200, [['content-type', 'text/plain']], () => ['hello']), 'HEAD');
  t.equal(sink.response.length, 5);
  t.same(sink.chunks, []);
  t.ok(sink.ended);
  const streamed = counted(() => (async function* () { yield 'hello'; yield 'world'; })());
  const head = await runApp(answer(200, [], () => streamed.body), 'HEAD');
  t.same(head.sink.chunks, [], 'a streamed HEAD body is not sent');
  t.ok(head.sink.ended);
  t.same(streamed.counts, { close: 1, returned: 1 }, 'the unread iterator is returned and the body closed');
});

t.test('HEAD with an empty body gets no Content-Length rather than a false 0', async (t) => {
  for (const makeBody of [() => [], () => (function* () {})(), () => (async function* () {})()] as (() => Body)[]) {
    const { sink } = await runApp(answer(200, [['content-type', 'text/html']], makeBody), 'HEAD');
    t.equal(sink.response.length, undefined);
    t.ok(sink.ended);
  }
  const get = await runApp(answer(200, [], () => []));
  t.equal(get.sink.response.length, 0, 'a GET with an empty body still says 0');
});

t.test('HEAD errors carry the error headers without a body', async (t) => {
  const { sink } = await runApp(() => {
    throw createError(404, 'nope');
  }, 'HEAD');
  t.equal(sink.response.status, 404);
  t.equal(sink.header('content-length'), '5');
  t.same(sink.chunks, []);
});

t.test('204 and 304 have no Content-Length and no body', async (t) => {
  for (const status of [204, 304, '204 No Content']) {
    for (const [kind, makeBody] of [
      ['empty array', () => []],
      ['array', () => ['ignored']],
      ['sync generator', () => (function* () { yield 'ignored'; })()],
      ['async generator', () => (async function* () { yield 'ignored'; })()],
    ] as [string, () => Body][]) {
      const { sink } = await runApp(answer(status, [], makeBody));
      t.equal(sink.response.length, undefined, `${status} ${kind}: no Content-Length`);
      t.same(sink.chunks, [], `${status} ${kind}: no body`);
      t.ok(sink.ended, `${status} ${kind}: ended`);
    }
  }
});

t.test('a fileBody is handed to the sink whole, or as a byte range', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hatchway-run-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'f.txt');
  await writeFile(path, '0123456789');
  const whole = await runApp(answer(200, [], () => fileBody(path)));
  t.equal(whole.sink.files[0]?.size, 10);
  t.equal(whole.sink.text, '0123456789');
  const range = await runApp(answer(206, [['content-range', 'bytes 2-5/10']], () => fileBody(path, { start: 2, end: 5 })));
  t.equal(range.sink.files[0]?.size, 4);
  t.equal(range.sink.text, '2345');
  const head = await runApp(answer(200, [], () => fileBody(path)), 'HEAD');
  t.equal(head.sink.files[0]?.bodyless, true);
  t.equal(head.sink.text, '');
  const declared = await runApp(answer(200, [['content-length', '10']], () => fileBody(path)));
  t.equal(declared.sink.files[0]?.size, 10, 'a matching declared length is accepted');
  t.equal(declared.sink.response.headers.filter((h) => h[0] === 'content-length').length, 0, 'and not sent twice');
  const wrong = await runApp(answer(200, [['content-length', '3']], () => fileBody(path)));
  t.equal(wrong.sink.response.status, 500, 'a declared length that does not match the file is a 500');
  const missing = await runApp(answer(200, [], () => fileBody(join(dir, 'missing'))));
  t.equal(missing.sink.response.status, 500, 'a missing file is a 500');
});

t.test('error mapping keeps an HttpError status and exposed message', async (t) => {
  const notFound = await runApp(() => {
    throw createError(404, 'nope');
  });
  t.equal(notFound.sink.response.status, 404);
  t.equal(notFound.sink.text, 'nope\n');
  t.equal(notFound.errors.length, 0, '4xx is not logged');
  const busy = await runApp(() => {
    throw createError(503, 'the cache server at 10.0.0.3 is down');
  });
  t.equal(busy.sink.response.status, 503);
  t.equal(busy.sink.text, 'Service Unavailable\n', '5xx messages are not exposed');
  t.equal(busy.errors.length, 1, '5xx is logged');
  const withHeaders = await runApp(() => {
    throw createError(405, { headers: { Allow: 'GET, HEAD', Connection: 'close', 'X-Bad': 'a\r\nb' } });
  });
  t.equal(withHeaders.sink.header('allow'), 'GET, HEAD', 'safe error headers are kept');
  t.equal(withHeaders.sink.header('connection'), undefined, 'hop-by-hop error headers are dropped');
  t.equal(withHeaders.sink.header('x-bad'), undefined, 'unsafe error headers are dropped');
});

t.test('close() is called exactly once on every path', async (t) => {
  const paths: [string, () => Iterable<Chunk> | AsyncIterable<Chunk>, string][] = [
    ['a sync body that ends', () => ['a', 'b'], 'GET'],
    ['an async body that ends', () => (async function* () { yield 'a'; yield 'b'; })(), 'GET'],
    ['an async body that fails before the commit', () => (async function* () { throw new Error('x'); })(), 'GET'],
    ['an async body that fails after the commit', () => (async function* () { yield 'a'; throw new Error('x'); })(), 'GET'],
    ['a sync body with a bad chunk', () => (function* () { yield 'a'; yield 'b'; yield 1 as never; })(), 'GET'],
    ['a HEAD request', () => (async function* () { yield 'a'; yield 'b'; })(), 'HEAD'],
  ];
  for (const [kind, makeIterable, method] of paths) {
    const { body, counts } = counted(makeIterable);
    await runApp(answer(200, [], () => body), method);
    t.equal(counts.close, 1, `${kind}: close() once`);
  }
  const array = Object.assign(['a'], { closes: 0, close() { array.closes++; } });
  await runApp(answer(200, [], () => array));
  t.equal(array.closes, 1, 'an array body with close(): once');
  const failing = Object.assign(['a'], { closes: 0, close() { failing.closes++; } });
  await runApp(answer(200, [['content-length', '9']], () => failing));
  t.equal(failing.closes, 1, 'an array body with a bad length: once');
});

t.test('an exhausted iterator is not returned, an abandoned one is returned once', async (t) => {
  const exhausted = counted(() => (async function* () { yield 'a'; })());
  await runApp(answer(200, [], () => exhausted.body));
  t.same(exhausted.counts, { close: 1, returned: 0 });
  const failed = counted(() => (async function* () { yield 'a'; throw new Error('x'); })());
  await runApp(answer(200, [], () => failed.body));
  t.same(failed.counts, { close: 1, returned: 0 }, 'an iterator that threw owes no return()');
  const abandoned = counted(() => (function* () { yield 'a'; yield 'b'; yield 7 as never; yield 'never'; })());
  await runApp(answer(200, [], () => abandoned.body));
  t.same(abandoned.counts, { close: 1, returned: 1 }, 'a bad chunk abandons the iterator');
});

t.test('a close() that throws is logged and does not change the response', async (t) => {
  const body = Object.assign(['fine'], {
    close() {
      throw new Error('close failed');
    },
  });
  const { sink, errors } = await runApp(answer(200, [], () => body));
  t.equal(sink.response.status, 200);
  t.equal(sink.text, 'fine');
  t.ok(sink.ended);
  t.match(errors.join('\n'), 'close failed');
});

t.test('a client abort stops the body and closes it once', async (t) => {
  const env = memoryEnviron();
  const sink = new MemorySink();
  let produced = 0;
  let finallyRan = 0;
  const closes = { n: 0 };
  const gen = (async function* () {
    try {
      for (;;) {
        produced++;
        yield 'chunk';
        await tick();
      }
    } finally {
      finallyRan++;
    }
  })();
  const body = { [Symbol.asyncIterator]: () => gen, close: () => closes.n++ };
  const done = run(answer(200, [], () => body), env.environ, sink);
  while (produced < 3) await tick();
  sink.close();
  env.abort();
  await done;
  const at = produced;
  await tick();
  await tick();
  t.equal(produced, at, 'the producer stops');
  t.equal(finallyRan, 1, "the generator's finally runs once");
  t.equal(closes.n, 1, 'close() runs once');
  t.notOk(sink.ended, 'the response is not ended as if complete');
  t.ok(env.environ.signal.aborted);
});

t.test('the runner waits for drain: the producer never runs ahead of a full sink', async (t) => {
  const env = memoryEnviron();
  const sink = new MemorySink();
  sink.writable = false;
  let produced = 0;
  const app = answer(200, [], () =>
    (async function* () {
      for (let i = 0; i < 100; i++) {
        produced++;
        yield 'x';
      }
    })(),
  );
  const done = run(app, env.environ, sink);
  for (let i = 0; i < 10; i++) await tick();
  t.equal(sink.chunks.length, 1, 'one chunk is written, then the runner waits');
  t.ok(produced <= 2, `the producer is held (produced ${produced})`);
  for (let round = 0; round < 5; round++) {
    sink.drain();
    for (let i = 0; i < 5; i++) await tick();
    t.ok(produced - sink.chunks.length <= 1, `round ${round}: at most one chunk ahead`);
  }
  sink.writable = true;
  sink.drain();
  await done;
  t.equal(sink.chunks.length, 100);
  t.ok(sink.ended);
});

t.test('nothing is committed when the client left before the first chunk', async (t) => {
  const env = memoryEnviron();
  const sink = new MemorySink();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const counts = { close: 0 };
  const body = {
    async *[Symbol.asyncIterator]() {
      await gate;
      yield 'late';
    },
    close: () => counts.close++,
  };
  const done = run(answer(200, [], () => body), env.environ, sink);
  sink.close();
  env.abort();
  release();
  await done;
  t.same(sink.heads, [], 'no head');
  t.equal(counts.close, 1);
});

t.test('asyncApp may await before startResponse and its body is closed once', async (t) => {
  let closes = 0;
  const app = asyncApp(async (environ, startResponse) => {
    await tick();
    startResponse(200, [['x-path', environ.pathInfo]]);
    return Object.assign(['async ', 'done'], { close: () => closes++ });
  });
  const { sink } = await runApp(app);
  t.equal(sink.response.status, 200);
  t.equal(sink.header('x-path'), '/');
  t.equal(sink.text, 'async done');
  t.equal(closes, 1);
  const failing = asyncApp(async () => {
    throw createError(401, 'who are you');
  });
  const denied = await runApp(failing);
  t.equal(denied.sink.response.status, 401);
  t.equal(denied.sink.text, 'who are you\n');
});
