/**
 * `createServer(app, options)`: a hatchway server shaped as `http.Server` is for the tools
 * that expect one — supertest, test harnesses, shutdown helpers (`app.listen(0)` semantics,
 * as Fastify's `fastify.server` and Hono's node-server give).
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { App } from '../gateway/types.ts';
import { Server, type ServerOptions } from './server.ts';

/** Options of {@link createServer}: those of `Server`, less where to listen (that is `listen()`'s). */
export type NodeServerOptions = Omit<ServerOptions, 'host' | 'port' | 'path' | 'fd' | 'backlog'>;

/** What `listen()` takes as its first argument in object form, as `net.Server.listen(options)`. */
export interface ListenOptions {
  /** The TCP port (0: any free port). */
  port?: number;
  /** The address to bind (default: every address, as `http.Server` does). */
  host?: string;
  /** A unix socket path to listen on instead of TCP. */
  path?: string;
  /** An inherited file descriptor to listen on (systemd socket activation). */
  fd?: number;
  /** The listen queue's length (default 511). */
  backlog?: number;
}

/**
 * An EventEmitter that behaves as `http.Server` does for tools: `listen()` returns at once
 * — without a host (every interface) or with a path, the socket is already bound, so
 * `address()` answers right after it, as supertest's `app.listen(0)` expects — `'listening'`,
 * `'error'` (e.g. EADDRINUSE) and `'close'` are emitted, `close(cb)` is graceful (it finishes
 * requests in flight, up to `gracefulTimeout`), and `closeAllConnections()` cuts everything
 * off. One port speaks HTTP/1.1 and h2c (and TLS h2/http1.1 with `tls`), as every hatchway
 * server does. The hatchway {@link Server} is at {@link NodeServer.server} once listening,
 * and node's HTTP/1.x engine at {@link NodeServer.http1Server}.
 */
export class NodeServer extends EventEmitter {
  /** The app this server runs. */
  readonly app: App;
  /** The options it was created with, as given. */
  readonly options: Readonly<NodeServerOptions>;
  #server: Server | undefined;
  #listening = false;
  #unref = false;
  /**
   * Present so the object is a `net.Server` to TypeScript (supertest's `App` type); not
   * enforced: hatchway bounds work per request (`limitConcurrency` of the CLI, HTTP/2
   * `maxConcurrentStreams`), not by refusing connections.
   */
  maxConnections = Number.POSITIVE_INFINITY;

  constructor(app: App, options: NodeServerOptions = {}) {
    super();
    this.app = app;
    this.options = options;
    // Fail fast on a bad app, as Server would at listen().
    new Server(app, { ...options });
  }

  /** The hatchway server, once {@link listen} was called. */
  get server(): Server | undefined {
    return this.#server;
  }

  /** node's `http.Server` that runs HTTP/1.x, once {@link listen} was called. */
  get http1Server(): Server['http1Server'] | undefined {
    return this.#server?.http1Server;
  }

  /** True between `'listening'` and {@link close}. */
  get listening(): boolean {
    return this.#listening;
  }

  /**
   * Starts listening, as `http.Server.listen` does: `listen(port?, host?, backlog?, cb?)`,
   * `listen(path, cb?)` or `listen({ port, host, path, fd, backlog }, cb?)`. Returns at once;
   * `cb` runs on `'listening'`; a failure is an `'error'` event.
   */
  // The overloads of net.Server.listen, so that this is a net.Server to TypeScript (supertest).
  listen(port?: number, host?: string, backlog?: number, cb?: () => void): this;
  listen(port?: number, host?: string, cb?: () => void): this;
  listen(port?: number, backlog?: number, cb?: () => void): this;
  listen(port?: number, cb?: () => void): this;
  listen(path: string, backlog?: number, cb?: () => void): this;
  listen(path: string, cb?: () => void): this;
  listen(options: ListenOptions, cb?: () => void): this;
  /** A handle: only `{ fd }` is taken (an inherited socket). */
  listen(handle: ListenOptions, backlog?: number, cb?: () => void): this;
  listen(cb?: () => void): this;
  listen(...args: unknown[]): this {
    const cb = typeof args.at(-1) === 'function' ? (args.pop() as () => void) : undefined;
    let where: ListenOptions;
    const [first, second, third] = args;
    if (first !== null && typeof first === 'object') where = { ...(first as ListenOptions), ...(typeof second === 'number' ? { backlog: second } : {}) };
    else if (typeof first === 'string' && !/^\d+$/.test(first)) where = { path: first, backlog: typeof second === 'number' ? second : undefined };
    else where = { port: first === undefined ? 0 : Number(first), host: typeof second === 'string' ? second : undefined, backlog: typeof third === 'number' ? third : typeof second === 'number' ? second : undefined };
    if (this.#server) throw Object.assign(new Error('Listen method has been called more than once without closing.'), { code: 'ERR_SERVER_ALREADY_LISTEN' });
    const server = new Server(this.app, {
      ...this.options,
      port: where.port ?? 0,
      // No host: every interface, bound at once, as http.Server.listen(port) does ('' skips
      // the DNS lookup a named host takes, after which address() would still be null).
      host: where.host ?? '',
      ...(where.path !== undefined ? { path: where.path } : {}),
      ...(where.fd !== undefined ? { fd: where.fd } : {}),
      ...(where.backlog !== undefined ? { backlog: where.backlog } : {}),
    });
    this.#server = server;
    if (cb) this.once('listening', cb);
    if (this.#unref) server.unref();
    server.listen().then(
      () => {
        this.#listening = true;
        this.emit('listening');
      },
      (err: unknown) => {
        this.#server = undefined;
        this.emit('error', err);
      },
    );
    return this;
  }

  /** The bound address, as `net.Server.address()`: an `AddressInfo`, a path for a unix socket, or `null`. */
  address(): AddressInfo | string | null {
    if (!this.#server) return null;
    return (this.#server.address() as AddressInfo | string | null) ?? null;
  }

  /**
   * Stops accepting, finishes requests in flight (up to `gracefulTimeout`) and closes every
   * connection; then `'close'`, and `cb()`. Not listening: `cb` gets `ERR_SERVER_NOT_RUNNING`.
   */
  close(cb?: (err?: Error) => void): this {
    const server = this.#server;
    if (!server) {
      const err = Object.assign(new Error('Server is not running.'), { code: 'ERR_SERVER_NOT_RUNNING' });
      if (cb) queueMicrotask(() => cb(err));
      return this;
    }
    this.#listening = false;
    server.close().then(
      () => {
        if (this.#server === server) this.#server = undefined;
        this.emit('close');
        cb?.();
      },
      (err: Error) => {
        this.emit('error', err);
        cb?.(err);
      },
    );
    return this;
  }

  /** Open connections, as `net.Server.getConnections(cb)`. */
  getConnections(cb: (error: Error | null, count: number) => void): this {
    const count = this.#server?.connections ?? 0;
    queueMicrotask(() => cb(null, count));
    return this;
  }

  /** Open connections (`net.Server.connections`, deprecated there: prefer {@link getConnections}). */
  get connections(): number {
    return this.#server?.connections ?? 0;
  }

  /** As `net.Server.ref()`. */
  ref(): this {
    this.#unref = false;
    this.#server?.ref();
    return this;
  }

  /** As `net.Server.unref()`: the listening socket alone does not keep the process alive (kept across listen()). */
  unref(): this {
    this.#unref = true;
    this.#server?.unref();
    return this;
  }

  /** Cuts off every connection now (HTTP/2 sessions and upgraded sockets too). */
  closeAllConnections(): void {
    this.#server?.closeAllConnections();
  }

  /** Closes idle HTTP/1.1 keep-alive connections. */
  closeIdleConnections(): void {
    this.#server?.closeIdleConnections();
  }

  /** `await using server = createServer(app).listen(0)` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#server) return;
    await new Promise<void>((resolve) => this.close(() => resolve()));
  }
}

/**
 * Creates a server for `app` that behaves as `http.createServer()`'s does for tools.
 *
 * @example
 * ```ts
 * import { createServer } from 'hatchway/server';
 * import { fromNodeListener } from 'hatchway/adapters/node';
 * import express from 'express';
 *
 * const api = express().get('/users/:id', (req, res) => res.json({ id: req.params.id }));
 * const server = createServer(fromNodeListener(api)).listen(3000, '127.0.0.1', () => {
 *   console.log('listening on', server.address());
 * });
 * process.on('SIGTERM', () => server.close());
 *
 * // In a test, supertest takes it as it takes an http.Server:
 * //   await request(createServer(app)).get('/users/7').expect(200);
 * ```
 */
export function createServer(app: App, options?: NodeServerOptions): NodeServer {
  return new NodeServer(app, options);
}
