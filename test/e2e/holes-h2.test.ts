/**
 * Issue 9 over h2c, with real clients: curl (--http2-prior-knowledge) for `upgradeTo`
 * handlers, and an RFC 8441 websocket peer written with Python's hpack and raw frames
 * (test/fixtures/py/h2_ws.py). The HTTP/1.1 half is test/escapes/holes.test.ts.
 */
import t from 'tap';
import createError from 'http-errors';
import { acceptWebSocket, CONTROL_HEADER, HTTP2_KEY, upgradeTo, type App, type Http2App, type Http2Extension } from '../../src/index.ts';
import { start } from '../fixtures/server.ts';
import { curl } from '../fixtures/clients.ts';
import { h2WebSocket, field } from '../fixtures/h2-ws.ts';
import { allowList, footer, forbidByStatus, lazyNotModified, released, splitHead } from '../fixtures/holes-chain.ts';

const H2C = ['-s', '-i', '--http2-prior-knowledge'];
const TOKEN = /hw1\./;

/** A native handler that counts its runs and answers with what it saw. */
function counted(runs: { count: number }): Http2App {
  return (stream) => {
    runs.count++;
    stream.respond(200, [
      ['content-type', 'text/plain'],
      ['x-handler', 'native'],
    ]);
    stream.end(`handler emulated=${stream.emulated}\n`);
  };
}

/** A websocket route that echoes; `order` records the callbacks. */
function chat(opened: { count: number }, order: string[] = []): App {
  return (environ, startResponse) =>
    acceptWebSocket(environ, startResponse, {
      onSocket(ws) {
        opened.count++;
        order.push('onSocket');
        ws.on('message', (data) => ws.send(`echo ${String(data)}`));
      },
      onRelease: () => order.push('onRelease'),
    });
}

t.test('a middleware that answers an upgradeTo route with 403 by status wins over h2c: the handler never runs', async (t) => {
  const runs = { count: 0 };
  const { url } = await start(t, forbidByStatus(upgradeTo(counted(runs))));
  const res = await curl(t, [...H2C, url + '/api']);
  const { status, head, body } = splitHead(res.stdout);
  t.match(status, /^HTTP\/2 403/, ':status 403');
  t.equal(body, 'Forbidden\n', 'the http-errors body for 403, not the token');
  t.match(head, /\r\ncontent-type: text\/plain/i);
  t.notMatch(head, /x-handler/);
  t.notMatch(res.stdout, TOKEN);
  t.equal(runs.count, 0, 'the handler never ran, natively or emulated');
  t.equal(await released(), 0);
});

t.test('a middleware that answers an RFC 8441 websocket with 403 by status wins: a real 403, onSocket never runs', async (t) => {
  const opened = { count: 0 };
  const { port } = await start(t, forbidByStatus(chat(opened)));
  const res = await h2WebSocket(t, port, '/chat');
  t.equal(res.status, 403, ':status 403, not the 200 that opens the tunnel');
  t.equal(res.body, 'Forbidden\n', 'the http-errors body for 403');
  t.equal(res.ended, 'end-stream', 'the stream ends with the response');
  t.equal(field(res, CONTROL_HEADER), undefined);
  t.notMatch(JSON.stringify(res), TOKEN);
  t.equal(opened.count, 0, 'onSocket never ran');
  t.equal(await released(), 0);
});

t.test('a lazy 304 on an upgradeTo route over h2c is a 304 and the handler does not run', async (t) => {
  const runs = { count: 0 };
  const { url } = await start(t, lazyNotModified()(upgradeTo(counted(runs))));
  const res = await curl(t, [...H2C, '-H', 'If-None-Match: "v1"', url + '/api']);
  const { status, head, body } = splitHead(res.stdout);
  t.match(status, /^HTTP\/2 304/);
  t.equal(body, '', 'no body');
  t.notMatch(head, /x-handler/);
  t.notMatch(res.stdout, TOKEN);
  t.equal(runs.count, 0, 'the handler did not run (not natively, not emulated)');
  t.equal(await released(), 0);
});

t.test('a lazy 304 on an RFC 8441 websocket is a 304, not the 426', async (t) => {
  const opened = { count: 0 };
  const { port } = await start(t, lazyNotModified()(chat(opened)));
  const res = await h2WebSocket(t, port, '/chat', [['if-none-match', '"v1"']]);
  t.equal(res.status, 304);
  t.equal(res.body, '');
  t.equal(opened.count, 0);
  t.equal(await released(), 0);
});

t.test('an allow-list that drops the control header of an RFC 8441 websocket gets the 426 fallback, not a 500', async (t) => {
  const opened = { count: 0 };
  const { port } = await start(t, allowList(['cache-control', 'content-type'])(chat(opened)));
  const res = await h2WebSocket(t, port, '/chat');
  t.equal(res.status, 426, "the table's fallback, as over HTTP/1.1");
  t.equal(field(res, 'upgrade'), undefined, 'no Upgrade field over HTTP/2 (connection-specific)');
  t.equal(field(res, 'sec-websocket-version'), '13');
  t.notMatch(res.body, TOKEN);
  t.equal(opened.count, 0);
  t.equal(await released(), 0);
});

t.test('onSocket runs before onRelease over RFC 8441 (Python h2)', async (t) => {
  const opened = { count: 0 };
  const order: string[] = [];
  const { port } = await start(t, chat(opened, order));
  const res = await h2WebSocket(t, port, '/chat');
  t.equal(res.status, 200);
  t.same(res.messages, ['echo hello'], 'the websocket worked');
  t.equal(res.close, 1000);
  t.equal(await released(), 0);
  t.same(order, ['onSocket', 'onRelease'], 'the takeover callback first, then the release');
});

t.test('an http2 registration without a fallback, its token body altered, falls back to the emulation of its handler', async (t) => {
  const runs = { count: 0 };
  // Registered through the extension directly, as a second upgradeTo would: no fallback given,
  // so Http2Registration's documented default (the emulation) applies.
  const direct: App = (environ, startResponse) => {
    const register = environ[HTTP2_KEY] as Http2Extension;
    const token = register({ handler: counted(runs) });
    startResponse(200, [[CONTROL_HEADER, `http2 ${token}`]]);
    return [token];
  };
  const { url } = await start(t, footer('<!-- footer -->\n')(direct));
  const res = await curl(t, [...H2C, url + '/api']);
  const { status, head, body } = splitHead(res.stdout);
  t.match(status, /^HTTP\/2 200/, "the handler's status, not the websocket 426");
  t.match(head, /\r\nx-handler: native/i, "the handler's own header");
  t.equal(body, 'handler emulated=true\n', "the handler's own body, on an emulated stream");
  t.notMatch(head, /\r\nupgrade:|sec-websocket/i);
  t.notMatch(res.stdout, TOKEN);
  t.equal(runs.count, 1);
  t.equal(await released(), 0);
});

t.test('a native handler that throws an HttpError before responding gets its status and exposed message', async (t) => {
  const { url } = await start(
    t,
    upgradeTo(() => {
      throw createError(403, 'no entry', { expose: true, headers: { 'retry-after': '60' } });
    }),
  );
  const res = await curl(t, [...H2C, url + '/api']);
  const { status, head, body } = splitHead(res.stdout);
  t.match(status, /^HTTP\/2 403/, ":status 403, errorResponse's status");
  t.equal(body, 'no entry\n', 'the exposed message');
  t.match(head, /\r\ncontent-type: text\/plain/i);
  t.match(head, /\r\nretry-after: 60/i, "the HttpError's headers");
  t.equal(await released(), 0);
});
