// The runtimes app on Bun: `bun examples/runtimes/bun.ts` (PORT=0 picks a free port; the bound
// port is printed as JSON on stdout).
import { serve } from '../../src/hosts/bun.ts';
import app from './app.ts';

const server = serve(app, { hostname: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 8000) });
console.log(JSON.stringify({ runtime: 'bun', port: server.port }));
