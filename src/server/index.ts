/**
 * hatchway's origin server.
 *
 * @example
 * ```ts
 * import { serve } from 'hatchway/server';
 * const server = await serve(app, { host: '127.0.0.1', port: 8000 });
 * process.on('SIGTERM', () => server.close());
 * ```
 *
 * @module
 */
export { Server, serve, type ServerOptions } from './server.ts';
export { StreamBodyReader } from './body-reader.ts';
export { whenDrained } from './drain.ts';
