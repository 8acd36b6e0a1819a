// The example Echo service (examples/grpc) through `upgradeTo` on hatchway's server (h2c).
import type * as ServerModule from '../../src/server/index.ts';
import type * as Index from '../../src/index.ts';
import type * as Grpc from '../../examples/grpc/server.ts';
import { hatchway, ready } from './common.ts';

const { Server } = await hatchway<typeof ServerModule>('src/server/index.ts');
const { upgradeTo } = await hatchway<typeof Index>('src/index.ts');
const { echo } = await hatchway<typeof Grpc>('examples/grpc/server.ts');
const server = new Server(upgradeTo(echo), { host: '127.0.0.1', port: 0 });
ready((await server.listen()).port);
