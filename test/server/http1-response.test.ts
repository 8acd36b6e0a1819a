/**
 * The startResponse and body rules as a real HTTP/1.1 client sees them: node's http client,
 * curl, and a raw socket where the exact bytes matter.
 */
import t, { type Test } from 'tap';
import createError from 'http-errors';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileBody } from '../../src/gateway/body.ts';
import type { App, Body, HeaderList, Status } from '../../src/gateway/types.ts';
import { start } from '../fixtures/server.ts';
import { RawClient, curl, request } from '../fixtures/clients.ts';

function answer(status: Status, headers: HeaderList, makeBody: () => Body): App {
  return (_environ, startResponse) => {
    startResponse(status, headers);
    return makeBody();
  };
}

/** Sends one raw request and returns the whole reply text once the server closes. */
async function rawExchange(t: Test, port: number, head: string): Promise<string> {
  const client = await RawClient.connect(t, port);
  client.write(head);
  await client.untilClosed();
  return client.received;
}

t.test('status forms reach the client: a number, a code with a reason, a bare code', async (t) => {
  const statuses: Record<string, Status> = { '/n': 202, '/reason': '299 Very Custom', '/bare': '404' };
  const { url } = await start(t, (environ, startResponse) => {
    startResponse(statuses[environ.pathInfo]!, []);
    return ['x'];
  });
  const n = await request(`${url}/n`);
  t.equal(n.status, 202);
  t.equal(n.statusMessage, 'Accepted', 'a number gets the standard reason phrase');
  const reason = await request(`${url}/reason`);
  t.equal(reason.status, 299);
  t.equal(reason.statusMessage, 'Very Custom');
  const bare = await request(`${url}/bare`);
  t.equal(bare.status, 404);
  t.equal(bare.statusMessage, 'Not Found');
});

t.test('an invalid status becomes a 500 and is logged', async (t) => {
  const { url, logs } = await start(t, answer(99, [], () => ['x']));
  const reply = await request(url);
  t.equal(reply.status, 500);
  t.equal(reply.body.toString(), 'Internal Server Error\n');
  t.match(logs.join('\n'), /HatchwayError/);
});

t.test('a header value with CR or LF never reaches the wire', async (t) => {
  const { port } = await start(t, answer(200, [['x-test', 'a\r\nSet-Cookie: evil=1']], () => ['x']));
  const text = await rawExchange(t, port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.match(text, /^HTTP\/1\.1 500 /);
  t.notMatch(text, /evil/i);
});

t.test('header values and reasons that node:http refuses become a 500, not a crash', async (t) => {
  const routes: Record<string, [Status, HeaderList]> = {
    '/ctl': [200, [['x-ctl', 'a\x01b']]],
    '/wide': [200, [['x-wide', 'price: 5 €']]],
    '/reason': ['200 Très bien €', []],
  };
  const { url, logs } = await start(t, (environ, startResponse) => {
    const [status, headers] = routes[environ.pathInfo]!;
    startResponse(status, headers);
    return ['ok'];
  });
  for (const path of Object.keys(routes)) {
    const reply = await request(`${url}${path}`);
    t.equal(reply.status, 500, `${path}: a 500`);
    t.equal(reply.error, undefined, `${path}: a complete response`);
  }
  t.ok(logs.length >= 3, 'each refusal is logged');
  const after = await request(`${url}/ctl`);
  t.equal(after.status, 500, 'the server is still up');
});

t.test('a refused head on a streamed body becomes a 500 too', async (t) => {
  const { url } = await start(t, answer(200, [['x-wide', '€']], () => (async function* () { yield 'a'; yield 'b'; })()));
  const reply = await request(url);
  t.equal(reply.status, 500);
  t.equal(reply.error, undefined);
});

t.test('arrays and single-chunk sync bodies get a Content-Length, streams are chunked', async (t) => {
  const bodies: Record<string, () => Body> = {
    '/array': () => ['ab', 'cd'],
    '/one': () => (function* () { yield 'abcd'; })(),
    '/two': () => (function* () { yield 'ab'; yield 'cd'; })(),
    '/async': () => (async function* () { yield 'ab'; yield 'cd'; })(),
    '/bytes': () => [new Uint8Array([0x61, 0x62, 0x63, 0x64])],
  };
  const { url } = await start(t, (environ, startResponse) => {
    startResponse(200, []);
    return bodies[environ.pathInfo]!();
  });
  for (const [path, cl] of [['/array', '4'], ['/one', '4'], ['/bytes', '4']]) {
    const reply = await request(`${url}${path}`);
    t.equal(reply.headers['content-length'], cl, `${path}: Content-Length`);
    t.equal(reply.headers['transfer-encoding'], undefined, `${path}: not chunked`);
    t.equal(reply.body.toString(), path === '/bytes' ? 'abcd' : 'abcd');
  }
  for (const path of ['/two', '/async']) {
    const reply = await request(`${url}${path}`);
    t.equal(reply.headers['content-length'], undefined, `${path}: no Content-Length`);
    t.equal(reply.headers['transfer-encoding'], 'chunked', `${path}: chunked`);
    t.equal(reply.body.toString(), 'abcd');
  }
});

t.test('strings go out as UTF-8', async (t) => {
  const { url } = await start(t, answer(200, [['content-type', 'text/plain; charset=utf-8']], () => ['héllo ', '€']));
  const reply = await request(url);
  t.equal(reply.headers['content-length'], '10');
  t.equal(reply.body.toString('utf8'), 'héllo €');
});

t.test('an error before the first non-empty chunk becomes an error response', async (t) => {
  const { url, logs } = await start(t, answer(200, [['x-app', '1']], () =>
    (async function* () {
      yield '';
      throw new Error('before the commit');
    })(),
  ));
  const reply = await request(url);
  t.equal(reply.status, 500);
  t.equal(reply.headers['x-app'], undefined);
  t.equal(reply.body.toString(), 'Internal Server Error\n');
  t.match(logs.join('\n'), 'before the commit');
});

t.test('an error after the first chunk aborts the connection: node sees an aborted response', async (t) => {
  const { url, logs } = await start(t, answer(200, [], () =>
    (async function* () {
      yield 'partial;';
      await new Promise((resolve) => setTimeout(resolve, 20));
      throw new Error('after the commit');
    })(),
  ));
  const reply = await request(url);
  t.equal(reply.status, 200, 'the head was out');
  t.equal(reply.complete, false);
  t.ok(reply.error === 'aborted' || reply.error === 'ECONNRESET', `the client sees a failure (${reply.error})`);
  t.match(logs.join('\n'), 'after the commit');
});

t.test('an error after the first chunk aborts the connection: curl fails with a partial transfer', async (t) => {
  const { url } = await start(t, answer(200, [], () =>
    (async function* () {
      yield 'partial;';
      await new Promise((resolve) => setTimeout(resolve, 20));
      throw new Error('after the commit');
    })(),
  ));
  const result = await curl(t, ['-sS', url]);
  t.equal(result.code, 18, 'curl: transfer closed with outstanding read data');
  t.equal(result.stdout, 'partial;');
});

t.test('a declared Content-Length the body does not match is a 500 before the commit', async (t) => {
  const { url } = await start(t, answer(200, [['content-length', '100']], () => ['short']));
  const reply = await request(url);
  t.equal(reply.status, 500);
  t.equal(reply.error, undefined);
});

t.test('a declared Content-Length the stream falls short of aborts after the commit', async (t) => {
  const { url } = await start(t, answer(200, [['content-length', '100']], () => (async function* () { yield 'short'; yield 'er'; })()));
  const result = await curl(t, ['-sS', url]);
  t.equal(result.code, 18, 'curl: partial file');
  t.equal(result.stdout, 'shorter');
  const reply = await request(url);
  t.equal(reply.status, 200);
  t.not(reply.error, undefined, 'node: the response fails');
});

t.test('a stream that overruns its declared Content-Length is cut off at the declared length', async (t) => {
  const { url } = await start(t, answer(200, [['content-length', '6']], () => (async function* () { yield 'abc'; yield 'defghi'; })()));
  const result = await curl(t, ['-sS', url]);
  t.equal(result.code, 18);
  t.equal(result.stdout, 'abc', 'never more than declared');
});

t.test('a fileBody sends a whole file and a byte range', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hatchway-h1-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'data.bin');
  const data = Buffer.alloc(300_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
  await writeFile(path, data);
  const { url } = await start(t, (environ, startResponse) => {
    if (environ.pathInfo === '/range') {
      startResponse(206, [['content-range', `bytes 1000-1999/${data.length}`]]);
      return fileBody(path, { start: 1000, end: 1999 });
    }
    startResponse(200, [['content-type', 'application/octet-stream']]);
    return fileBody(path);
  });
  const whole = await request(`${url}/whole`);
  t.equal(whole.headers['content-length'], String(data.length));
  t.ok(whole.body.equals(data), 'the bytes are the file');
  const range = await request(`${url}/range`);
  t.equal(range.status, 206);
  t.equal(range.headers['content-length'], '1000');
  t.ok(range.body.equals(data.subarray(1000, 2000)), 'the bytes are the range');
  const viaCurl = await curl(t, ['-sS', '-o', '/dev/null', '-w', '%{size_download} %{http_code}', `${url}/range`]);
  t.equal(viaCurl.code, 0);
  t.equal(viaCurl.stdout, '1000 206');
  const head = await curl(t, ['-sS', '-I', `${url}/whole`]);
  t.match(head.stdout, new RegExp(`content-length: ${data.length}\\r\\n`, 'i'), 'HEAD of a file has its length');
});

t.test('HEAD gets the headers and Content-Length but no body, and the connection stays usable', async (t) => {
  const { port } = await start(t, answer(200, [['content-type', 'text/plain']], () => ['hello world']));
  const client = await RawClient.connect(t, port);
  client.write('HEAD / HTTP/1.1\r\nHost: x\r\n\r\n');
  t.ok(await client.until((r) => r.includes('\r\n\r\n')));
  t.match(client.received, /\r\ncontent-length: 11\r\n/i);
  client.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await client.untilClosed();
  const [headReply, getReply] = client.received.split(/(?=HTTP\/1\.1 )/);
  t.match(headReply, /\r\n\r\n$/, 'the HEAD reply ends at its head');
  t.match(getReply, /\r\n\r\nhello world$/, 'the next reply follows directly');
  const viaCurl = await curl(t, ['-sS', '-I', `http://127.0.0.1:${port}/`]);
  t.equal(viaCurl.code, 0);
  t.match(viaCurl.stdout, /content-length: 11/i);
});

t.test('204 and 304 carry no Content-Length and no body', async (t) => {
  const { port } = await start(t, (environ, startResponse) => {
    startResponse(environ.pathInfo === '/204' ? 204 : 304, [['etag', '"v1"']]);
    return environ.queryString === 'stream' ? (async function* () { yield 'ignored'; })() : [];
  });
  for (const target of ['/204', '/304', '/204?stream', '/304?stream']) {
    const text = await rawExchange(t, port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    t.match(text, /^HTTP\/1\.1 (204|304) /, target);
    t.notMatch(text, /content-length/i, `${target}: no Content-Length`);
    t.notMatch(text, /transfer-encoding/i, `${target}: no Transfer-Encoding`);
    t.match(text, /\r\n\r\n$/, `${target}: no body`);
  }
});

t.test('an HttpError keeps its status and exposed message', async (t) => {
  const { url, logs } = await start(t, () => {
    throw createError(404, 'nope');
  });
  const reply = await request(url);
  t.equal(reply.status, 404);
  t.equal(reply.body.toString(), 'nope\n');
  t.equal(reply.headers['x-content-type-options'], 'nosniff');
  t.same(logs, [], 'a 4xx is not logged');
});

t.test('a 5xx HttpError has a generic message', async (t) => {
  const { url, logs } = await start(t, () => {
    throw createError(503);
  });
  const reply = await request(url);
  t.equal(reply.status, 503);
  t.equal(reply.body.toString(), 'Service Unavailable\n');
  t.equal(logs.length > 0, true, 'a 5xx is logged');
});

t.test('a plain Error is a 500 with no stack in the body, and the stack goes to the log', async (t) => {
  const { url, logs } = await start(t, () => {
    throw new TypeError('cannot read the secret');
  });
  const reply = await request(url);
  t.equal(reply.status, 500);
  t.equal(reply.body.toString(), 'Internal Server Error\n');
  t.notMatch(reply.body.toString(), /secret|at |\.ts/);
  const log = logs.join('\n');
  t.match(log, 'TypeError: cannot read the secret');
  t.match(log, /http1-response\.test\.ts/, 'the stack is logged');
  t.match(log, /^\[hatchway [0-9a-f]+-\w+\] /, 'each line names the request');
});

t.test('an HttpError after the commit aborts the response like any other error', async (t) => {
  const { url } = await start(t, answer(200, [], () =>
    (async function* () {
      yield 'partial';
      await new Promise((resolve) => setTimeout(resolve, 20));
      throw createError(404, 'too late');
    })(),
  ));
  const reply = await request(url);
  t.equal(reply.status, 200);
  t.not(reply.error, undefined);
  t.notMatch(reply.body.toString(), 'too late');
});

t.test('startResponse misuse becomes a 500 on the wire, and allowed forms go out', async (t) => {
  const apps: Record<string, App> = {
    '/twice': (_environ, startResponse) => {
      startResponse(200, []);
      startResponse(201, []);
      return ['never'];
    },
    '/no-start': () => ['never'],
    '/bad-name': answer(200, [['bad name', 'x']], () => ['never']),
    '/hop': answer(200, [['Transfer-Encoding', 'chunked']], () => ['never']),
    '/upgrade-200': answer(200, [['upgrade', 'h2c']], () => ['never']),
    '/bad-length': answer(200, [['content-length', '1e3']], () => ['never']),
    '/upgrade-426': answer(426, [['upgrade', 'websocket']], () => ['use websockets']),
    '/replaced': (_environ, startResponse) => {
      startResponse(200, [['x-original', '1']]);
      return (function* () {
        yield '';
        startResponse('503 Try Later', [['retry-after', '5']], new Error('backend down'));
        yield 'replaced';
      })();
    },
  };
  const { url, logs } = await start(t, (environ, startResponse) => apps[environ.pathInfo]!(environ, startResponse));
  for (const path of ['/twice', '/no-start', '/bad-name', '/hop', '/upgrade-200', '/bad-length']) {
    const reply = await request(`${url}${path}`);
    t.equal(reply.status, 500, `${path}: 500`);
    t.notMatch(reply.body.toString(), 'never', `${path}: the app body is not sent`);
  }
  t.equal(logs.filter((l) => /HatchwayError/.test(l)).length, 6, 'each misuse is logged');
  const upgrade = await request(`${url}/upgrade-426`);
  t.equal(upgrade.status, 426);
  t.equal(upgrade.headers.upgrade, 'websocket', 'upgrade goes out on a 426');
  const replaced = await request(`${url}/replaced`);
  t.equal(replaced.status, 503);
  t.equal(replaced.statusMessage, 'Try Later');
  t.equal(replaced.headers['retry-after'], '5');
  t.equal(replaced.headers['x-original'], undefined);
  t.equal(replaced.body.toString(), 'replaced');
});
