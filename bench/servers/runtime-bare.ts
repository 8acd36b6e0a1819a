// The bare server of whichever runtime runs this file — node:http, `Bun.serve`, `Deno.serve` —
// answering the hello response; the baseline of bench/runtimes.ts. Prints {"port"} on stdout.
import { createServer } from 'node:http';

const body = 'Hello, world!';
type Serve = { serve(options: Record<string, unknown>, handler?: unknown): { port?: number } };
const runtime = globalThis as { Bun?: Serve; Deno?: Serve };

if (runtime.Bun !== undefined) {
  const server = runtime.Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: (_request: Request) => new Response(body) });
  console.log(JSON.stringify({ port: server.port }));
} else if (runtime.Deno !== undefined) {
  // The handler declares its request: Deno skips making the Request for a handler declared
  // without parameters, which no real handler is (every one reads its request).
  runtime.Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: ({ port }: { port: number }) => console.log(JSON.stringify({ port })) }, (_request: Request) => new Response(body));
} else {
  const server = createServer((_req, res) => {
    res.writeHead(200, ['content-type', 'text/plain;charset=UTF-8', 'content-length', String(body.length)]);
    res.end(body);
  });
  server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as { port: number }).port })));
}
