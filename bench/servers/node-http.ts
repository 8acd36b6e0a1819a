// Bare node:http: the HTTP/1.1 baseline.
import { createServer } from 'node:http';
import { HELLO, portOf, ready } from './common.ts';

const length = String(Buffer.byteLength(HELLO));
const server = createServer((_req, res) => {
  res.writeHead(200, ['content-type', 'text/plain; charset=utf-8', 'content-length', length]);
  res.end(HELLO);
});
server.listen(0, '127.0.0.1', () => ready(portOf(server)));
