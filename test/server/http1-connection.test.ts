/**
 * HTTP/1.1 connection behaviour: keep-alive reuse, `Expect: 100-continue`, and a connection
 * that stays usable after a request body was left unread or half read.
 */
import t from 'tap';
import { Agent } from 'node:http';
import { asyncApp } from '../../src/gateway/compose.ts';
import type { App } from '../../src/gateway/types.ts';
import { start } from '../fixtures/server.ts';
import { RawClient, curl, request } from '../fixtures/clients.ts';

/** Splits raw replies into their status lines. */
function statusLines(received: string): string[] {
  return received.match(/HTTP\/1\.1 \d{3}[^\r]*/g) ?? [];
}

t.test('two requests through a keep-alive agent reuse one socket', async (t) => {
  const remotePorts: number[] = [];
  const { url } = await start(t, (environ, startResponse) => {
    remotePorts.push(environ.remotePort);
    startResponse(200, []);
    return [`request ${remotePorts.length}`];
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const first = await request(url, { agent });
  const second = await request(url, { agent });
  t.equal(first.body.toString(), 'request 1');
  t.equal(second.body.toString(), 'request 2');
  t.equal(first.headers.connection, 'keep-alive');
  t.ok(first.localPort !== undefined && first.localPort === second.localPort, 'the client used the same local port');
  t.equal(remotePorts[0], remotePorts[1], 'the server saw one connection');
});

t.test('pipelined requests on one socket are answered in order', async (t) => {
  const { port } = await start(t, asyncApp(async (environ, startResponse) => {
    // The first request answers last: order must still hold.
    await new Promise((resolve) => setTimeout(resolve, environ.pathInfo === '/1' ? 50 : 0));
    startResponse(200, []);
    return [environ.pathInfo];
  }));
  const client = await RawClient.connect(t, port);
  client.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await client.untilClosed();
  const bodies = client.received.match(/\r\n\r\n(?:[0-9a-f]+\r\n)?(\/\d)/g)?.map((m) => m.slice(-2));
  t.same(bodies, ['/1', '/2', '/3']);
});

t.test('Expect: 100-continue gets no 100 when the app answers without reading', async (t) => {
  let reads = 0;
  const { port } = await start(t, (environ, startResponse) => {
    if (environ.headers.some(([n]) => n === 'authorization')) reads++;
    startResponse(401, [['www-authenticate', 'Basic']]);
    return ['who are you'];
  });
  const client = await RawClient.connect(t, port);
  client.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
  t.ok(await client.until((r) => r.includes('who are you')), 'the final response arrives');
  t.notMatch(client.received, /100 Continue/, 'no 100 Continue');
  t.match(client.received, /^HTTP\/1\.1 401 /);
  t.match(client.received, /\r\nconnection: close\r\n/i, 'the unread body means the connection closes');
  t.ok(await client.untilClosed(), 'and it does');
  t.equal(reads, 0);
});

t.test('Expect: 100-continue gets a 100 when the app reads, then the response', async (t) => {
  const { port } = await start(t, asyncApp(async (environ, startResponse) => {
    const text = await environ.input.text(1024);
    startResponse(200, []);
    return [`got ${text}`];
  }));
  const client = await RawClient.connect(t, port);
  client.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
  t.ok(await client.until((r) => r.includes('\r\n\r\n')), 'something arrives before the body is sent');
  t.match(client.received, /^HTTP\/1\.1 100 Continue\r\n\r\n$/, 'it is exactly a 100 Continue');
  client.write('hello');
  t.ok(await client.until((r) => r.includes('got hello')));
  t.same(statusLines(client.received), ['HTTP/1.1 100 Continue', 'HTTP/1.1 200 OK']);
});

t.test('Expect: 100-continue after the response head went out never puts a 100 in the body', async (t) => {
  const { port } = await start(t, (environ, startResponse) => {
    startResponse(200, []);
    return (async function* () {
      yield 'head is out;';
      yield `read ${await environ.input.text(1024)}`;
    })();
  });
  const client = await RawClient.connect(t, port);
  client.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
  t.ok(await client.until((r) => r.includes('head is out;')));
  client.write('hello');
  t.ok(await client.until((r) => r.includes('read hello')));
  t.same(statusLines(client.received), ['HTTP/1.1 200 OK'], 'one status line, no 100 after the final head');
});

t.test('curl sends its body after the 100 Continue', async (t) => {
  const { url } = await start(t, asyncApp(async (environ, startResponse) => {
    const bytes = await environ.input.bytes(1 << 20);
    startResponse(200, []);
    return [`${bytes.byteLength}`];
  }));
  const result = await curl(t, ['-sv', '-H', 'Expect: 100-continue', '--data-binary', 'x'.repeat(2000), url]);
  t.equal(result.code, 0);
  t.equal(result.stdout, '2000');
  t.match(result.stderr, /< HTTP\/1\.1 100 Continue/);
});

t.test('an unread request body does not break the next request on the connection', async (t) => {
  const { port } = await start(t, (environ, startResponse) => {
    startResponse(200, []);
    return [`${environ.method} ${environ.pathInfo}`];
  });
  const client = await RawClient.connect(t, port);
  client.write(`POST /ignored HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(100_000)}`);
  client.write('GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await client.untilClosed();
  t.match(client.received, /POST \/ignored/);
  t.match(client.received, /GET \/next/);
});

t.test('a body the app stopped reading part-way does not stall the connection', async (t) => {
  const { port } = await start(t, asyncApp(async (environ, startResponse) => {
    if (environ.method === 'POST') await environ.input.bytes(10); // throws a 413 after a read or two
    startResponse(200, []);
    return [`${environ.method} ${environ.pathInfo}`];
  }));
  for (const size of [100, 5_000_000]) {
    const client = await RawClient.connect(t, port);
    const start = client.until((r) => /\r\n\r\nrequest body larger/.test(r));
    client.write(`POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${size.toString(16)}\r\n`);
    client.write('x'.repeat(size));
    client.write('\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    t.ok(await start, `${size}: the 413 arrives`);
    t.match(client.received, /^HTTP\/1\.1 413 /, `${size}: 413`);
    const next = await client.until((r) => r.includes('GET /next'), 5_000);
    t.ok(next, `${size}: the next request on the connection is answered`);
    t.ok(await client.untilClosed(), `${size}: then the connection closes as asked`);
  }
});

t.test('HTTP/1.0 requests get a response that closes the connection', async (t) => {
  const app: App = (environ, startResponse) => {
    startResponse(200, []);
    return (async function* () {
      yield environ.protocol;
      yield '!';
    })();
  };
  const { port } = await start(t, app);
  const client = await RawClient.connect(t, port);
  client.write('GET / HTTP/1.0\r\n\r\n');
  t.ok(await client.untilClosed(), 'the server closes after the response');
  t.match(client.received, /^HTTP\/1\.1 200 /);
  t.notMatch(client.received, /transfer-encoding/i, 'no chunked framing for HTTP/1.0');
  t.match(client.received, /\r\n\r\nHTTP\/1\.0!$/);
});
