// The same page through the push escape (associate): pushed where the client allows it.
// maxConcurrentStreams is raised from hatchway's 100 to bare node:http2's "unlimited" side of
// the comparison: node:http2 counts the server's own open pushed streams against that limit
// and answers the client's next requests with RST_STREAM ENHANCE_YOUR_CALM (bare node:http2
// with `settings: { maxConcurrentStreams: 100 }` does the same), so a client that keeps 100
// requests in flight, each with a push, loses requests at the default.
import type * as ServerModule from '../../src/server/index.ts';
import type * as Index from '../../src/index.ts';
import { hatchway, ready } from './common.ts';

const PAGE = '<!doctype html><link rel="stylesheet" href="/style.css"><h1>pushed</h1>\n';
const CSS = 'h1 { color: teal }\n';
const { Server } = await hatchway<typeof ServerModule>('src/server/index.ts');
const { associate } = await hatchway<typeof Index>('src/index.ts');
const app: Index.App = (environ, startResponse) => {
  if (environ.pathInfo === '/style.css') {
    startResponse(200, [['content-type', 'text/css']]);
    return [CSS];
  }
  startResponse(200, [['content-type', 'text/html; charset=utf-8'], ...associate(environ, [{ path: '/style.css', as: 'style' }], { earlyHints: false })]);
  return [PAGE];
};
const server = new Server(app, { host: '127.0.0.1', port: 0, maxConcurrentStreams: 4096 });
ready((await server.listen()).port);
