// The runtimes app on Deno: `deno run --allow-net --allow-env examples/runtimes/deno.ts`
// (PORT=0 picks a free port; the bound port is printed as JSON on stdout).
import { serve } from '../../src/hosts/deno.ts';
import app from './app.ts';

const env = (name: string): string | undefined => (globalThis as { Deno?: { env: { get(n: string): string | undefined } } }).Deno?.env.get(name);
serve(app, {
  hostname: env('HOST') ?? '127.0.0.1',
  port: Number(env('PORT') ?? 8000),
  onListen: ({ port }) => console.log(JSON.stringify({ runtime: 'deno', port })),
});
