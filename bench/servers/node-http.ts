// Bare node:http: the baseline every ratio is measured against.
import { createServer } from 'node:http';

const body = 'Hello, world!\n';
const server = createServer((_req, res) => {
  res.writeHead(200, ['content-type', 'text/plain; charset=utf-8', 'content-length', String(Buffer.byteLength(body))]);
  res.end(body);
});
server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
process.on('disconnect', () => process.exit(0));
