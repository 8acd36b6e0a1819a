/**
 * WebSocket over HTTP/2 (RFC 8441) with `ws`, which has no public API for it (ws#1458).
 *
 * `ws`'s public `handleUpgrade(req, socket, head)` runs over any Duplex. We give it an
 * HTTP/1-shaped request synthesized from the extended CONNECT (a fresh nonce as the key, the
 * client's subprotocols and extensions), and a Duplex over the HTTP/2 stream that reads ws's
 * `101` header block on its first write and answers the stream with `:status 200` and the
 * negotiated `sec-websocket-protocol`/`sec-websocket-extensions` instead (RFC 8441 §5). Frames
 * then flow as DATA in both directions, with the stream's flow control as backpressure.
 */
import { randomBytes } from 'node:crypto';
import type { ServerHttp2Stream } from 'node:http2';
import { constants } from 'node:http2';
import { Duplex } from 'node:stream';
import type { HeaderList } from '../gateway/types.ts';
import { responseHead } from '../protocol/http2-headers.ts';


/** A Duplex over an HTTP/2 stream that turns ws's 101 into an HTTP/2 200. */
export class H2WebSocketSocket extends Duplex {
  readonly #stream: ServerHttp2Stream;
  #responded = false;

  constructor(stream: ServerHttp2Stream) {
    super({ allowHalfOpen: false });
    this.#stream = stream;
    stream.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) stream.pause();
    });
    stream.on('end', () => this.push(null));
    stream.on('close', () => this.destroy());
    stream.on('error', (err) => this.destroy(err));
  }

  /** Pretend to be a socket for ws's readiness check. */
  get remoteAddress(): string | undefined {
    return this.#stream.session?.socket?.remoteAddress;
  }

  override _read(): void {
    this.#stream.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.#responded) {
      this.#responded = true;
      this.#respond(chunk.toString('latin1'));
      callback();
      return;
    }
    if (this.#stream.destroyed) {
      callback(new Error('stream closed'));
      return;
    }
    this.#stream.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#stream.destroyed || this.#stream.writableEnded) callback();
    else this.#stream.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const stream = this.#stream;
    if (!stream.destroyed) {
      // An error resets the stream without END_STREAM first (close(code) would end it, and the
      // peer would take a broken websocket for a clean end); a normal end closes it.
      if (error) stream.destroy(error);
      else stream.close(constants.NGHTTP2_NO_ERROR);
    }
    callback(error);
  }

  #respond(block: string): void {
    // ws refuses a bad handshake by writing an HTTP/1.1 error (400, 405…): that status, no body.
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(block)?.[1] ?? 500);
    if (status !== 101) {
      if (!this.#stream.headersSent && !this.#stream.destroyed) this.#stream.respond({ ':status': status }, { endStream: true });
      return;
    }
    const fields: HeaderList = [];
    const head = block.slice(0, block.indexOf('\r\n\r\n') === -1 ? undefined : block.indexOf('\r\n\r\n'));
    for (const line of head.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim();
      if (name.toLowerCase() !== 'sec-websocket-accept') fields.push([name, line.slice(colon + 1).trim()]);
    }
    // RFC 8441 §5: a 200, and no Upgrade, Connection or Sec-WebSocket-Accept; the shared HTTP/2
    // head rules drop the connection-specific fields and lowercase the names.
    this.#stream.respond(responseHead(200, fields, undefined));
  }
}

/** The HTTP/1-shaped request ws validates and negotiates from, built from the CONNECT's fields. */
export function handshakeRequest(headers: HeaderList, path: string): { method: string; url: string; headers: Record<string, string>; socket: object } {
  const h: Record<string, string> = {
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': randomBytes(16).toString('base64'),
  };
  for (const [name, value] of headers) {
    if (name === 'sec-websocket-version' || name === 'sec-websocket-protocol' || name === 'sec-websocket-extensions') {
      h[name] = h[name] === undefined || name === 'sec-websocket-version' ? value : `${h[name]}, ${value}`;
    }
  }
  return { method: 'GET', url: path, headers: h, socket: {} };
}
