// The same response through the trailers escape (sendWithTrailers).
import type * as ServerModule from '../../src/server/index.ts';
import type * as Index from '../../src/index.ts';
import { HELLO, hatchway, ready } from './common.ts';

const { Server } = await hatchway<typeof ServerModule>('src/server/index.ts');
const { sendWithTrailers } = await hatchway<typeof Index>('src/index.ts');
const app: Index.App = (environ, startResponse) =>
  sendWithTrailers(environ, startResponse, {
    headers: [['content-type', 'text/plain; charset=utf-8']],
    names: ['x-checksum'],
    body: [HELLO],
    trailers: () => [['x-checksum', 'sha-256=abc']],
  });
const server = new Server(app, { host: '127.0.0.1', port: 0 });
ready((await server.listen()).port);
