import t from 'tap';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { compose, sendWithTrailers, type App, type HeaderList } from '../../src/index.ts';
import { start } from '../fixtures/server.ts';
import { auth, chain, gzipEverything } from '../fixtures/chain.ts';

const run = promisify(execFile);
const AUTH = ['-H', 'Authorization: Bearer letmein'];

function checksummed(dropped: HeaderList[] = [], required = false): App {
  return (environ, startResponse) => {
    const hash = createHash('sha256');
    return sendWithTrailers(environ, startResponse, {
      headers: [['content-type', 'text/plain']],
      names: ['x-checksum'],
      required,
      body: (async function* () {
        for (const part of ['alpha\n', 'beta\n', 'gamma\n']) {
          hash.update(part);
          yield part;
        }
      })(),
      trailers: () => [['x-checksum', hash.digest('hex')]],
      onDropped: (trailers) => dropped.push(trailers),
    });
  };
}

/** Splits a raw response at the end of its head (split()'s limit would drop the rest). */
function splitHead(raw: string): [string, string] {
  const end = raw.indexOf('\r\n\r\n');
  return [raw.slice(0, end), raw.slice(end + 4)];
}

const SUM = createHash('sha256').update('alpha\nbeta\ngamma\n').digest('hex');

t.test('curl sees the trailer fields after the last chunk with TE: trailers', async (t) => {
  const { url } = await start(t, chain(checksummed()));
  const { stdout } = await run('curl', ['-s', '--raw', '-i', '-H', 'TE: trailers', ...AUTH, url + '/file']);
  const [head, body] = splitHead(stdout);
  t.match(head, /^HTTP\/1\.1 200/);
  t.match(head, /transfer-encoding: chunked/i);
  t.match(head, /trailer: x-checksum/i);
  t.match(head, /set-cookie: sid=s3ss10n/i, 'middleware headers are kept');
  t.notMatch(head, /hatchway-escape/i);
  // chunked framing: ... 0\r\n then the trailer field, then the final CRLF
  t.match(body, new RegExp(`\\r\\n0\\r\\nx-checksum: ${SUM}\\r\\n\\r\\n$`));
  t.match(body, /alpha\n/);
});

t.test('without TE: trailers the body arrives whole and no trailer; the drop is reported', async (t) => {
  const dropped: HeaderList[] = [];
  const { url } = await start(t, chain(checksummed(dropped)));
  const { stdout } = await run('curl', ['-s', '--raw', '-i', ...AUTH, url + '/file']);
  const body = splitHead(stdout)[1];
  t.notMatch(body, /x-checksum/);
  t.match(body, /alpha\n[\s\S]*beta\n[\s\S]*gamma\n[\s\S]*\r\n0\r\n\r\n$/);
  t.same(dropped, [[['x-checksum', SUM]]]);
});

t.test('a required-trailers registration gets a clear 400 where trailers cannot go', async (t) => {
  const { url } = await start(t, chain(checksummed([], true)));
  const { stdout } = await run('curl', ['-s', '-i', ...AUTH, url + '/grpc-ish']);
  t.match(stdout, /^HTTP\/1\.1 400/);
  t.match(stdout, /TE: trailers/);
  const ok = await run('curl', ['-s', '--raw', '-H', 'TE: trailers', ...AUTH, url + '/grpc-ish']);
  t.match(ok.stdout, /x-checksum: /, 'and gets them when it can');
});

t.test('an HTTP/1.0 client never gets trailers', async (t) => {
  const { url } = await start(t, chain(checksummed()));
  const { stdout } = await run('curl', ['-s', '-0', '-i', '-H', 'TE: trailers', ...AUTH, url + '/file']);
  t.notMatch(stdout, /x-checksum/);
  t.match(stdout, /alpha\nbeta\ngamma\n$/);
});

t.test('a middleware that compresses the body gets the fallback: the body, uncompressed, without trailers', async (t) => {
  const { url } = await start(t, compose(auth(), gzipEverything)(checksummed()));
  const { stdout } = await run('curl', ['-s', '-i', '-H', 'TE: trailers', ...AUTH, url + '/file']);
  t.match(stdout, /^HTTP\/1\.1 200/);
  t.notMatch(stdout, /content-encoding/i, 'not garbage: no gzip header on a plain body');
  t.match(stdout, /alpha\nbeta\ngamma\n$/);
  t.notMatch(stdout, /hw1\./);
});

t.test('invalid trailer fields abort the response instead of sending them', async (t) => {
  const app: App = (environ, startResponse) =>
    sendWithTrailers(environ, startResponse, { body: ['x'], trailers: () => [['content-length', '5']] });
  const { url, logs } = await start(t, app);
  const res = await run('curl', ['-s', '--raw', '-H', 'TE: trailers', url + '/']).catch((err: { code: number }) => err);
  t.not((res as { code?: number }).code ?? 0, 0, 'curl reports a broken transfer');
  t.match(logs.join('\n'), /ERR_HATCHWAY_INVALID_TRAILER|invalid trailer field/);
});
