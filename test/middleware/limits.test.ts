import t from 'tap';
import { request as httpRequest } from 'node:http';
import { PullBodyReader, asyncApp, type App } from '../../src/index.ts';
import { CappedBodyReader, limits } from '../../middleware/limits.ts';
import { start } from '../fixtures/server.ts';
import { request, sleep, type Reply } from '../fixtures/clients.ts';
import { exchange, session } from '../fixtures/h2.ts';
import { curlRaw, escapeRoutes, hasTrailer, wsPing } from '../fixtures/escape-routes.ts';

let calls = 0;
/** Reads the whole body and answers with its length. */
const measure = asyncApp(async (environ, startResponse) => {
  calls++;
  const body = await environ.input.bytes();
  startResponse(200, [['content-type', 'text/plain']]);
  return [`${body.byteLength} bytes\n`];
});

/** Sends `parts` chunked (no Content-Length), each after a short pause. */
function chunked(url: string, parts: string[]): Promise<Reply> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { method: 'POST' }, (res) => {
      const body: Buffer[] = [];
      res.on('data', (d: Buffer) => body.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, statusMessage: '', headers: res.headers, rawHeaders: [], body: Buffer.concat(body), complete: true, error: undefined, localPort: undefined }));
    });
    req.on('error', () => {});
    (async () => {
      for (const part of parts) {
        if (!req.write(part)) await new Promise((r) => req.once('drain', r));
        await sleep(5);
      }
      req.end();
    })();
  });
}

t.test('a declared Content-Length over the cap is answered 413 without calling the app', async (t) => {
  const { url } = await start(t, limits({ body: '1kb' })(measure));
  calls = 0;
  const res = await request(url + '/', { method: 'POST', body: 'x'.repeat(2000) });
  t.equal(res.status, 413);
  t.equal(res.body.toString(), 'request body larger than 1024 bytes\n');
  t.equal(calls, 0);
  const ok = await request(url + '/', { method: 'POST', body: 'x'.repeat(1024) });
  t.equal(ok.body.toString(), '1024 bytes\n', 'exactly the cap is fine');
});

t.test('a chunked HTTP/1.1 body is refused with 413 as soon as it passes the cap', async (t) => {
  const { url } = await start(t, limits({ body: 1000 })(measure));
  const over = await chunked(url + '/', ['a'.repeat(600), 'b'.repeat(600), 'c'.repeat(600)]);
  t.equal(over.status, 413);
  const under = await chunked(url + '/', ['a'.repeat(500), 'b'.repeat(500)]);
  t.equal(under.body.toString(), '1000 bytes\n');
});

t.test('an HTTP/2 body of unknown length is refused with 413 too', async (t) => {
  const { url } = await start(t, limits({ body: 1000 })(measure));
  const s = await session(t, url);
  const over = await exchange(s, { ':method': 'POST' }, { body: 'z'.repeat(5000) });
  t.equal(over.status, 413);
  const under = await exchange(s, { ':method': 'POST' }, { body: 'z'.repeat(999) });
  t.equal(under.body.toString(), '999 bytes\n');
});

t.test('a read past the cap fails having read at most one byte beyond it', async (t) => {
  let seen = 0;
  let failure: unknown;
  const reader = asyncApp(async (environ, startResponse) => {
    try {
      for await (const chunk of environ.input) seen += chunk.byteLength;
    } catch (err) {
      failure = err;
    }
    startResponse(200, [['content-type', 'text/plain']]);
    return ['read\n'];
  });
  const { url } = await start(t, limits({ body: 100 })(reader));
  await chunked(url + '/', ['q'.repeat(80), 'q'.repeat(80)]);
  t.ok(seen <= 100, `the app got only bytes under the cap (${seen}; 0 when both writes came in one read)`);
  t.match(failure, { status: 413, code: 'ERR_HATCHWAY_BODY_TOO_LARGE' });
});

t.test('CappedBodyReader consumes at most one byte past the cap of the reader it wraps', async (t) => {
  class Source extends PullBodyReader {
    consumed = 0;
    constructor() {
      super(undefined); // unknown length, as chunked or HTTP/2
    }
    protected pull(): Promise<Uint8Array | null> {
      this.consumed += 64;
      return Promise.resolve(new Uint8Array(64));
    }
  }
  const source = new Source();
  const capped = new CappedBodyReader(source, 100);
  await t.rejects(capped.bytes(), { status: 413, code: 'ERR_HATCHWAY_BODY_TOO_LARGE' });
  t.equal(capped.length, undefined);
  t.ok(source.consumed <= 128, `pulled ${source.consumed} bytes from the source`);
});

t.test('more header fields than the cap are answered 431', async (t) => {
  const { url } = await start(t, limits({ headers: 10 })(measure));
  const headers = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`x-h${i}`, 'v']));
  const res = await request(url + '/', { headers });
  t.equal(res.status, 431);
});

t.test('the deadline answers 503 before the commit, aborts the inner work and closes its body', async (t) => {
  let closed = false;
  let aborted = false;
  const slow: App = (environ, startResponse) => ({
    async *[Symbol.asyncIterator]() {
      await new Promise((resolve) => environ.signal.addEventListener('abort', () => resolve((aborted = true))));
      startResponse(200, [['content-type', 'text/plain']]);
      yield 'too late\n';
    },
    close: () => void (closed = true),
  });
  const { url, logs } = await start(t, limits({ timeout: 100 })(slow));
  const began = Date.now();
  const res = await request(url + '/');
  t.equal(res.status, 503);
  t.equal(res.headers['retry-after'], '1');
  t.ok(Date.now() - began < 2000);
  t.ok(aborted, 'the app saw its signal aborted');
  t.ok(closed, 'the inner body was closed');
  t.ok(logs.some((l) => l.includes('ERR_LIMITS_DEADLINE')));
});

t.test('after the commit the deadline aborts the response cleanly', async (t) => {
  let closed = false;
  const trickle: App = (_environ, startResponse) => ({
    async *[Symbol.asyncIterator]() {
      startResponse(200, [['content-type', 'text/plain']]);
      for (;;) {
        yield 'tick\n';
        await sleep(30);
      }
    },
    close: () => void (closed = true),
  });
  const { url } = await start(t, limits({ timeout: 150 })(trickle));
  const res = await request(url + '/');
  t.equal(res.status, 200);
  t.equal(res.complete, false, 'the response never looks complete');
  t.match(res.body.toString(), /^tick\n/);
  for (let i = 0; i < 50 && !closed; i++) await sleep(10);
  t.ok(closed, 'the body was closed');
});

t.test('a websocket and a trailers response behind all three limits are honoured', async (t) => {
  const { url } = await start(t, limits({ body: 10, headers: 50, timeout: 5_000 })(escapeRoutes(measure)));
  const ws = await wsPing(url + '/ws');
  t.equal(ws.status, 101);
  t.equal(ws.reply, 'echo: ping');
  for (const args of [[], ['--http2-prior-knowledge']]) {
    const { body } = await curlRaw(t, url + '/trailers', args);
    t.ok(hasTrailer(body), `the trailer arrives (${args.join(' ') || 'HTTP/1.1'})`);
  }
});

t.test('options are checked at construction', async (t) => {
  t.throws(() => limits({ body: 'lots' }), TypeError);
  t.throws(() => limits({ timeout: -5 }), TypeError);
});

t.test('passes the hatchway checklist (checkMiddleware), escape-safe', async (t) => {
  const { assertConformance } = await import('../../src/testing.ts');
  const { conformance } = await import('../../middleware/limits.ts');
  for (const entry of conformance) await assertConformance(t, entry.make(), { grade: 'escape-safe', name: entry.name });
});
