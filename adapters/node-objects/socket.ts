/**
 * The socket behind an adapted request: what `req.socket`/`res.socket` are when a Node
 * listener runs inside hatchway.
 */
import { isIP } from 'node:net';
import { Duplex } from 'node:stream';
import { HatchwayError, type Environ } from '../../src/index.ts';

type Callback = (err?: Error | null) => void;

/** The exchange a socket belongs to: what the socket tells it, and what it asks. */
export interface SocketOwner {
  /** Bytes the response has written that the server has not taken yet (`writableLength`). */
  readonly pending: number;
  socketError(err: unknown): void;
  socketClosed(): void;
}

// One listener function for every socket (the socket is `this`), not a closure per request:
// V8 may allocate a stream's listener table in the old generation, and a young closure stored
// there keeps everything it reaches (the whole request) alive until the next full collection.
function onError(this: GatewaySocket, err: unknown): void {
  this.owner?.socketError(err);
}
function onClose(this: GatewaySocket): void {
  this.owner?.socketClosed();
}

/**
 * The socket behind an adapted request: the addresses of the real connection, `encrypted`
 * when the client used TLS, and nothing to read or write — the gateway owns the connection.
 * Timeouts are the server's (`setTimeout` never fires); writing to it is an error that aborts
 * the request.
 */
export class GatewaySocket extends Duplex {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Present (and `true`) only for TLS, like `tls.TLSSocket#encrypted`. */
  declare readonly encrypted?: true;
  /** The exchange this socket belongs to; told of errors and of the close. */
  owner: SocketOwner | undefined = undefined;

  constructor(environ: Environ) {
    super({ allowHalfOpen: true });
    this.remoteAddress = environ.remoteAddress;
    this.remotePort = environ.remotePort;
    this.localAddress = environ.localAddress;
    this.localPort = environ.localPort;
    if (environ.scheme === 'https') Object.defineProperty(this, 'encrypted', { value: true, enumerable: true });
    this.on('error', onError);
    this.on('close', onClose);
  }

  override _read(): void {}

  override _write(_chunk: unknown, _encoding: BufferEncoding, callback: Callback): void {
    callback(new HatchwayError('ERR_HATCHWAY_ADAPTER_SOCKET_WRITE'));
  }

  /** `'IPv4'` or `'IPv6'`; a getter, as on `net.Socket` (worked out only when asked). */
  get remoteFamily(): string | undefined {
    const family = isIP(this.remoteAddress);
    return family === 6 ? 'IPv6' : family === 4 ? 'IPv4' : undefined;
  }

  address(): { address: string; port: number; family: string } {
    const family = isIP(this.localAddress) === 6 ? 'IPv6' : 'IPv4';
    return { address: this.localAddress, port: this.localPort, family };
  }

  setTimeout(_msecs: number, callback?: () => void): this {
    if (callback) this.once('timeout', callback);
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }
}

// What the response has queued counts as the socket's unwritten bytes, as on a real socket: Node's
// `res.writableLength` and its end() (which waits for pending data before 'finish') read it.
Object.defineProperty(GatewaySocket.prototype, 'writableLength', {
  configurable: true,
  get(this: GatewaySocket): number {
    return this.owner?.pending ?? 0;
  },
});
