// The same generated stream as a hatchway app's async-iterable body.
import type * as ServerModule from '../../src/server/index.ts';
import type { App } from '../../src/index.ts';
import { generated, sizeOf } from './generated.ts';
import { config, hatchway, ready } from './common.ts';

const { Server } = await hatchway<typeof ServerModule>('src/server/index.ts');
const app: App = (environ, startResponse) => {
  const size = sizeOf(environ.queryString, config.size!);
  startResponse(200, [['content-type', 'application/octet-stream'], ['content-length', String(size)]]);
  return generated(size);
};
const server = new Server(app, { host: '127.0.0.1', port: 0 });
ready((await server.listen()).port);
