/**
 * hatchway's origin server: one port for HTTP/1.1, h2c and (with `tls`) HTTP/2 over TLS.
 * {@link serve} is the promise form; {@link createServer} gives an object that behaves as
 * `http.Server` does, for tools such as supertest.
 *
 * @example
 * ```ts
 * import { serve } from 'hatchway/server';
 * const server = await serve(app, { host: '127.0.0.1', port: 8000 });
 * process.on('SIGTERM', () => server.close());
 * ```
 *
 * @example
 * ```ts
 * import { createServer } from 'hatchway/server';
 * const server = createServer(app).listen(8000, '127.0.0.1', () => console.log(server.address()));
 * ```
 *
 * @module hatchway/server
 */
export { Server, serve, type ServerOptions } from './server.ts';
export { NodeServer, createServer, type NodeServerOptions, type ListenOptions } from './node-server.ts';
export { StreamBodyReader } from './body-reader.ts';
export { whenDrained } from './drain.ts';
