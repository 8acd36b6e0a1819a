import t from 'tap';
import { responseHead, splitRequestHead, trailerFields } from '../../src/protocol/http2-headers.ts';

t.test('pseudo-headers leave the header list; host comes first from :authority', async (t) => {
  const head = splitRequestHead([':method', 'GET', ':path', '/a?b', ':scheme', 'https', ':authority', 'example.com', 'accept', '*/*', 'x-a', '1', 'x-a', '2']);
  t.equal(head.method, 'GET');
  t.equal(head.path, '/a?b');
  t.equal(head.authority, 'example.com');
  t.equal(head.protocol, undefined);
  t.same(head.headers, [['host', 'example.com'], ['accept', '*/*'], ['x-a', '1'], ['x-a', '2']]);
  t.notOk(head.authorityMismatch);
});

t.test('the header list size counts 32 octets per field (RFC 9113 §6.5.2)', async (t) => {
  const head = splitRequestHead([':method', 'GET', 'ab', 'cde']);
  t.equal(head.size, 7 + 3 + 32 + 2 + 3 + 32);
});

t.test('cookie crumbs are joined with "; " where the first one was (RFC 9113 §8.2.3)', async (t) => {
  const head = splitRequestHead([':method', 'GET', ':path', '/', ':authority', 'h', 'cookie', 'a=1', 'accept', 'x', 'cookie', 'b=2', 'cookie', 'c=3']);
  t.same(head.headers, [['host', 'h'], ['cookie', 'a=1; b=2; c=3'], ['accept', 'x']]);
});

t.test('host stands in for a missing :authority; a contradicting host is flagged', async (t) => {
  const only = splitRequestHead([':method', 'GET', ':path', '/', 'host', 'h.example']);
  t.equal(only.authority, 'h.example');
  t.same(only.headers, [['host', 'h.example']]);
  const same = splitRequestHead([':method', 'GET', ':path', '/', ':authority', 'H.example', 'host', 'h.example']);
  t.notOk(same.authorityMismatch);
  t.same(same.headers, [['host', 'h.example']]);
  t.ok(splitRequestHead([':method', 'GET', ':path', '/', ':authority', 'a.example', 'host', 'b.example']).authorityMismatch);
  t.equal(splitRequestHead([':method', 'GET', ':path', '/']).authority, undefined);
});

t.test('content-length, expect and :protocol are read', async (t) => {
  const head = splitRequestHead([':method', 'CONNECT', ':protocol', 'websocket', ':path', '/chat', ':authority', 'h', 'content-length', '5', 'expect', '100-Continue']);
  t.equal(head.protocol, 'websocket');
  t.equal(head.contentLength, '5');
  t.ok(head.expectContinue);
});

t.test('a response head drops connection-specific fields and lowercases names', async (t) => {
  const raw = responseHead(426, [['Upgrade', 'websocket'], ['Connection', 'upgrade'], ['Keep-Alive', 'timeout=5'], ['Transfer-Encoding', 'chunked'], ['TE', 'trailers'], ['X-Ok', 'yes']], undefined);
  t.same(raw, [':status', '426', 'x-ok', 'yes']);
});

t.test('a response head keeps order and repeats, adds content-length, and keeps the first of a single-value field', async (t) => {
  t.same(responseHead(200, [['set-cookie', 'a=1'], ['content-type', 'text/plain'], ['set-cookie', 'b=2'], ['Content-Type', 'text/html']], 12), [
    ':status', '200', 'set-cookie', 'a=1', 'content-type', 'text/plain', 'set-cookie', 'b=2', 'content-length', '12',
  ]);
  t.same(responseHead(200, [['content-length', '3']], 12), [':status', '200', 'content-length', '3']);
});

t.test('trailer fields become an object; repeats become arrays', async (t) => {
  t.same(trailerFields([['Grpc-Status', '0'], ['x-t', '1'], ['x-t', '2'], ['connection', 'close'], ['etag', '"a"'], ['etag', '"b"']]), { 'grpc-status': '0', 'x-t': ['1', '2'], etag: '"b"' }, 'a repeated single-value trailer: the last value wins');
});
