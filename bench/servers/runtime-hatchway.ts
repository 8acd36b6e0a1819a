// The hello app through the hatchway host of whichever runtime runs this file — hatchway/server
// on Node, hatchway/host/bun, hatchway/host/deno — for bench/runtimes.ts. Prints {"port"}.
import type { App } from '../../src/index.ts';

const body = 'Hello, world!';
const hello: App = (_environ, startResponse) => {
  startResponse(200, [['content-type', 'text/plain;charset=UTF-8']]);
  return [body];
};

if ('Bun' in globalThis) {
  const { serve } = await import('../../src/hosts/bun.ts');
  console.log(JSON.stringify({ port: serve(hello, { hostname: '127.0.0.1', port: 0 }).port }));
} else if ('Deno' in globalThis) {
  const { serve } = await import('../../src/hosts/deno.ts');
  serve(hello, { hostname: '127.0.0.1', port: 0, onListen: ({ port }) => console.log(JSON.stringify({ port })) });
} else {
  const { Server } = await import('../../src/server/index.ts');
  const { port } = await new Server(hello, { host: '127.0.0.1', port: 0 }).listen();
  console.log(JSON.stringify({ port }));
}
