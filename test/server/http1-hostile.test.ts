/**
 * Hostile and broken input on raw sockets: each gets a 4xx (or a closed connection), none
 * reaches the app half-parsed, and the process keeps serving.
 */
import t, { type Test } from 'tap';
import { asyncApp } from '../../src/gateway/compose.ts';
import type { App } from '../../src/gateway/types.ts';
import { start } from '../fixtures/server.ts';
import { bodyProbe } from '../fixtures/body-probe.ts';
import { RawClient, request, sleep, within } from '../fixtures/clients.ts';

const hello: App = (environ, startResponse) => {
  startResponse(200, []);
  return [`hello ${environ.pathInfo}`];
};

/** Sends `bytes` and returns everything the server answered before closing. */
async function exchange(t: Test, port: number, bytes: string): Promise<string> {
  const client = await RawClient.connect(t, port);
  client.write(bytes);
  t.ok(await client.untilClosed(), 'the server closes the connection');
  return client.received;
}

t.test('a malformed request line gets a 400 and the server keeps serving', async (t) => {
  const { port, url } = await start(t, hello);
  for (const line of ['GARBAGE', 'GET', 'GET /\x01 HTTP/1.1', 'GET / HTTP/1.1 extra', 'GET / HTTP/x.y']) {
    const reply = await exchange(t, port, `${line}\r\nHost: x\r\n\r\n`);
    t.match(reply, /^HTTP\/1\.1 400 /, JSON.stringify(line));
  }
  const after = await request(`${url}/still`);
  t.equal(after.body.toString(), 'hello /still');
});

t.test('a header block over the limit gets a 431', async (t) => {
  const { port, url } = await start(t, hello);
  const reply = await exchange(t, port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  t.match(reply, /^HTTP\/1\.1 431 /);
  const many = Array.from({ length: 2000 }, (_, i) => `X-H${i}: ${'v'.repeat(10)}`).join('\r\n');
  const manyReply = await exchange(t, port, `GET / HTTP/1.1\r\nHost: x\r\n${many}\r\n\r\n`);
  t.match(manyReply, /^HTTP\/1\.1 431 /, 'many small headers count too');
  t.equal((await request(url)).status, 200, 'the server keeps serving');
});

t.test('the header limit follows maxHeaderSize', async (t) => {
  const { port } = await start(t, hello, { maxHeaderSize: 1024 });
  const reply = await exchange(t, port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`);
  t.match(reply, /^HTTP\/1\.1 431 /);
});

t.test('request smuggling shapes are refused', async (t) => {
  let calls = 0;
  const { port } = await start(t, (environ, startResponse) => {
    calls++;
    startResponse(200, []);
    return ['x'];
  });
  const shapes = [
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde',
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked, identity\r\n\r\n0\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: x\r\n X-Folded: continued\r\n\r\n',
    'GET / HTTP/1.1\r\nHost : x\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n',
  ];
  for (const shape of shapes) {
    const reply = await exchange(t, port, shape);
    t.match(reply, /^HTTP\/1\.1 400 /, JSON.stringify(shape.split('\r\n').slice(2, 4)));
  }
  t.equal(calls, 0, 'none of them reached the app');
});

t.test('an HTTP/1.1 request without Host gets a 400', async (t) => {
  const { port } = await start(t, hello);
  const reply = await exchange(t, port, 'GET / HTTP/1.1\r\n\r\n');
  t.match(reply, /^HTTP\/1\.1 400 /);
});

t.test('garbage after a good request on a kept-alive connection gets a 400 after the good answer', async (t) => {
  const { port } = await start(t, hello);
  const client = await RawClient.connect(t, port);
  client.write('GET /good HTTP/1.1\r\nHost: x\r\n\r\n');
  t.ok(await client.until((r) => r.endsWith('hello /good')));
  client.write('NOT HTTP AT ALL\r\n\r\n');
  t.ok(await client.untilClosed());
  t.match(client.received, /^HTTP\/1\.1 200 [^]*hello \/goodHTTP\/1\.1 400 [^]*$/);
});

t.test('garbage pipelined right behind a good request closes the connection after the good answer', async (t) => {
  const { port } = await start(t, hello);
  const client = await RawClient.connect(t, port);
  client.write('GET /good HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP AT ALL\r\n\r\n');
  t.ok(await client.untilClosed());
  t.match(client.received, /^HTTP\/1\.1 200 [^]*\r\ncontent-length: 11\r\n[^]*\r\n\r\nhello \/good/i, 'the good answer is whole');
  t.notMatch(client.received, /HTTP\/1\.1 200 [^]*HTTP\/1\.1 200 /, 'nothing else is answered as a request');
});

t.test('a TLS handshake on the cleartext port is not answered as HTTP', async (t) => {
  const { port, url } = await start(t, hello);
  const reply = await exchange(t, port, '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03');
  t.notMatch(reply, /HTTP\/1\.1 200/);
  t.equal((await request(url)).status, 200, 'the server keeps serving');
});

t.test('a broken chunked request body fails the read and never crashes the server', async (t) => {
  const probe = bodyProbe('answered after a broken body');
  const { port, url } = await start(t, probe.app);
  const client = await RawClient.connect(t, port);
  client.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZZ\r\n');
  t.equal(await within(probe.settled), 'ERR_HATCHWAY_BODY_ABORTED', 'the app sees the body fail');
  t.ok(await client.untilClosed(), 'the connection closes');
  const statuses = client.received.match(/HTTP\/1\.1 \d{3}/g) ?? [];
  t.ok(statuses.length <= 1, `at most one response on the wire (${statuses.join(', ')})`);
  t.notMatch(client.received, /answered after a broken body[^]*HTTP\/1\.1/, 'nothing after the app response');
  t.equal((await request(url)).status, 200, 'the server keeps serving');
});

t.test('clients that vanish mid-request do not crash the server', async (t) => {
  const { port, url } = await start(t, asyncApp(async (environ, startResponse) => {
    await environ.input.text().catch(() => '');
    startResponse(200, []);
    return ['x'];
  }));
  const partials = [
    'GET / HT',
    'GET / HTTP/1.1\r\nHost: x\r\nX-Half: ',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc',
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc',
  ];
  for (const partial of partials) {
    const client = await RawClient.connect(t, port);
    client.write(partial);
    await sleep(20);
    client.socket.resetAndDestroy();
  }
  await sleep(50);
  t.equal((await request(url)).status, 200, 'the server keeps serving');
});
