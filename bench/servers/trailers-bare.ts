// node:http2 core: the hello body, then an `x-checksum` trailer (waitForTrailers).
import { createServer } from 'node:http2';
import { HELLO, portOf, ready } from './common.ts';

const server = createServer();
server.on('stream', (stream) => {
  stream.on('error', () => {});
  stream.respond({ ':status': 200, 'content-type': 'text/plain; charset=utf-8', trailer: 'x-checksum' }, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'sha-256=abc' }));
  stream.end(HELLO);
});
server.listen(0, '127.0.0.1', () => ready(portOf(server)));
