// The static middleware serving the runner's temporary directory on hatchway's server.
import type * as ServerModule from '../../src/server/index.ts';
import type { App } from '../../src/index.ts';
import type * as Static from '../../middleware/static.ts';
import { config, hatchway, ready } from './common.ts';

const { Server } = await hatchway<typeof ServerModule>('src/server/index.ts');
const { serveStatic } = await hatchway<typeof Static>('middleware/static.ts');
const notFound: App = (_environ, startResponse) => {
  startResponse(404, [['content-type', 'text/plain']]);
  return ['not found'];
};
const server = new Server(serveStatic(config.path!)(notFound), { host: '127.0.0.1', port: 0 });
ready((await server.listen()).port);
