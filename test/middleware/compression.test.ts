import t from 'tap';
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { brotliDecompressSync, createGunzip, gunzipSync, inflateSync, zstdDecompressSync } from 'node:zlib';
import type { App, HeaderList } from '../../src/index.ts';
import { request as memoryRequest } from '../../src/testing.ts';
import { compression } from '../../middleware/compression.ts';
import { start } from '../fixtures/server.ts';
import { curl, request, sleep } from '../fixtures/clients.ts';
import { curlRaw, escapeRoutes, hasTrailer, wsPing } from '../fixtures/escape-routes.ts';

const TEXT = 'All work and no play makes Jack a dull boy.\n'.repeat(400); // 17.6 kB

/** `/text` streams TEXT in pieces; `/small`, `/png`, `/encoded`, `/range`, `/no-transform`, `/etag`, `/204`. */
const site: App = (environ, startResponse) => {
  const plain: HeaderList = [['content-type', 'text/plain; charset=utf-8']];
  switch (environ.pathInfo) {
    case '/small':
      startResponse(200, [...plain, ['content-length', '6']]);
      return ['small\n'];
    case '/png':
      startResponse(200, [['content-type', 'image/png']]);
      return [TEXT];
    case '/encoded':
      startResponse(200, [...plain, ['content-encoding', 'identity']]);
      return [TEXT];
    case '/range':
      startResponse(206, [...plain, ['content-range', `bytes 0-99/${TEXT.length}`]]);
      return [TEXT.slice(0, 100)];
    case '/no-transform':
      startResponse(200, [...plain, ['cache-control', 'public, no-transform']]);
      return [TEXT];
    case '/etag':
      startResponse(200, [...plain, ['etag', '"v1"'], ['vary', 'Cookie']]);
      return [TEXT];
    case '/204':
      startResponse(204, []);
      return [];
    default:
      return (function* () {
        startResponse(200, plain);
        for (let i = 0; i < TEXT.length; i += 1000) yield TEXT.slice(i, i + 1000);
      })();
  }
};

const app = (options = {}) => compression(options)(escapeRoutes(site));

t.test('each coding decompresses with zlib to the original body', async (t) => {
  const { url } = await start(t, app());
  const decode = { gzip: gunzipSync, deflate: inflateSync, br: brotliDecompressSync, zstd: zstdDecompressSync };
  for (const [coding, inflate] of Object.entries(decode)) {
    const res = await request(url + '/text', { headers: { 'accept-encoding': coding } });
    t.equal(res.headers['content-encoding'], coding, coding);
    t.equal(res.headers['vary'], 'Accept-Encoding');
    t.equal(res.headers['content-length'], undefined, 'chunked: the compressed length is not known up front');
    t.ok(res.body.length < TEXT.length / 10, `${coding} compresses (${res.body.length} bytes)`);
    t.equal(inflate(res.body).toString(), TEXT, `${coding} round-trips`);
  }
});

t.test('q-values decide first, then the server\'s order among equals', async (t) => {
  const { url } = await start(t, app({ encodings: ['br', 'gzip', 'zstd'] }));
  const chosen = async (accept: string) => (await request(url + '/text', { headers: { 'accept-encoding': accept } })).headers['content-encoding'];
  t.equal(await chosen('gzip, br'), 'br', 'equal q: the server prefers br');
  t.equal(await chosen('gzip;q=1, br;q=0.5'), 'gzip', 'the client\'s q wins');
  t.equal(await chosen('*'), 'br');
  t.equal(await chosen('br;q=0, *;q=0.1'), 'gzip', 'q=0 refuses');
  t.equal(await chosen('deflate'), undefined, 'deflate was not offered');
  t.equal(await chosen('identity'), undefined);
  const none = await request(url + '/text');
  t.equal(none.headers['content-encoding'], undefined, 'no Accept-Encoding: identity');
  t.equal(none.headers['vary'], 'Accept-Encoding', 'but the response still varies');
});

t.test('curl --compressed decodes it over HTTP/1.1 and h2c', async (t) => {
  const { url } = await start(t, app());
  for (const args of [[], ['--http2-prior-knowledge']]) {
    const { stdout, code } = await curl(t, ['-s', '--compressed', ...args, url + '/text']);
    t.equal(code, 0);
    t.equal(stdout, TEXT, `decoded (${args.join(' ') || 'HTTP/1.1'})`);
    const head = await curl(t, ['-s', '-o', '/dev/null', '-D', '-', '--compressed', ...args, url + '/text']);
    t.match(head.stdout, /content-encoding: zstd/i, 'curl offers zstd, the server prefers it');
  }
});

t.test('small, already-compressed, encoded, ranged, no-transform and bodiless responses pass as they are', async (t) => {
  const { url } = await start(t, app());
  const gzip = { 'accept-encoding': 'gzip' };
  const small = await request(url + '/small', { headers: gzip });
  t.equal(small.headers['content-encoding'], undefined, 'under the threshold');
  t.equal(small.headers['vary'], 'Accept-Encoding');
  t.equal(small.headers['content-length'], '6');
  const png = await request(url + '/png', { headers: gzip });
  t.equal(png.headers['content-encoding'], undefined, 'an image');
  t.equal(png.headers['vary'], undefined, 'whose coding never varies');
  const encoded = await request(url + '/encoded', { headers: gzip });
  t.equal(encoded.headers['content-encoding'], 'identity', 'the app\'s coding is kept');
  t.equal(encoded.body.toString(), TEXT);
  const range = await request(url + '/range', { headers: gzip });
  t.equal(range.status, 206);
  t.equal(range.headers['content-encoding'], undefined, 'a range');
  const nt = await request(url + '/no-transform', { headers: gzip });
  t.equal(nt.headers['content-encoding'], undefined, 'Cache-Control: no-transform');
  const head = await request(url + '/text', { method: 'HEAD', headers: gzip });
  t.equal(head.headers['content-encoding'], undefined, 'HEAD');
  const empty = await request(url + '/204', { headers: gzip });
  t.equal(empty.status, 204);
  t.equal(empty.headers['content-encoding'], undefined, '204');
});

t.test('a strong ETag becomes weak, and Vary is appended to', async (t) => {
  const { url } = await start(t, app());
  const res = await request(url + '/etag', { headers: { 'accept-encoding': 'gzip' } });
  t.equal(res.headers['etag'], 'W/"v1"');
  t.equal(res.headers['vary'], 'Cookie, Accept-Encoding');
  t.equal(gunzipSync(res.body).toString(), TEXT);
});

t.test('a stalled event stream is flushed: the client decodes the first event before the end', async (t) => {
  let closed = false;
  const events: App = (environ, startResponse) => ({
    async *[Symbol.asyncIterator]() {
      startResponse(200, [['content-type', 'text/event-stream']]);
      yield 'data: one\n\n';
      await new Promise((resolve) => environ.signal.addEventListener('abort', resolve));
    },
    close: () => void (closed = true),
  });
  const { url } = await start(t, compression({ threshold: 0 })(events));
  const first = await new Promise<string>((resolve, reject) => {
    const req = httpRequest(url, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
      t.equal(res.headers['content-encoding'], 'gzip');
      res.pipe(createGunzip()).once('data', (d: Buffer) => {
        resolve(d.toString());
        req.destroy();
      });
    });
    req.on('error', () => {});
    setTimeout(() => reject(new Error('no event arrived')), 3000);
    req.end();
  });
  t.equal(first, 'data: one\n\n');
  for (let i = 0; i < 50 && !closed; i++) await sleep(20);
  t.ok(closed, 'the body is closed when the client leaves');
});

t.test('backpressure: a slow reader keeps the inner body from being pulled ahead', async (t) => {
  const pool = randomBytes(1 << 20); // incompressible: the compressed stream is as large as the input
  const chunk = 64 * 1024;
  let pulled = 0;
  let closed = false;
  const huge: App = (_environ, startResponse) => ({
    *[Symbol.iterator]() {
      startResponse(200, [['content-type', 'application/x-ndjson']]);
      for (let i = 0; i < 4096; i++) {
        pulled += chunk;
        yield pool.subarray((i % 16) * chunk, (i % 16 + 1) * chunk); // 256 MiB in all
      }
    },
    close: () => void (closed = true),
  });
  const { url } = await start(t, compression({ zlib: { level: 1 } })(huge));
  const res = await new Promise<IncomingMessage>((resolve) => {
    const req = httpRequest(url, { headers: { 'accept-encoding': 'gzip' } }, resolve);
    req.end();
    t.teardown(() => void req.destroy());
  });
  res.pause(); // read nothing
  await sleep(600);
  t.equal(res.headers['content-encoding'], 'gzip');
  t.ok(pulled < 24 * (1 << 20), `only ${(pulled / (1 << 20)).toFixed(1)} MiB of 256 pulled for a reader that reads nothing`);
  const before = pulled;
  await sleep(300);
  t.ok(pulled - before <= 2 * (1 << 20), 'and next to nothing more while it still reads nothing');
  res.destroy();
  for (let i = 0; i < 50 && !closed; i++) await sleep(20);
  t.ok(closed, 'the inner body is closed when the client goes away');
});

t.test('escape responses are passed untouched: a websocket and trailers are honoured', async (t) => {
  const { url } = await start(t, app({ threshold: 0 }));
  const ws = await wsPing(url + '/ws', { 'accept-encoding': 'gzip, br' });
  t.equal(ws.status, 101);
  t.equal(ws.reply, 'echo: ping');
  t.equal(ws.headers['vary'], undefined, 'not even a field added');
  for (const args of [[], ['--http2-prior-knowledge']]) {
    const { head, body } = await curlRaw(t, url + '/trailers', ['-H', 'accept-encoding: gzip', ...args]);
    t.notMatch(head, /content-encoding/i, 'the trailers body is sent as the app made it');
    t.ok(hasTrailer(body), `the trailer arrives (${args.join(' ') || 'HTTP/1.1'})`);
  }
});

t.test('in memory, the token response object itself is what comes back', async (t) => {
  const res = await memoryRequest(app({ threshold: 0 }), {
    path: '/ws',
    headers: { 'accept-encoding': 'gzip', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
  });
  t.equal(res.status, 101);
  t.equal(res.escape?.situation, 'honoured');
});

t.test('passes the hatchway checklist (checkMiddleware), escape-safe', async (t) => {
  const { assertConformance } = await import('../../src/testing.ts');
  const { conformance } = await import('../../middleware/compression.ts');
  for (const entry of conformance) await assertConformance(t, entry.make(), { grade: 'escape-safe', name: entry.name });
});
