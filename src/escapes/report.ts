/**
 * The server side of the report extension (SPEC §7.9, `hatchway.report`): a sink between the
 * escape sink and the front-end that sees what really goes on the wire — the status of the
 * head, of a websocket handshake, of an HTTP/2 handler's `respond()` — counts the body bytes,
 * and tells the listeners once the response is over. It is put in place only when a listener
 * registers, so a request nobody asks about pays nothing.
 */
import { chunkLength, type FileBody } from '../gateway/body.ts';
import { formatError } from '../gateway/error-response.ts';
import type { ReportedEscape, ResponseReport } from '../gateway/report.ts';
import type { Chunk, Environ, HeaderList } from '../gateway/types.ts';
import type { EscapeCapableSink, EscapeDecision } from './capabilities.ts';
import type { ProtocolFamily } from './degrade.ts';
import type { Http2AppStream, Http2Registration } from './http2-app.ts';
import type { PushResource } from './push.ts';
import type { WebSocketRegistration } from './websocket.ts';
import type { WebSocket } from 'ws';
import type { Duplex } from 'node:stream';
import type { UpgradeRegistration } from './upgrade.ts';

/** Observes one response on its way to the front-end's sink. */
export class Reporter implements EscapeCapableSink {
  readonly #inner: EscapeCapableSink;
  readonly #environ: Environ;
  readonly #listeners: ((report: ResponseReport) => void)[] = [];
  #status = 0;
  #bytes = 0;
  #aborted = false;
  #reported = false;
  escape: ReportedEscape | undefined;
  acceptWebSocket?: EscapeCapableSink['acceptWebSocket'];
  push?: EscapeCapableSink['push'];
  http2?: EscapeCapableSink['http2'];
  acceptUpgrade?: EscapeCapableSink['acceptUpgrade'];
  earlyHints?: EscapeCapableSink['earlyHints'];

  constructor(inner: EscapeCapableSink, environ: Environ, family: ProtocolFamily) {
    this.#inner = inner;
    this.#environ = environ;
    if (inner.acceptWebSocket) {
      this.acceptWebSocket = (headers: HeaderList, registration: WebSocketRegistration, env: Environ, onSocket: (ws: WebSocket) => void) =>
        inner.acceptWebSocket!(headers, registration, env, (ws) => {
          this.#status = family === 'HTTP/1' ? 101 : 200; // RFC 6455 §4.2.2; RFC 8441 §5
          try {
            onSocket(ws);
          } finally {
            this.finish();
          }
        });
    }
    if (inner.acceptUpgrade) {
      this.acceptUpgrade = (headers: HeaderList, protocol: string, registration: UpgradeRegistration, env: Environ, onConnection: (duplex: Duplex) => void) =>
        inner.acceptUpgrade!(headers, protocol, registration, env, (duplex) => {
          // RFC 9110 §15.2.2 (101) for an HTTP/1.1 Upgrade; a tunnel, or RFC 8441, is a 200.
          this.#status = family === 'HTTP/1' && environ.method !== 'CONNECT' ? 101 : 200;
          try {
            onConnection(duplex);
          } finally {
            this.finish();
          }
        });
    }
    if (inner.push) this.push = (resources: PushResource[]) => inner.push!(resources);
    if (inner.earlyHints) this.earlyHints = (links: string[]) => inner.earlyHints!(links);
    if (inner.http2) {
      this.http2 = (registration: Http2Registration, headers: HeaderList, env: Environ) => {
        return inner.http2!({ ...registration, handler: (stream, e) => registration.handler(this.#observe(stream), e) }, headers, env);
      };
    }
  }

  /** Adds a listener (before the response is over). */
  listen(listener: (report: ResponseReport) => void): void {
    this.#listeners.push(listener);
  }

  /** Takes the escape sink's decision for the response (not a fallback's). */
  decided(decision: EscapeDecision): void {
    if (!decision.fallback) this.escape ??= { kind: decision.kind, situation: decision.situation, outcome: decision.outcome };
  }

  get closed(): boolean {
    return this.#inner.closed;
  }

  head(status: number, reason: string | undefined, headers: HeaderList, length: number | undefined, trailers?: boolean): void {
    this.#status = status;
    this.#inner.head(status, reason, headers, length, trailers);
  }

  write(chunk: Chunk): boolean {
    this.#bytes += chunkLength(chunk);
    return this.#inner.write(chunk);
  }

  drained(): Promise<void> {
    return this.#inner.drained();
  }

  end(chunk?: Chunk, trailers?: HeaderList): void {
    if (chunk !== undefined) this.#bytes += chunkLength(chunk);
    this.#inner.end(chunk, trailers);
    this.finish();
  }

  async file(status: number, reason: string | undefined, headers: HeaderList, body: FileBody, size: number, bodyless: boolean): Promise<void> {
    this.#status = status;
    // Counted before the send: the front-end may see its transport close (and the backstop
    // report) before the file's promise settles.
    if (!bodyless) this.#bytes += size;
    try {
      await this.#inner.file(status, reason, headers, body, size, bodyless);
    } catch (err) {
      this.#aborted = true;
      throw err;
    } finally {
      this.finish();
    }
  }

  abort(error: unknown): void {
    this.#aborted = true;
    this.#inner.abort(error);
    this.finish();
  }

  /** Reports once: at the end of the response, or (a backstop) when the request's registrations are released. */
  finish(): void {
    if (this.#reported) return;
    this.#reported = true;
    const aborted = this.#aborted || this.#status === 0;
    const report: ResponseReport = { status: this.#status, bytes: this.#bytes, protocol: this.#environ.protocol, escape: this.escape, aborted };
    for (const listener of this.#listeners) {
      try {
        listener(report);
      } catch (err) {
        this.#environ.errors.write(formatError(err));
      }
    }
  }

  /** The handler's stream, seen: its status and body bytes are what was sent. */
  #observe(stream: Http2AppStream): Http2AppStream {
    const respond = stream.respond;
    const write = stream.write;
    const end = stream.end;
    stream.respond = (status, headers, options) => {
      this.#status = status;
      respond.call(stream, status, headers, options);
    };
    stream.write = (chunk) => {
      this.#bytes += chunkLength(chunk);
      return write.call(stream, chunk);
    };
    stream.end = (chunk, trailers) => {
      if (chunk !== undefined) this.#bytes += chunkLength(chunk);
      end.call(stream, chunk, trailers);
    };
    return stream;
  }
}
