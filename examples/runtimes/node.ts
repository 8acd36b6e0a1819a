// The runtimes app on Node through hatchway's own server: `node examples/runtimes/node.ts`
// (PORT=0 picks a free port; the bound port is printed as JSON on stdout).
import { serve } from '../../src/server/index.ts';
import app from './app.ts';

const server = await serve(app, { host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 8000) });
console.log(JSON.stringify({ runtime: 'node', port: new URL(server.url).port === '' ? 80 : Number(new URL(server.url).port) }));
const stop = (): void => void server.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
