/**
 * The environ an HTTP/1.x request produces (SPEC §2).
 */
import t, { type Test } from 'tap';
import type { Environ } from '../../src/gateway/types.ts';
import { start } from '../fixtures/server.ts';
import { RawClient, curl, request } from '../fixtures/clients.ts';

/** Starts an app that records each environ and answers 200. */
async function recorder(t: Test) {
  const seen: Environ[] = [];
  const started = await start(t, (environ, startResponse) => {
    seen.push(environ);
    environ.errors.write(`note from ${environ.pathInfo}`);
    startResponse(200, []);
    return ['ok'];
  });
  return { ...started, seen };
}

/** Sends raw request bytes (the connection is closed by the server after the response). */
async function raw(t: Test, port: number, text: string): Promise<string> {
  const client = await RawClient.connect(t, port);
  client.write(text);
  await client.untilClosed();
  return client.received;
}

t.test('the target stays raw, pathInfo is decoded and queryString is not', async (t) => {
  const { port, seen } = await recorder(t);
  await raw(t, port, 'GET /a%2Fb/c%20d/%C3%A9?x=1&y=%20&z HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
  const e = seen[0]!;
  t.equal(e.target, '/a%2Fb/c%20d/%C3%A9?x=1&y=%20&z');
  t.equal(e.pathInfo, '/a/b/c d/é');
  t.equal(e.queryString, 'x=1&y=%20&z');
  t.equal(e.scriptName, '');
  t.equal(e.method, 'GET');
  t.equal(e.authority, 'example.test');
  t.equal(e.scheme, 'http');
  t.equal(e.streamId, undefined);
});

t.test('a path that does not decode is a 400 the app never sees', async (t) => {
  const { port, seen } = await recorder(t);
  for (const target of ['/%ZZ', '/bad%', '/%C3%28', '/nul%00byte']) {
    const reply = await raw(t, port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    t.match(reply, /^HTTP\/1\.1 400 /, target);
  }
  const headReply = await raw(t, port, 'HEAD /%ZZ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.match(headReply, /^HTTP\/1\.1 400 [^]*\r\n\r\n$/, 'a HEAD gets the 400 without a body');
  t.equal(seen.length, 0);
});

t.test('a target without a query has an empty queryString', async (t) => {
  const { port, seen } = await recorder(t);
  await raw(t, port, 'GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await raw(t, port, 'GET /empty? HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.equal(seen[0]!.queryString, '');
  t.equal(seen[1]!.queryString, '');
  t.equal(seen[1]!.target, '/empty?');
});

t.test('absolute-form and asterisk-form targets are split too', async (t) => {
  const { port, seen } = await recorder(t);
  await raw(t, port, 'GET http://example.test/p%20q?r=1 HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
  await raw(t, port, 'OPTIONS * HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
  t.equal(seen[0]!.target, 'http://example.test/p%20q?r=1');
  t.equal(seen[0]!.pathInfo, '/p q');
  t.equal(seen[0]!.queryString, 'r=1');
  await raw(t, port, 'GET http://example.test?only=query HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
  await raw(t, port, 'GET http://example.test HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n');
  t.equal(seen[2]!.pathInfo, '/', 'an empty path is /');
  t.equal(seen[2]!.queryString, 'only=query', 'a query right after the authority is kept');
  t.equal(seen[3]!.pathInfo, '/');
  t.equal(seen[3]!.queryString, '');
  t.equal(seen[1]!.method, 'OPTIONS');
  t.equal(seen[1]!.pathInfo, '*');
});

t.test('headers are lowercased, in order, with duplicates', async (t) => {
  const { port, seen } = await recorder(t);
  await raw(t, port, 'GET / HTTP/1.1\r\nHost: x\r\nX-Dup: 1\r\nX-Other: a\r\nx-dup: 2\r\nCookie: a=1\r\nCookie: b=2\r\nConnection: close\r\n\r\n');
  t.same(seen[0]!.headers, [
    ['host', 'x'],
    ['x-dup', '1'],
    ['x-other', 'a'],
    ['x-dup', '2'],
    ['cookie', 'a=1'],
    ['cookie', 'b=2'],
    ['connection', 'close'],
  ]);
});

t.test('the protocol is HTTP/1.1 or HTTP/1.0 as the request said', async (t) => {
  const { port, seen } = await recorder(t);
  await raw(t, port, 'GET / HTTP/1.0\r\n\r\n');
  await raw(t, port, 'GET / HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n');
  t.equal(seen[0]!.protocol, 'HTTP/1.0');
  t.equal(seen[0]!.authority, '', 'no Host, no authority');
  t.equal(seen[0]!.features.trailers, false, 'no trailers on HTTP/1.0');
  t.equal(seen[0]!.features.earlyHints, false);
  t.equal(seen[1]!.protocol, 'HTTP/1.1');
  t.equal(seen[1]!.features.trailers, true, 'TE: trailers on HTTP/1.1 means trailers reach the client');
  t.equal(seen[1]!.features.earlyHints, true);
  t.equal(seen[1]!.features.push, false);
});

t.test('remote and local addresses are the connection ends', async (t) => {
  const { url, port, seen } = await recorder(t);
  const reply = await request(url);
  const e = seen[0]!;
  t.equal(e.remoteAddress, '127.0.0.1');
  t.equal(e.remotePort, reply.localPort, "the client's port");
  t.equal(e.localAddress, '127.0.0.1');
  t.equal(e.localPort, port);
});

t.test('request ids are unique, and each error line carries one', async (t) => {
  const { url, seen, logs } = await recorder(t);
  for (let i = 0; i < 20; i++) await request(`${url}/r${i}`);
  const ids = new Set(seen.map((e) => e.requestId));
  t.equal(ids.size, 20);
  for (const e of seen) t.ok(logs.includes(`[hatchway ${e.requestId}] note from ${e.pathInfo}`), `${e.requestId} logged`);
});

t.test('the method arrives as sent, and curl -X works end to end', async (t) => {
  const { url, seen } = await recorder(t);
  for (const method of ['PATCH', 'DELETE', 'PURGE']) {
    const result = await curl(t, ['-sS', '-X', method, url]);
    t.equal(result.stdout, 'ok', method);
  }
  t.same(seen.map((e) => e.method), ['PATCH', 'DELETE', 'PURGE']);
});

t.test('environ.signal is not aborted while a request completes normally', async (t) => {
  const { url, seen } = await recorder(t);
  await request(url);
  t.equal(seen[0]!.signal.aborted, false);
});

t.test('an absolute-form target sets the authority, not the Host header', async (t) => {
  const { port, seen } = await recorder(t);
  await raw(t, port, 'GET http://user@origin.example:8080/p HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n');
  await raw(t, port, 'GET /p HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n');
  t.equal(seen[0]!.authority, 'origin.example:8080', 'RFC 9112 §3.2.2: the target wins, without userinfo');
  t.equal(seen[1]!.authority, 'other.example');
});
