/**
 * Calls the showcase's gRPC service with @grpc/grpc-js, as the page's command shows:
 *
 *   node examples/showcase/grpc-call.ts http://127.0.0.1:8000 <token> "hello"
 *
 * The token is the one /api/me gives a logged-in user (`-` for none: the auth middleware's 401
 * arrives as UNAUTHENTICATED). Prints the reply as JSON, or the gRPC status on failure (exit 1).
 */
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { PROTO } from '../grpc/server.ts';

type EchoClient = grpc.Client & { Say(request: { text: string }, metadata: grpc.Metadata, done: (err: grpc.ServiceError | null, reply: { text: string }) => void): void };

export function call(url: string, token: string | undefined, text: string): Promise<{ text: string }> {
  const proto = grpc.loadPackageDefinition(loader.loadSync(PROTO, { keepCase: true, defaults: true })) as unknown as {
    hatchway: { example: { Echo: new (address: string, credentials: grpc.ChannelCredentials) => EchoClient } };
  };
  // Cleartext h2c by prior knowledge: the showcase's port takes it next to TLS.
  const client = new proto.hatchway.example.Echo(new URL(url).host, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve, reject) =>
    client.Say({ text }, metadata, (err, reply) => {
      client.close();
      if (err) reject(err);
      else resolve(reply);
    }),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [url = 'http://127.0.0.1:8000', token, text = 'hello'] = process.argv.slice(2);
  try {
    console.log(JSON.stringify(await call(url, token === '-' ? undefined : token, text)));
  } catch (err) {
    const e = err as grpc.ServiceError;
    console.log(JSON.stringify({ code: e.code, status: grpc.status[e.code], details: e.details }));
    process.exitCode = 1;
  }
}
