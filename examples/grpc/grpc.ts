/**
 * A small gRPC server written as an hatchway HTTP/2 handler (`Http2App`): the gRPC-over-HTTP/2
 * wire format (length-prefixed messages, `grpc-status`/`grpc-message` trailers, `grpc-timeout`
 * deadlines) on top of `upgradeTo`. Messages are encoded with protobufjs from a `.proto` file.
 *
 * Served under hatchway's HTTP/2 front-end, the handler runs on the real stream, so
 * @grpc/grpc-js clients get real trailers; anywhere else it runs emulated, where a client
 * without `TE: trailers` gets the trailers escape's clear 400 (gRPC trailers are required).
 */
import protobuf from 'protobufjs';
import type { BodyReader } from '../../src/index.ts';
import type { Http2App, Http2AppStream } from '../../src/index.ts';

/** gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** An error a method throws to end its call with a given status. */
export class GrpcError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/** Per-call context handed to every method. */
export interface CallContext {
  /** Aborted when the deadline passes or the client cancels. */
  signal: AbortSignal;
  /** The request's metadata (headers), names lowercase. */
  metadata: [string, string][];
}

export type Message = Record<string, unknown>;
export type UnaryMethod = (request: Message, ctx: CallContext) => Promise<Message> | Message;
export type ServerStreamMethod = (request: Message, ctx: CallContext, send: (reply: Message) => Promise<void>) => Promise<void>;
export type ClientStreamMethod = (requests: AsyncIterable<Message>, ctx: CallContext) => Promise<Message>;
export type Implementation = Record<string, UnaryMethod | ServerStreamMethod | ClientStreamMethod>;

const MAX_MESSAGE = 4 * 1024 * 1024;
const UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000001 };

/** Parses `grpc-timeout` (1–8 digits and a unit) into milliseconds. */
export function parseTimeout(value: string | undefined): number | undefined {
  const m = value === undefined ? null : /^(\d{1,8})([HMSmun])$/.exec(value);
  return m ? Number(m[1]) * UNITS[m[2]!]! : undefined;
}

/** Frames one message: compressed flag 0, 4-byte big-endian length, the bytes. */
export function frame(message: Uint8Array): Uint8Array {
  const length = message.byteLength;
  const out = new Uint8Array(5 + length);
  out[1] = length >>> 24;
  out[2] = (length >>> 16) & 0xff;
  out[3] = (length >>> 8) & 0xff;
  out[4] = length & 0xff;
  out.set(message, 5);
  return out;
}

/** Reads length-prefixed messages from a request body, however the bytes are split. */
export async function* readMessages(body: BodyReader): AsyncGenerator<Uint8Array> {
  let buffer: Uint8Array = new Uint8Array(0);
  for await (const chunk of body) {
    buffer = buffer.byteLength === 0 ? chunk : join(buffer, chunk);
    for (let taken = takeMessage(buffer); taken !== undefined; taken = takeMessage(buffer)) {
      yield taken[0];
      buffer = taken[1];
    }
  }
  if (buffer.byteLength > 0) throw new GrpcError(Status.INTERNAL, 'the request ended inside a message');
}

/**
 * grpc-message is percent-encoded (gRPC over HTTP/2 spec): the UTF-8 bytes outside
 * 0x20–0x7E, and '%' itself, become %XX; everything else stays as it is.
 */
export function encodeMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Takes the first complete message off `buffer`: the message and the rest, or `undefined` for more bytes. */
function takeMessage(buffer: Uint8Array): [Uint8Array, Uint8Array] | undefined {
  if (buffer.byteLength < 5) return undefined;
  if (buffer[0] !== 0) throw new GrpcError(Status.UNIMPLEMENTED, 'compressed messages are not supported');
  const length = ((buffer[1]! << 24) | (buffer[2]! << 16) | (buffer[3]! << 8) | buffer[4]!) >>> 0;
  if (length > MAX_MESSAGE) throw new GrpcError(Status.RESOURCE_EXHAUSTED, `message larger than ${MAX_MESSAGE} bytes`);
  if (buffer.byteLength < 5 + length) return undefined;
  return [buffer.subarray(5, 5 + length), buffer.subarray(5 + length)];
}

/**
 * The one message of a unary request (or of a server stream's request): reads until it is
 * complete — one read, as a rule — with plain awaits rather than generators, since it runs on
 * every call.
 */
async function oneMessage(body: BodyReader): Promise<Uint8Array> {
  let buffer: Uint8Array | undefined;
  for (let chunk = await body.read(); chunk !== null; chunk = await body.read()) {
    buffer = buffer === undefined ? chunk : join(buffer, chunk);
    const taken = takeMessage(buffer);
    if (taken !== undefined) return taken[0];
  }
  throw new GrpcError(Status.INTERNAL, buffer === undefined ? 'no request message' : 'the request ended inside a message');
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.byteLength + b.byteLength);
  joined.set(a);
  joined.set(b, a.byteLength);
  return joined;
}

// Per call these never change: one list and one options object for every response.
const RESPONSE_HEADERS: [string, string][] = [['content-type', 'application/grpc+proto']];
const RESPOND_OPTIONS = { waitForTrailers: true, requireTrailers: true } as const;
const OK_TRAILERS: [string, string][] = [['grpc-status', '0']];

function trailersOf(code: number, message: string): [string, string][] {
  if (code === Status.OK && message === '') return OK_TRAILERS;
  const trailers: [string, string][] = [['grpc-status', String(code)]];
  if (message) trailers.push(['grpc-message', encodeMessage(message)]);
  return trailers;
}

/** The end of a failed call: its status from a {@link GrpcError}, UNKNOWN for anything else. */
function failure(err: unknown): [string, string][] {
  if (err instanceof GrpcError) return trailersOf(err.code, err.message);
  return trailersOf(Status.UNKNOWN, err instanceof Error ? err.message : String(err));
}

/**
 * An `Http2App` serving `service` (a fully qualified name in `root`) with `impl`. Route it
 * under `/<service>/` with `upgradeTo`.
 */
export function grpcService(root: protobuf.Root, service: string, impl: Implementation): Http2App {
  const definition = root.lookupService(service);
  const methods = new Map<string, protobuf.Method>(
    Object.values(definition.methods).map((m) => {
      m.resolve();
      return [`/${service}/${m.name}`, m] as const;
    }),
  );
  return async (stream, environ) => {
    const metadata = environ.headers;
    let contentType = '';
    let timeoutField: string | undefined;
    for (let i = 0; i < metadata.length; i++) {
      const [name, value] = metadata[i]!;
      if (name === 'content-type') contentType = value;
      else if (name === 'grpc-timeout') timeoutField = value;
    }
    const timeout = parseTimeout(timeoutField);
    // A call ends early when the client cancels (the stream's signal) or its deadline passes: a
    // controller of its own only for the deadline.
    const deadline = timeout === undefined ? undefined : new AbortController();
    const signal = deadline === undefined ? stream.signal : AbortSignal.any([stream.signal, deadline.signal]);
    const timer = deadline && setTimeout(() => deadline.abort(new GrpcError(Status.DEADLINE_EXCEEDED, 'deadline exceeded')), timeout);
    stream.respond(200, RESPONSE_HEADERS, RESPOND_OPTIONS);
    try {
      const method = methods.get(environ.scriptName + environ.pathInfo);
      if (environ.method !== 'POST' || !contentType.startsWith('application/grpc')) throw new GrpcError(Status.INTERNAL, 'not a gRPC request');
      if (!method) throw new GrpcError(Status.UNIMPLEMENTED, `unknown method ${environ.pathInfo}`);
      const fn = impl[method.name];
      if (!fn) throw new GrpcError(Status.UNIMPLEMENTED, `${method.name} is not implemented`);
      const ctx: CallContext = { signal, metadata };
      const work = callMethod(method, fn, stream, ctx);
      // The deadline ends the call even if the method ignores ctx.signal.
      const reply = deadline === undefined ? await work : await Promise.race([work, aborted(signal)]);
      stream.end(reply, OK_TRAILERS);
    } catch (err) {
      deadline?.abort();
      stream.end(undefined, failure(err));
    } finally {
      clearTimeout(timer);
    }
  };
}

const TO_OBJECT = { defaults: true };

function decode(type: protobuf.Type, bytes: Uint8Array): Message {
  return type.toObject(type.decode(bytes), TO_OBJECT) as Message;
}

function encode(type: protobuf.Type, reply: Message): Uint8Array {
  return frame(type.encode(type.fromObject(reply)).finish());
}

/** Runs one call of `method`: resolves with its last frame (a server stream's are written as they come). */
async function callMethod(method: protobuf.Method, fn: Implementation[string], stream: Http2AppStream, ctx: CallContext): Promise<Uint8Array | undefined> {
  const requestType = method.resolvedRequestType!;
  const responseType = method.resolvedResponseType!;
  if (method.requestStream) {
    const requests = (async function* () {
      for await (const bytes of readMessages(stream.body)) yield decode(requestType, bytes);
    })();
    return encode(responseType, await (fn as ClientStreamMethod)(requests, ctx));
  }
  const request = decode(requestType, await oneMessage(stream.body));
  if (!method.responseStream) return encode(responseType, await (fn as UnaryMethod)(request, ctx));
  const signal = ctx.signal;
  await (fn as ServerStreamMethod)(request, ctx, async (reply) => {
    if (signal.aborted) throw signal.reason ?? new GrpcError(Status.CANCELLED, 'cancelled');
    if (!stream.write(encode(responseType, reply))) await stream.drained();
  });
  return undefined;
}

/** Rejects with the signal's reason once it aborts. */
function aborted(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

export type { Http2AppStream };
