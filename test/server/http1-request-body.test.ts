/**
 * Reading the request body through `environ.input` over a real HTTP/1.1 connection.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asyncApp } from '../../src/gateway/compose.ts';
import type { App, BodyReader } from '../../src/gateway/types.ts';
import { start } from '../fixtures/server.ts';
import { bodyProbe } from '../fixtures/body-probe.ts';
import { RawClient, curl, request, sleep, within } from '../fixtures/clients.ts';

/** An app that runs `handler` on the body reader and answers with what it returns as JSON. */
function probe(handler: (input: BodyReader) => Promise<unknown>): App {
  return asyncApp(async (environ, startResponse) => {
    const result = await handler(environ.input);
    startResponse(200, [['content-type', 'application/json']]);
    return [JSON.stringify(result)];
  });
}

t.test('read(n) returns at most n bytes at a time and null at the end', async (t) => {
  const { url } = await start(t, probe(async (input) => {
    const sizes: number[] = [];
    const parts: string[] = [];
    for (let chunk = await input.read(3); chunk !== null; chunk = await input.read(3)) {
      sizes.push(chunk.byteLength);
      parts.push(Buffer.from(chunk).toString());
    }
    return { sizes, text: parts.join(''), length: input.length, again: await input.read() };
  }));
  const reply = await request(url, { method: 'POST', body: 'abcdefghij' });
  const result = JSON.parse(reply.body.toString());
  t.ok(result.sizes.every((n: number) => n <= 3 && n > 0), `every read is 1–3 bytes (${result.sizes})`);
  t.equal(result.text, 'abcdefghij');
  t.equal(result.length, 10);
  t.equal(result.again, null, 'reads after the end return null');
});

t.test('text() and bytes() read the whole body', async (t) => {
  const { url } = await start(t, probe(async (input) => {
    const text = await input.text();
    return { text, rest: await input.bytes() };
  }));
  const reply = await request(url, { method: 'POST', body: 'héllo wörld' });
  t.same(JSON.parse(reply.body.toString()), { text: 'héllo wörld', rest: {} });
});

t.test('bytes(limit) refuses a declared length over the limit with a 413 before reading', async (t) => {
  let reads = 0;
  const { url } = await start(t, asyncApp(async (environ, startResponse) => {
    try {
      await environ.input.bytes(100);
    } catch (err) {
      startResponse(200, []);
      return [`${(err as { status?: number }).status} ${(err as { code?: string }).code}`];
    }
    reads++;
    startResponse(200, []);
    return ['read'];
  }));
  const reply = await request(url, { method: 'POST', body: 'x'.repeat(101) });
  t.equal(reply.body.toString(), '413 ERR_HATCHWAY_BODY_TOO_LARGE');
  const fits = await request(url, { method: 'POST', body: 'x'.repeat(100) });
  t.equal(fits.body.toString(), 'read', 'exactly the limit fits');
  t.equal(reads, 1);
});

t.test('bytes(limit) refuses a chunked body that grows over the limit with a 413', async (t) => {
  const { url } = await start(t, asyncApp(async (environ, startResponse) => {
    const body = await environ.input.bytes(1000);
    startResponse(200, []);
    return [`${body.byteLength}`];
  }));
  const reply = await request(url, { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, body: 'x'.repeat(5000) });
  t.equal(reply.status, 413, 'the HttpError becomes the response');
  t.equal(reply.body.toString(), 'request body larger than 1000 bytes\n');
  const viaCurl = await curl(t, ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Transfer-Encoding: chunked', '--data-binary', 'x'.repeat(5000), url]);
  t.equal(viaCurl.stdout, '413');
});

t.test('the body can be read by async iteration', async (t) => {
  const { url } = await start(t, probe(async (input) => {
    let total = 0;
    let count = 0;
    for await (const chunk of input) {
      total += chunk.byteLength;
      count++;
    }
    return { total, some: count > 0 };
  }));
  const reply = await request(url, { method: 'POST', body: Buffer.alloc(300_000, 7) });
  t.same(JSON.parse(reply.body.toString()), { total: 300_000, some: true });
});

t.test('a chunked request body is read to its end and has no length', async (t) => {
  const { port } = await start(t, probe(async (input) => ({ length: input.length ?? 'none', text: await input.text() })));
  const client = await RawClient.connect(t, port);
  client.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n');
  client.write('5\r\nhello\r\n');
  await sleep(20);
  client.write('6\r\n world\r\n0\r\n\r\n');
  await client.untilClosed();
  t.match(client.received, /\{"length":"none","text":"hello world"\}\r\n0\r\n\r\n$/);
});

t.test('the body ends at Content-Length, and a request without one has an empty body', async (t) => {
  const { port } = await start(t, probe(async (input) => ({ length: input.length, text: await input.text() })));
  const client = await RawClient.connect(t, port);
  client.write('POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await client.untilClosed();
  t.match(client.received, /\{"length":5,"text":"hello"\}/, 'the POST body stops at its length');
  t.match(client.received, /\{"length":0,"text":""\}\r\n0\r\n\r\n$/, 'the GET that follows has an empty body');
});

t.test('a body that arrives slowly is read as it comes, not when it is complete', async (t) => {
  const parts: string[] = [];
  const { port } = await start(t, probe(async (input) => {
    for await (const chunk of input) parts.push(Buffer.from(chunk).toString());
    return parts.join('|');
  }));
  const until = async (n: number) => {
    for (let i = 0; i < 500 && parts.length < n; i++) await sleep(10);
    return parts.length;
  };
  const client = await RawClient.connect(t, port);
  client.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nConnection: close\r\n\r\nab');
  t.equal(await until(1), 1, 'the first part is read before the rest is sent');
  client.write('cd');
  t.equal(await until(2), 2, 'the second part too');
  client.write('ef');
  await client.untilClosed();
  t.same(parts, ['ab', 'cd', 'ef']);
  t.match(client.received, /"ab\|cd\|ef"\r\n0\r\n\r\n$/);
});

t.test('a client that leaves mid-body makes the read fail with ERR_HATCHWAY_BODY_ABORTED', async (t) => {
  let failure: { status?: number; code?: string } | undefined;
  let settled!: () => void;
  const done = new Promise<void>((resolve) => (settled = resolve));
  const { port, logs } = await start(t, asyncApp(async (environ, startResponse) => {
    try {
      await environ.input.text();
    } catch (err) {
      failure = err as typeof failure;
    }
    settled();
    startResponse(200, []);
    return ['unreachable'];
  }));
  const client = await RawClient.connect(t, port);
  client.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial');
  await sleep(30);
  client.socket.destroy();
  await within(done);
  t.equal(failure?.code, 'ERR_HATCHWAY_BODY_ABORTED');
  t.equal(failure?.status, 400);
  await sleep(20);
  t.same(logs, [], 'a client going away is not a server error');
});

t.test('a body shorter than its Content-Length fails the read when the client half-closes', async (t) => {
  const probe = bodyProbe('x');
  const { port } = await start(t, probe.app);
  const client = await RawClient.connect(t, port);
  client.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort');
  await sleep(30);
  client.socket.end();
  t.equal(await within(probe.settled), 'ERR_HATCHWAY_BODY_ABORTED');
});

t.test('a large upload through curl arrives byte for byte', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hatchway-upload-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const data = Buffer.alloc(5 * 1024 * 1024);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i, i);
  const path = join(dir, 'upload.bin');
  await writeFile(path, data);
  const { url } = await start(t, asyncApp(async (environ, startResponse) => {
    const hash = createHash('sha256');
    for await (const chunk of environ.input) hash.update(chunk);
    startResponse(200, []);
    return [hash.digest('hex')];
  }));
  const result = await curl(t, ['-sS', '--data-binary', `@${path}`, url]);
  t.equal(result.code, 0);
  t.equal(result.stdout, createHash('sha256').update(data).digest('hex'));
  const chunked = await curl(t, ['-sS', '-H', 'Transfer-Encoding: chunked', '--data-binary', `@${path}`, url]);
  t.equal(chunked.stdout, createHash('sha256').update(data).digest('hex'), 'chunked too');
});

t.test('two reads waiting at once both resolve', async (t) => {
  const { port } = await start(t, probe(async (input) => {
    const [a, b] = await Promise.all([input.read(), input.read()]);
    const rest = await input.text();
    return [a, b].map((c) => (c === null ? 'null' : Buffer.from(c).toString())).sort().join('+') + `|${rest}`;
  }));
  const client = await RawClient.connect(t, port);
  client.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\n');
  await sleep(30);
  client.write('ab');
  await sleep(30);
  client.write('cd');
  t.ok(await client.untilClosed(), 'the app answers: neither read is left hanging');
  t.match(client.received, /"ab\+cd\|"/);
});
