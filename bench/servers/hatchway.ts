// The same hello handler as an hatchway app, through hatchway's origin server.
import { Server } from '../../src/server/index.ts';
import type { App } from '../../src/index.ts';

const body = 'Hello, world!\n';
const hello: App = (_environ, startResponse) => {
  startResponse(200, [['content-type', 'text/plain; charset=utf-8']]);
  return [body];
};
const server = new Server(hello, { host: '127.0.0.1', port: 0 });
const { port } = await server.listen();
process.send!({ port });
process.on('disconnect', () => process.exit(0));
