// The same hello handler on Fastify 5.
import Fastify from 'fastify';

const body = 'Hello, world!\n';
const app = Fastify({ logger: false });
app.get('/', (_req, reply) => {
  reply.type('text/plain; charset=utf-8').send(body);
});
await app.listen({ port: 0, host: '127.0.0.1' });
process.send!({ port: (app.server.address() as { port: number }).port });
process.on('disconnect', () => process.exit(0));
