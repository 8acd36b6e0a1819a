// The compression middleware over a JSON body, through hatchway's origin server.
import { Server } from '../../src/server/index.ts';
import type { App } from '../../src/index.ts';
import { compression } from '../../middleware/compression.ts';
import { payload } from '../compression.ts';

const body = payload(Number(process.argv[2]));
const app: App = (_environ, startResponse) => {
  startResponse(200, [['content-type', 'application/json']]);
  return [body];
};
const server = new Server(compression()(app), { host: '127.0.0.1', port: 0 });
const { port } = await server.listen();
process.send!({ port });
process.on('disconnect', () => process.exit(0));
