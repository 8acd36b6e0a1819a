// The compression middleware over a JSON body, through hatchway's origin server.
import type * as ServerModule from '../../src/server/index.ts';
import type { App } from '../../src/index.ts';
import type * as Compression from '../../middleware/compression.ts';
import { payload } from './payload.ts';
import { config, hatchway, ready } from './common.ts';

const { Server } = await hatchway<typeof ServerModule>('src/server/index.ts');
const { compression } = await hatchway<typeof Compression>('middleware/compression.ts');
const body = payload(config.size!);
const app: App = (_environ, startResponse) => {
  startResponse(200, [['content-type', 'application/json']]);
  return [body];
};
const server = new Server(compression()(app), { host: '127.0.0.1', port: 0 });
ready((await server.listen()).port);
