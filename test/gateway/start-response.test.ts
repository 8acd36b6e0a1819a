import t from 'tap';
import { ResponseState } from '../../src/gateway/start-response.ts';
import { run } from '../../src/gateway/run.ts';
import type { App, HeaderList } from '../../src/gateway/types.ts';
import { MemorySink, memoryEnviron } from '../fixtures/memory-sink.ts';

t.test('a status is a number, a code with a reason phrase, or a bare code string', async (t) => {
  for (const [status, code, reason] of [
    [200, 200, undefined],
    ['200 OK', 200, 'OK'],
    ['404', 404, undefined],
    ['599 Custom Thing', 599, 'Custom Thing'],
  ] as const) {
    const r = new ResponseState();
    r.startResponse(status, []);
    t.equal(r.status, code, `status ${JSON.stringify(status)}`);
    t.equal(r.reason, reason, `reason of ${JSON.stringify(status)}`);
  }
});

t.test('an invalid status throws ERR_HATCHWAY_INVALID_STATUS', async (t) => {
  for (const status of [199, 600, 100, 200.5, NaN, '20', '2000', 'OK', '200OK', '200 OK\r\nX: y', '099', '', null, undefined, {}]) {
    const r = new ResponseState();
    t.throws(() => r.startResponse(status as never, []), { code: 'ERR_HATCHWAY_INVALID_STATUS' }, `status ${String(status)}`);
    t.equal(r.state, 'idle', 'nothing is recorded');
  }
});

t.test('header values with CR, LF or NUL are refused', async (t) => {
  for (const value of ['a\rb', 'a\nb', 'a\0b', 'x\r\nSet-Cookie: evil=1']) {
    const r = new ResponseState();
    t.throws(() => r.startResponse(200, [['x-test', value]]), { code: 'ERR_HATCHWAY_INVALID_HEADER_VALUE' }, JSON.stringify(value));
  }
});

t.test('header names that are not RFC 9110 tokens are refused', async (t) => {
  for (const name of ['', 'x test', 'x:y', 'x\r\n', 'ümlaut', '(paren)', 'a/b']) {
    const r = new ResponseState();
    t.throws(() => r.startResponse(200, [[name, 'v']]), { code: 'ERR_HATCHWAY_INVALID_HEADER_NAME' }, JSON.stringify(name));
  }
});

t.test('headers that are not an array of string pairs are refused', async (t) => {
  for (const headers of [null, {}, [['a']], [['a', 1]], [['a', 'b', 'c']], ['ab']]) {
    const r = new ResponseState();
    t.throws(() => r.startResponse(200, headers as never), { code: 'ERR_HATCHWAY_INVALID_HEADERS' }, JSON.stringify(headers));
  }
});

t.test('hop-by-hop headers are refused in any letter case', async (t) => {
  for (const name of ['Connection', 'keep-alive', 'Proxy-Connection', 'Transfer-Encoding', 'TE', 'trailer', 'Upgrade']) {
    const r = new ResponseState();
    t.throws(() => r.startResponse(200, [[name, 'x']]), { code: 'ERR_HATCHWAY_HOP_BY_HOP_HEADER' }, name);
  }
});

t.test('upgrade is allowed on a 426 only', async (t) => {
  const ok = new ResponseState();
  ok.startResponse(426, [['upgrade', 'websocket']]);
  t.same(ok.headers, [['upgrade', 'websocket']]);
  const notOk = new ResponseState();
  t.throws(() => notOk.startResponse('101 Switching Protocols', [['upgrade', 'websocket']]), { code: 'ERR_HATCHWAY_INVALID_STATUS' });
  t.throws(() => notOk.startResponse(400, [['upgrade', 'websocket']]), { code: 'ERR_HATCHWAY_HOP_BY_HOP_HEADER' });
});

t.test('content-length must be digits', async (t) => {
  for (const value of ['-1', '1.5', ' 5', '5 ', '0x10', '', 'five', '1,1']) {
    const r = new ResponseState();
    t.throws(() => r.startResponse(200, [['content-length', value]]), { code: 'ERR_HATCHWAY_INVALID_HEADER_VALUE' }, JSON.stringify(value));
  }
  const r = new ResponseState();
  r.startResponse(200, [['Content-Length', '42']]);
  t.same(r.headers, [['Content-Length', '42']]);
});

t.test('headers keep their order, case and duplicates', async (t) => {
  const headers: HeaderList = [
    ['Set-Cookie', 'a=1'],
    ['x-b', '2'],
    ['set-cookie', 'b=2'],
  ];
  const r = new ResponseState();
  r.startResponse(200, headers);
  t.same(r.headers, headers);
});

t.test('startResponse twice without excInfo throws ERR_HATCHWAY_START_RESPONSE_TWICE', async (t) => {
  const r = new ResponseState();
  r.startResponse(200, []);
  t.throws(() => r.startResponse(500, []), { code: 'ERR_HATCHWAY_START_RESPONSE_TWICE' });
  t.throws(() => r.startResponse(500, [], null), { code: 'ERR_HATCHWAY_START_RESPONSE_TWICE' }, 'null is no excInfo');
  t.equal(r.status, 200, 'the first response stands');
});

t.test('startResponse with excInfo before the commit replaces the response', async (t) => {
  const r = new ResponseState();
  r.startResponse(200, [['x-first', '1']]);
  r.startResponse('503 Busy', [['x-second', '2']], new Error('boom'));
  t.equal(r.status, 503);
  t.equal(r.reason, 'Busy');
  t.same(r.headers, [['x-second', '2']]);
});

t.test('startResponse with excInfo after the commit re-throws excInfo', async (t) => {
  const r = new ResponseState();
  r.startResponse(200, []);
  r.commit();
  const original = new Error('the original failure');
  t.throws(() => r.startResponse(500, [], original), original);
  t.throws(() => r.startResponse(500, []), { code: 'ERR_HATCHWAY_START_RESPONSE_TWICE' });
});

t.test('committing before startResponse throws ERR_HATCHWAY_NO_START_RESPONSE', async (t) => {
  const r = new ResponseState();
  t.throws(() => r.commit(), { code: 'ERR_HATCHWAY_NO_START_RESPONSE' });
});

t.test('an app whose startResponse throws gets a 500 and the failure is logged', async (t) => {
  const app: App = (_environ, startResponse) => {
    startResponse(200, [['x-bad', 'a\r\nb']]);
    return ['never'];
  };
  const { environ, errors } = memoryEnviron();
  const sink = new MemorySink();
  await run(app, environ, sink);
  t.equal(sink.response.status, 500);
  t.notMatch(sink.text, 'never');
  t.match(errors.join('\n'), /HatchwayError/, 'the HatchwayError is logged');
});

t.test('an app that replaces its response with excInfo while iterating sends the replacement', async (t) => {
  const app: App = (_environ, startResponse) => {
    startResponse(200, [['content-type', 'text/html']]);
    return (function* () {
      yield '';
      try {
        throw new Error('template failed');
      } catch (err) {
        startResponse(500, [['content-type', 'text/plain']], err);
        yield 'sorry';
      }
    })();
  };
  const { environ } = memoryEnviron();
  const sink = new MemorySink();
  await run(app, environ, sink);
  t.equal(sink.response.status, 500);
  t.equal(sink.header('content-type'), 'text/plain');
  t.equal(sink.text, 'sorry');
});

t.test('an app that calls startResponse with excInfo after the commit has its response aborted', async (t) => {
  const failure = new Error('late failure');
  const app: App = (_environ, startResponse) => {
    startResponse(200, []);
    return (function* () {
      yield 'partial';
      yield 'more';
      startResponse(500, [], failure);
      yield 'never';
    })();
  };
  const { environ, errors } = memoryEnviron();
  const sink = new MemorySink();
  await run(app, environ, sink);
  t.equal(sink.response.status, 200);
  t.same(sink.aborted, [failure], 'the re-thrown excInfo aborts the response');
  t.notOk(sink.ended);
  t.notMatch(sink.text, 'never');
  t.match(errors.join('\n'), 'late failure');
});
