// A generated stream piped into a node:http response: the stream baseline.
import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { generated, sizeOf } from './generated.ts';
import { config, portOf, ready } from './common.ts';

const server = createServer((req, res) => {
  const size = sizeOf(req.url!.split('?')[1] ?? '', config.size!);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
  Readable.from(generated(size)).pipe(res);
});
server.listen(0, '127.0.0.1', () => ready(portOf(server)));
