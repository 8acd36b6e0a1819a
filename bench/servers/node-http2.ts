// Bare node:http2 on its core API (the 'stream' event), h2c: the baseline of bench/h2.ts.
import { createServer } from 'node:http2';

const body = 'Hello, world!\n';
const length = String(Buffer.byteLength(body));
const server = createServer();
server.on('stream', (stream) => {
  stream.on('error', () => {});
  stream.respond({ ':status': 200, 'content-type': 'text/plain; charset=utf-8', 'content-length': length });
  stream.end(body);
});
server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
process.on('disconnect', () => process.exit(0));
