// The static middleware serving bench/static-files/ through hatchway's origin server.
import { Server } from '../../src/server/index.ts';
import type { App } from '../../src/index.ts';
import { serveStatic } from '../../middleware/static.ts';

const notFound: App = (_environ, startResponse) => {
  startResponse(404, [['content-type', 'text/plain']]);
  return ['not found'];
};
const server = new Server(serveStatic(process.argv[2]!)(notFound), { host: '127.0.0.1', port: 0 });
const { port } = await server.listen();
process.send!({ port });
process.on('disconnect', () => process.exit(0));
