// The hello handler as a hatchway app on hatchway's one-port server (HTTP/1.1, h2c; TLS with `tls`).
import type * as ServerModule from '../../src/server/index.ts';
import type { App } from '../../src/index.ts';
import { config, HELLO, hatchway, ready, tlsFiles } from './common.ts';

const { Server } = await hatchway<typeof ServerModule>('src/server/index.ts');
const hello: App = (_environ, startResponse) => {
  startResponse(200, [['content-type', 'text/plain; charset=utf-8']]);
  return [HELLO];
};
const server = new Server(hello, { host: '127.0.0.1', port: 0, ...(config.tls ? { tls: tlsFiles() } : {}) });
ready((await server.listen()).port);
