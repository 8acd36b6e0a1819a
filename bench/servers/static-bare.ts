// `fs.createReadStream(file).pipe(res)` for every request: the static-file baseline.
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { config, portOf, ready } from './common.ts';

const dir = config.path!;
const server = createServer((req, res) => {
  const file = join(dir, decodeURIComponent(new URL(req.url!, 'http://x').pathname));
  const { size } = statSync(file);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
  createReadStream(file).pipe(res);
});
server.listen(0, '127.0.0.1', () => ready(portOf(server)));
