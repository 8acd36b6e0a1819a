// The hello handler on Fastify 5: HTTP/1.1, or with `http2` its HTTP/2 mode (h2c, or TLS with `tls`).
import Fastify, { type FastifyInstance } from 'fastify';
import { config, HELLO, portOf, ready, tlsFiles } from './common.ts';

// The HTTP/2 instance has other server types; the route is the same.
const app = (config.http2 ? Fastify({ logger: false, http2: true, ...(config.tls ? { https: tlsFiles() } : {}) }) : Fastify({ logger: false })) as unknown as FastifyInstance;
app.get('/', (_req, reply) => {
  reply.type('text/plain; charset=utf-8').send(HELLO);
});
await app.listen({ port: 0, host: '127.0.0.1' });
ready(portOf(app.server));
