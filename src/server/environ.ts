/**
 * Building the environ (SPEC §2) from what a front-end parsed: one builder for HTTP/1.x, HTTP/2
 * streams and pushed requests, so the environ has the same fields, in the same order (one
 * hidden class for the app's property reads), on every path. The target is split here
 * (`protocol/target.ts`), and the request gets its id and its error stream.
 */
import type { BodyReader, Environ, ErrorStream, Features, HeaderList, Protocol } from '../gateway/types.ts';
import { splitTarget } from '../protocol/target.ts';

/** Where a server's error lines go. */
export type LogFn = (line: string) => void;

/** What the builder needs from the server: request ids and the log. */
export interface EnvironHost {
  log: LogFn;
  nextId: () => string;
}

/**
 * The connection's addresses: a `net.Socket`, an HTTP/2 session's facts, or the environ of the
 * request a push was made for all have this shape.
 */
export interface Peer {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly localAddress?: string | undefined;
  readonly localPort?: number | undefined;
}

/** What a front-end maps from its wire to the environ. */
export interface RequestFields {
  method: string;
  scheme: 'http' | 'https';
  target: string;
  protocol: Protocol;
  authority: string;
  headers: HeaderList;
  streamId: number | undefined;
  input: BodyReader;
  features: Features;
  signal: AbortSignal;
}

/**
 * The environ of one request. Throws the 400 `HttpError` of a malformed target (before a
 * request id is taken), which the front-end answers without running the app.
 */
export function buildEnviron(host: EnvironHost, peer: Peer, r: RequestFields): Environ {
  const { pathInfo, queryString } = splitTarget(r.target, r.method);
  const requestId = host.nextId();
  return {
    method: r.method,
    scheme: r.scheme,
    target: r.target,
    scriptName: '',
    pathInfo,
    queryString,
    protocol: r.protocol,
    authority: r.authority,
    headers: r.headers,
    remoteAddress: peer.remoteAddress ?? '',
    remotePort: peer.remotePort ?? 0,
    localAddress: peer.localAddress ?? '',
    localPort: peer.localPort ?? 0,
    requestId,
    streamId: r.streamId,
    input: r.input,
    errors: new RequestErrors(requestId, host.log),
    features: r.features,
    signal: r.signal,
  };
}

/** The per-request error stream: each line prefixed with the request id. */
export class RequestErrors implements ErrorStream {
  readonly #id: string;
  readonly #log: LogFn;
  constructor(id: string, log: LogFn) {
    this.#id = id;
    this.#log = log;
  }
  write(message: string): void {
    const text = message.endsWith('\n') ? message.slice(0, -1) : message;
    this.#log(`[hatchway ${this.#id}] ${text.replace(/\n/g, `\n[hatchway ${this.#id}] `)}`);
  }
}
