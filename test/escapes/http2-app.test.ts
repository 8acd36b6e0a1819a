import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { compose, interceptHttp2, run, upgradeTo, type App, type Http2App } from '../../src/index.ts';
import { start } from '../fixtures/server.ts';
import { auth, session } from '../fixtures/chain.ts';
import { MemorySink, memoryEnviron } from '../fixtures/memory-sink.ts';

const curl = promisify(execFile);

/** Echoes the request body, reports the stream id, and sends a trailer computed at the end. */
const echo: Http2App = async (stream, environ) => {
  const text = await stream.body.text();
  await stream.push('/style.css');
  stream.respond(200, [['content-type', 'text/plain']], { waitForTrailers: true });
  stream.write(`method=${environ.method} id=${stream.id ?? 'none'} emulated=${stream.emulated}\n`);
  stream.end(`body=${text}\n`, [['x-length', String(text.length)]]);
};

function observed(statuses: string[]) {
  return interceptHttp2((handler, environ) => (stream, env) => {
    const respond = stream.respond.bind(stream);
    stream.respond = (status, headers, options) => {
      statuses.push(`${environ.target} ${status}`);
      respond(status, headers, options);
    };
    return handler(stream, env);
  });
}

t.test('an upgradeTo handler answers curl over HTTP/1.1 on an emulated stream, with trailers', async (t) => {
  const statuses: string[] = [];
  const { url } = await start(t, compose(auth(), session, observed(statuses))(upgradeTo(echo)));
  const { stdout } = await curl('curl', ['-s', '--raw', '-i', '-H', 'TE: trailers', '-H', 'Authorization: Bearer letmein', '--data-binary', 'hi', url + '/api']);
  t.match(stdout, /^HTTP\/1\.1 200/);
  t.match(stdout, /method=POST id=none emulated=true/);
  t.match(stdout, /body=hi/);
  t.match(stdout, /\r\n0\r\nx-length: 2\r\n\r\n$/, 'the trailer after the last chunk');
  t.match(stdout, /link: <\/style\.css>; rel=preload/i, 'push became a preload link');
  t.match(stdout, /set-cookie: sid=s3ss10n/i, 'middleware headers kept');
  t.notMatch(stdout, /hw1\.|hatchway-escape/i);
  t.same(statuses, ['/api 200'], 'the interception helper saw the final status');
});

t.test('without TE: trailers the emulated trailers are dropped, the body is whole', async (t) => {
  const { url } = await start(t, upgradeTo(echo));
  const { stdout } = await curl('curl', ['-s', '-i', '--data-binary', 'abc', url + '/api']);
  t.match(stdout, /body=abc\n$/);
  t.notMatch(stdout, /x-length/);
});

t.test('an ordinary auth middleware refuses an upgradeTo handler with a real 401', async (t) => {
  let ran = 0;
  const { url } = await start(
    t,
    auth()(
      upgradeTo(() => {
        ran++;
      }),
    ),
  );
  const { stdout } = await curl('curl', ['-s', '-i', url + '/api']);
  t.match(stdout, /^HTTP\/1\.1 401/);
  t.equal(ran, 0);
});

t.test('under a host with no extension the handler is emulated on startResponse and the body', async (t) => {
  const statuses: string[] = [];
  const { environ } = memoryEnviron('GET', '/bare');
  const sink = new MemorySink();
  await run(observed(statuses)(upgradeTo(echo)), environ, sink);
  t.equal(sink.response.status, 200);
  t.match(sink.text, /method=GET id=none emulated=true/);
  t.match(sink.header('link') ?? '', /<\/style\.css>; rel=preload/);
  t.same(statuses, ['/bare 200']);
});

t.test('a handler that throws before responding becomes a 500; after, an aborted response', async (t) => {
  const before: App = upgradeTo(() => {
    throw new Error('early');
  });
  const after: App = upgradeTo(async (stream) => {
    stream.respond(200);
    stream.write('partial');
    await new Promise((r) => setTimeout(r, 5));
    throw new Error('late');
  });
  const { url, logs } = await start(t, (environ, startResponse) => (environ.pathInfo === '/before' ? before : after)(environ, startResponse));
  const early = await curl('curl', ['-s', '-i', url + '/before']);
  t.match(early.stdout, /^HTTP\/1\.1 500/);
  const late = await curl('curl', ['-s', url + '/after']).catch((err: { code: number }) => err);
  t.equal((late as { code: number }).code, 18, 'curl: transfer closed with outstanding data');
  t.match(logs.join('\n'), /early/);
  t.match(logs.join('\n'), /late/);
});

t.test('a user-supplied fallback answers where the handler cannot run natively', async (t) => {
  const app = upgradeTo(() => {}, {
    fallback: (_environ, startResponse) => {
      startResponse(505, [['content-type', 'text/plain']]);
      return ['use HTTP/2\n'];
    },
  });
  const { url } = await start(t, app);
  const { stdout } = await curl('curl', ['-s', '-i', url + '/grpc']);
  t.match(stdout, /^HTTP\/1\.1 505/);
});

t.test('nested interceptors wrap in middleware order on the emulated path', async (t) => {
  const order: string[] = [];
  const mark = (name: string) =>
    interceptHttp2((handler) => (stream, env) => {
      order.push(name);
      return handler(stream, env);
    });
  const { environ } = memoryEnviron('GET', '/x');
  await run(compose(mark('outer'), mark('inner'))(upgradeTo(echo)), environ, new MemorySink());
  t.same(order, ['outer', 'inner']);
});
