/**
 * fromNodeListener / toNodeListener: the Node objects a listener gets are Node's own, the
 * response streams with backpressure, the events keep their meaning, and a hatchway app runs
 * inside a foreign node:http or node:http2 server.
 */
import { IncomingMessage, ServerResponse, request as httpRequest, type RequestListener } from 'node:http';
import { connect as http2Connect, constants as h2, createServer as createH2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { compose, run, type App, type Environ } from '../../src/index.ts';
import { fromNodeListener, toNodeListener } from '../../adapters/node.ts';
import { compareAll, listenHatchway, listenNative, send, until, readReleasing } from './side-by-side.ts';
import { MemorySink, memoryEnviron } from '../fixtures/memory-sink.ts';

t.test('plain listeners answer the same natively and through hatchway', async (t) => {
  const listener: RequestListener = (req, res) => {
    switch (req.url) {
      case '/end':
        res.end('hello'); // Node adds Content-Length
        return;
      case '/array-head':
        res.writeHead(201, 'Made It', ['Set-Cookie', 'a=1', 'X-Order', 'first', 'Set-Cookie', 'b=2', 'X-Order', 'second']);
        res.end('ok');
        return;
      case '/progressive':
        res.statusCode = 202;
        res.setHeader('X-One', '1');
        res.setHeader('Set-Cookie', ['c=3', 'd=4']);
        res.appendHeader('X-One', 'again');
        res.removeHeader('x-powered-by');
        res.write('part 1, ');
        res.end('part 2');
        return;
      case '/chunked-explicit':
        res.setHeader('Transfer-Encoding', 'chunked');
        res.write('a');
        res.end('b');
        return;
      case '/empty':
        res.end();
        return;
      case '/latin1':
        res.setHeader('Content-Type', 'text/plain; charset=latin1');
        res.end('caf\u00e9', 'latin1');
        return;
      case '/hex':
        res.write('68656c6c6f', 'hex');
        res.end();
        return;
      case '/not-modified':
        res.statusCode = 304;
        res.setHeader('ETag', '"x"');
        res.end('ignored');
        return;
      default:
        res.statusCode = 404;
        res.end(`${req.method} ${req.url} ${req.headers['x-test'] ?? ''}`);
    }
  };
  const native = await listenNative(t, listener);
  const hatch = await listenHatchway(t, fromNodeListener(listener));
  await compareAll(t, native.url, hatch.url, [
    { name: 'end(data) gets a Content-Length', path: '/end' },
    {
      name: 'HEAD drops the body',
      method: 'HEAD',
      path: '/end',
    },
    { name: 'writeHead with a flat array: order, duplicates, reason', path: '/array-head' },
    { name: 'setHeader/appendHeader/write/end', path: '/progressive' },
    { name: 'an explicit Transfer-Encoding', path: '/chunked-explicit' },
    { name: 'end() with no data', path: '/empty' },
    { name: 'a latin1 string', path: '/latin1' },
    { name: 'a hex string', path: '/hex' },
    { name: 'a 304 drops the body', path: '/not-modified' },
    { name: 'request line and headers', method: 'DELETE', path: '/x/%7Ey?q=1&q=2', headers: { 'x-test': 'yes' } },
  ]);
});

t.test('the listener gets a real IncomingMessage and ServerResponse', async (t) => {
  let seen: { req: IncomingMessage; res: ServerResponse } | undefined;
  const { url, port } = await (async () => {
    const h = await listenHatchway(t, fromNodeListener((req, res) => {
      seen = { req, res };
      res.end('x');
    }));
    return { url: h.url, port: Number(new URL(h.url).port) };
  })();
  await send(url, '/p?q=1', { headers: { 'x-a': '1', 'X-B': '2' } });
  t.ok(seen);
  const { req, res } = seen!;
  t.ok(req instanceof IncomingMessage, 'req is an IncomingMessage');
  t.ok(res instanceof ServerResponse, 'res is a ServerResponse');
  t.equal(res.req, req, 'res.req');
  t.equal(req.url, '/p?q=1');
  t.equal(req.method, 'GET');
  t.equal(req.httpVersion, '1.1');
  t.equal(req.httpVersionMajor, 1);
  t.equal(req.headers['x-a'], '1');
  t.equal(req.headers['x-b'], '2');
  t.equal(req.headers.host, `127.0.0.1:${port}`);
  t.same(req.rawHeaders.slice(0, 2), ['x-a', '1'], 'rawHeaders in order (names lowercased)');
  t.equal(req.socket.remoteAddress, '127.0.0.1');
  t.equal(req.connection, req.socket);
  t.equal(req.socket.localPort, port);
  t.notOk((req.socket as { encrypted?: boolean }).encrypted, 'not encrypted over cleartext');
  t.ok(res.headersSent);
  t.ok(res.finished);
  t.ok(res.writableEnded);
  t.ok(await until(() => res.writableFinished), 'writableFinished once the runner took the last chunk');
});

t.test('the response streams: the first chunk reaches the client before the listener ends', async (t) => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const { url } = await listenHatchway(t, fromNodeListener(async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first;');
    await released; // only the client can release us, after it has seen the first chunk
    res.end('last');
  }));
  const body = await readReleasing(`${url}/`, 'first;', release);
  t.equal(body, 'first;last');
});

t.test("write() returns false past the high-water mark and 'drain' follows", async (t) => {
  const chunk = Buffer.alloc(64 * 1024, 'z');
  const record = { falses: 0, drains: 0, writes: 0 };
  const { url } = await listenHatchway(t, fromNodeListener(async (_req, res) => {
    res.on('drain', () => record.drains++);
    for (let i = 0; i < 32; i++) {
      record.writes++;
      if (!res.write(chunk)) {
        record.falses++;
        t.ok(res.writableNeedDrain, 'writableNeedDrain while waiting');
        await new Promise((resolve) => res.once('drain', resolve));
      }
    }
    res.end();
  }));
  const reply = await send(url, '/');
  t.equal(reply.body.length, 32 * chunk.length, 'every byte arrived');
  t.equal(record.falses, 32, 'a 64 KiB write is past the 16 KiB mark every time');
  t.equal(record.drains, 32, "'drain' after each");
});

t.test("'finish' then 'close', write callbacks, end callback — in node:http's order", async (t) => {
  const run = async (host: (listener: RequestListener) => Promise<string>): Promise<string[]> => {
    const events: string[] = [];
    const url = await host((_req, res) => {
      res.on('finish', () => events.push('finish'));
      res.on('close', () => events.push('close'));
      res.write('a', () => events.push('write callback'));
      res.end('b', () => events.push('end callback'));
      events.push('end returned');
    });
    const reply = await send(url, '/');
    t.equal(reply.body.toString(), 'ab');
    t.ok(await until(() => events.includes('close')));
    return events;
  };
  const native = await run(async (listener) => (await listenNative(t, listener)).url);
  const hatch = await run(async (listener) => (await listenHatchway(t, fromNodeListener(listener))).url);
  // Node 24 runs the end callback before 'finish', Node 22 after it: the same as node:http on each.
  t.same(hatch, native);
  t.ok(native.indexOf('finish') < native.indexOf('close'));
});

t.test('a listener that ends its response before returning is sent whole, in one write with its length', async (t) => {
  const events: string[] = [];
  const app = fromNodeListener((req, res) => {
    events.push('listener');
    res.on('finish', () => events.push('finish'));
    res.on('close', () => events.push('close'));
    if (req.url === '/stream') res.write('a');
    res.end(req.url === '/stream' ? 'b' : 'whole');
  });
  const { environ } = memoryEnviron('GET', '/');
  const body = app(environ, () => {});
  t.same(events, ['listener'], 'the listener ran when the app was called');
  t.ok(Array.isArray(body), 'the body is the array of its chunks');
  t.same([...(body as string[])], ['whole']);

  const sink = new MemorySink();
  await run(app, memoryEnviron('GET', '/').environ, sink);
  t.same(sink.calls, ['head', 'end'], 'head and body in one end()');
  t.equal(sink.header('content-length'), '5', 'the length Node would have sent');
  t.ok(await until(() => events.includes('close')));
  t.same(events.slice(-2), ['finish', 'close'], "'finish' once the runner took it, then 'close'");

  // Written in two calls without a length: as on node:http, the server frames a streamed body.
  const streamed = new MemorySink();
  await run(app, memoryEnviron('GET', '/stream').environ, streamed);
  t.same(streamed.calls, ['head', 'write', 'write', 'end']);
  t.equal(streamed.header('content-length'), undefined);
  t.equal(streamed.text, 'ab');
});

t.test('the request body streams from environ.input', async (t) => {
  const { url } = await listenHatchway(t, fromNodeListener((req, res) => {
    res.setHeader('content-type', 'application/octet-stream');
    req.pipe(res);
    req.on('end', () => t.ok(req.complete, 'complete at end'));
  }));
  const body = Buffer.alloc(300_000, 'q');
  const reply = await send(url, '/', { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
  t.ok(reply.body.equals(body), 'echoed byte for byte');
  const chunked = await send(url, '/', { method: 'PUT', body: 'small', headers: { 'transfer-encoding': 'chunked' } });
  t.equal(chunked.body.toString(), 'small');
});

t.test('Expect: 100-continue is answered when the listener reads the body', async (t) => {
  const { url } = await listenHatchway(t, fromNodeListener((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => res.end(String(n)));
  }));
  const got = await new Promise<{ continued: boolean; body: string }>((resolve, reject) => {
    let continued = false;
    const req = httpRequest(`${url}/`, { method: 'POST', agent: false, headers: { expect: '100-continue', 'content-length': '4' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c));
      res.on('end', () => resolve({ continued, body: text }));
    });
    req.on('continue', () => {
      continued = true;
      req.end('abcd');
    });
    req.on('error', reject);
  });
  t.same(got, { continued: true, body: '4' });
});

t.test("a client that goes away: req 'aborted', res 'close' without 'finish'", async (t) => {
  const events: string[] = [];
  let closed!: () => void;
  const done = new Promise<void>((resolve) => (closed = resolve));
  const { url } = await listenHatchway(t, fromNodeListener((req, res) => {
    req.on('aborted', () => events.push('req aborted'));
    req.on('close', () => events.push('req close'));
    res.on('finish', () => events.push('res finish'));
    res.on('close', () => {
      events.push('res close');
      closed();
    });
    res.write('streaming forever…');
  }));
  await new Promise<void>((resolve) => {
    const req = httpRequest(`${url}/`, { agent: false }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => {});
    req.end();
  });
  await done;
  t.ok(events.includes('res close'), "res 'close'");
  t.notOk(events.includes('res finish'), "no 'finish'");
  t.ok(await until(() => events.includes('req close')), "req 'close'");
});

t.test('failures: a throw before writing is a 500; destroy() after the head aborts', async (t) => {
  const { url, logs } = await listenHatchway(t, fromNodeListener((req, res) => {
    if (req.url === '/throw') throw new Error('listener broke');
    if (req.url === '/reject') return Promise.reject(new Error('async listener broke'));
    res.write('partial');
    setImmediate(() => res.destroy());
    return undefined;
  }));
  t.equal((await send(url, '/throw')).status, 500);
  t.equal((await send(url, '/reject')).status, 500);
  await t.rejects(send(url, '/destroy'), 'the client sees a broken response, not a complete one');
  t.ok(logs.some((l) => l.includes('listener broke')), 'the error went to the error stream');
});

t.test('a listener that fails after it ended its response: the response stands, the error is logged', async (t) => {
  const { url, logs } = await listenHatchway(t, fromNodeListener(async (_req, res) => {
    res.end('done');
    await null;
    throw new Error('failed after the end');
  }));
  const reply = await send(url, '/');
  t.equal(reply.status, 200);
  t.equal(reply.body.toString(), 'done');
  t.ok(await until(() => logs.some((l) => l.includes('failed after the end'))), 'the error went to the error stream');
});

t.test('startResponse is called at writeHead, before the listener writes', async (t) => {
  const order: string[] = [];
  const spy = (app: App): App => (environ, startResponse) =>
    app(environ, (status, headers, excInfo) => {
      order.push(`startResponse ${status}`);
      startResponse(status, headers, excInfo);
    });
  const { url } = await listenHatchway(t, compose(spy)(fromNodeListener((_req, res) => {
    res.writeHead(201);
    order.push('writeHead returned');
    res.end();
  })));
  t.equal((await send(url, '/')).status, 201);
  t.same(order, ['startResponse 201', 'writeHead returned'], "Node's default reason is sent as a bare number");
});

t.test('connection-level headers a listener sets are dropped, not sent', async (t) => {
  const { url, logs } = await listenHatchway(t, fromNodeListener((_req, res) => {
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('Keep-Alive', 'timeout=99');
    res.setHeader('X-Kept', 'yes');
    res.end('ok');
  }));
  const reply = await send(url, '/');
  t.equal(reply.status, 200);
  t.equal(reply.headers['x-kept'], 'yes');
  t.not(reply.headers['keep-alive'], 'timeout=99');
  t.same(logs, []);
});

t.test('toNodeListener: a hatchway app inside node:http', async (t) => {
  let environ: Environ | undefined;
  const app: App = (env, startResponse) => {
    environ = env;
    startResponse(200, [['content-type', 'text/plain'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
    return (async function* () {
      yield `${env.method} ${env.pathInfo}?${env.queryString} `;
      yield await env.input.text();
    })();
  };
  const { url } = await listenNative(t, toNodeListener(app));
  const reply = await send(url, '/a%20b?c=d', { method: 'POST', body: 'payload' });
  t.equal(reply.status, 200);
  t.equal(reply.body.toString(), 'POST /a b?c=d payload');
  t.same(reply.headers['set-cookie'], ['a=1', 'b=2']);
  t.equal(reply.headers['transfer-encoding'], 'chunked');
  t.same(environ!.features, { push: false, trailers: false, websocket: false, earlyHints: false }, 'a foreign host has no escapes');
  t.equal(environ!.target, '/a%20b?c=d');
  t.equal(environ!.protocol, 'HTTP/1.1');
  t.equal(environ!.remoteAddress, '127.0.0.1');
  const array = await listenNative(t, toNodeListener((_env, startResponse) => {
    startResponse(200, []);
    return ['known length'];
  }));
  t.equal((await send(array.url, '/')).headers['content-length'], '12', 'a known length becomes Content-Length');
});

t.test('toNodeListener: a hatchway app inside node:http2 (compatibility API)', async (t) => {
  let environ: Environ | undefined;
  const server = createH2Server(
    toNodeListener((env, startResponse) => {
      environ = env;
      startResponse(200, [['content-type', 'text/plain'], ['x-order', '1'], ['x-order', '2']]);
      return (async function* () {
        yield `${env.method} ${env.pathInfo} `;
        yield await env.input.text();
      })();
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const client = http2Connect(`http://127.0.0.1:${port}`);
  t.teardown(() => {
    client.close();
    server.close();
  });
  const { headers, body } = await new Promise<{ headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const stream = client.request({ [h2.HTTP2_HEADER_METHOD]: 'POST', [h2.HTTP2_HEADER_PATH]: '/h2?x=1' });
    let headers: Record<string, unknown> = {};
    let body = '';
    stream.on('response', (h) => (headers = h));
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => (body += c));
    stream.on('end', () => resolve({ headers, body }));
    stream.on('error', reject);
    stream.end('over h2');
  });
  t.equal(headers[':status'], 200);
  t.equal(headers['x-order'], '1, 2');
  t.equal(body, 'POST /h2 over h2');
  t.equal(environ!.protocol, 'HTTP/2');
  t.equal(environ!.authority, `127.0.0.1:${port}`);
  t.type(environ!.streamId, 'number');
  t.notOk(environ!.headers.some(([n]) => n.startsWith(':')), 'no pseudo-headers among the headers');
});
