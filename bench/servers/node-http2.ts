// Bare node:http2 on its core API (the 'stream' event), h2c or TLS: the HTTP/2 baseline.
import { createSecureServer, createServer } from 'node:http2';
import { config, HELLO, portOf, ready, tlsFiles } from './common.ts';

const length = String(Buffer.byteLength(HELLO));
const server = config.tls ? createSecureServer(tlsFiles()) : createServer();
server.on('stream', (stream) => {
  stream.on('error', () => {});
  stream.respond({ ':status': 200, 'content-type': 'text/plain; charset=utf-8', 'content-length': length });
  stream.end(HELLO);
});
server.listen(0, '127.0.0.1', () => ready(portOf(server)));
