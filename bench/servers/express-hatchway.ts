// The same Express app hosted by the node adapter (fromNodeListener) on hatchway's one-port
// server: HTTP/1.1 and h2c on one port.
import type * as ServerModule from '../../src/server/index.ts';
import type * as NodeAdapter from '../../adapters/node.ts';
import { expressApp } from './express-app.ts';
import { hatchway, ready } from './common.ts';

const { Server } = await hatchway<typeof ServerModule>('src/server/index.ts');
const { fromNodeListener } = await hatchway<typeof NodeAdapter>('adapters/node.ts');
const server = new Server(fromNodeListener(expressApp()), { host: '127.0.0.1', port: 0 });
ready((await server.listen()).port);
