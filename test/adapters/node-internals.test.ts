/**
 * The Node internals the adapters rely on where Node has no public API (docs/ADAPTERS.md,
 * "Node internals"). CI runs the adapter suite on every Node line `engines` allows (22 and 24):
 * a release that moves one of these fails here, by name, before it fails a user.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import t from 'tap';

const req = new IncomingMessage(new Socket());
const res = new ServerResponse(req);

t.test('ServerResponse has the methods the exchange hooks (own properties shadow them)', async (t) => {
  const proto = ServerResponse.prototype as unknown as Record<string, unknown>;
  for (const name of ['_storeHeader', '_send', '_finish', '_implicitHeader', '_flush']) t.type(proto[name], 'function', name);
  t.equal((proto._storeHeader as (...a: unknown[]) => unknown).length, 2, '_storeHeader(firstLine, headers)');
  t.match(String(proto._finish), /prefinish|_finish\.call/, "Node's _finish() is what emits 'prefinish' (the exchange listens for it)");
});

t.test('ServerResponse keeps the state the exchange reads and resets', async (t) => {
  const internals = res as unknown as Record<string, unknown>;
  for (const name of ['_hasBody', '_headerSent', '_removedContLen', '_removedConnection', 'chunkedEncoding', 'useChunkedEncodingByDefault', 'shouldKeepAlive', '_closed']) t.type(internals[name], 'boolean', name);
  t.ok('_contentLength' in internals, '_contentLength');
  t.ok('_header' in internals, '_header');
  const kNeedDrain = Object.getOwnPropertySymbols(res).find((s) => s.description === 'kNeedDrain');
  t.ok(kNeedDrain, "the need-drain flag that writableNeedDrain reads (cleared as node:http's socket 'drain' handler does)");
  (res as unknown as Record<symbol, boolean>)[kNeedDrain!] = true;
  t.equal(res.writableNeedDrain, true, 'writableNeedDrain reads it');
  (res as unknown as Record<symbol, boolean>)[kNeedDrain!] = false;
});

t.test('_storeHeader builds the block into _header and throws ERR_HTTP_TRAILER_INVALID as the exchange expects', async (t) => {
  const r = new ServerResponse(new IncomingMessage(new Socket())) as unknown as ServerResponse & Record<string, unknown> & { _storeHeader(l: string, h: unknown): void };
  r.useChunkedEncodingByDefault = false;
  r.setHeader('Trailer', 'x-sum');
  t.throws(() => r.writeHead(200), { code: 'ERR_HTTP_TRAILER_INVALID' });
  const ok = new ServerResponse(new IncomingMessage(new Socket())) as unknown as ServerResponse & Record<string, unknown>;
  ok.sendDate = false;
  ok.setHeader('X-A', '1');
  ok.writeHead(201);
  t.match(ok._header, /^HTTP\/1\.1 201 Created\r\nX-A: 1\r\n/);
  const quiet = new ServerResponse(new IncomingMessage(new Socket())) as unknown as ServerResponse & Record<string, unknown>;
  quiet.sendDate = false;
  quiet._removedConnection = true;
  quiet.writeHead(200);
  t.equal(quiet._header, 'HTTP/1.1 200 OK\r\n\r\n', 'with _removedConnection set, Node adds no Connection field');
});

t.test('IncomingMessage has what the request side uses', async (t) => {
  const internals = req as unknown as Record<string, unknown>;
  t.type((IncomingMessage.prototype as unknown as Record<string, unknown>)._addHeaderLines, 'function', '_addHeaderLines');
  t.type(internals._consuming, 'boolean', '_consuming');
  t.type((internals._readableState as Record<string, unknown>).readingMore, 'boolean', '_readableState.readingMore');
});
