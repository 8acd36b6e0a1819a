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
  const out = new Uint8Array(5 + message.byteLength);
  new DataView(out.buffer).setUint32(1, message.byteLength);
  out.set(message, 5);
  return out;
}

/** Reads length-prefixed messages from a request body, however the bytes are split. */
export async function* readMessages(body: BodyReader): AsyncGenerator<Uint8Array> {
  let buffer = new Uint8Array(0);
  for await (const chunk of body) {
    const joined = new Uint8Array(buffer.byteLength + chunk.byteLength);
    joined.set(buffer);
    joined.set(chunk, buffer.byteLength);
    buffer = joined;
    while (buffer.byteLength >= 5) {
      if (buffer[0] !== 0) throw new GrpcError(Status.UNIMPLEMENTED, 'compressed messages are not supported');
      const length = new DataView(buffer.buffer, buffer.byteOffset).getUint32(1);
      if (length > MAX_MESSAGE) throw new GrpcError(Status.RESOURCE_EXHAUSTED, `message larger than ${MAX_MESSAGE} bytes`);
      if (buffer.byteLength < 5 + length) break;
      yield buffer.slice(5, 5 + length);
      buffer = buffer.subarray(5 + length);
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
    const contentType = metadata.find(([n]) => n === 'content-type')?.[1] ?? '';
    const controller = new AbortController();
    stream.signal.addEventListener('abort', () => controller.abort(), { once: true });
    const timeout = parseTimeout(metadata.find(([n]) => n === 'grpc-timeout')?.[1]);
    const timer = timeout === undefined ? undefined : setTimeout(() => controller.abort(new GrpcError(Status.DEADLINE_EXCEEDED, 'deadline exceeded')), timeout);
    stream.respond(200, [['content-type', 'application/grpc+proto']], { waitForTrailers: true, requireTrailers: true });
    const finish = (code: number, message = '') => {
      if (timer) clearTimeout(timer);
      const trailers: [string, string][] = [['grpc-status', String(code)]];
      if (message) trailers.push(['grpc-message', encodeMessage(message)]);
      stream.end(undefined, trailers);
    };
    try {
      const method = methods.get(environ.scriptName + environ.pathInfo);
      if (environ.method !== 'POST' || !contentType.startsWith('application/grpc')) throw new GrpcError(Status.INTERNAL, 'not a gRPC request');
      if (!method) throw new GrpcError(Status.UNIMPLEMENTED, `unknown method ${environ.pathInfo}`);
      const fn = impl[method.name];
      if (!fn) throw new GrpcError(Status.UNIMPLEMENTED, `${method.name} is not implemented`);
      const requestType = method.resolvedRequestType!;
      const responseType = method.resolvedResponseType!;
      const ctx: CallContext = { signal: controller.signal, metadata };
      const send = async (reply: Message) => {
        if (controller.signal.aborted) throw controller.signal.reason ?? new GrpcError(Status.CANCELLED, 'cancelled');
        if (!stream.write(frame(responseType.encode(responseType.fromObject(reply)).finish()))) await stream.drained();
      };
      const requests = (async function* () {
        for await (const bytes of readMessages(stream.body)) yield requestType.toObject(requestType.decode(bytes), { defaults: true }) as Message;
      })();
      const work = (async () => {
        if (method.requestStream) {
          await send(await (fn as ClientStreamMethod)(requests, ctx));
        } else {
          const first = await requests.next();
          if (first.done) throw new GrpcError(Status.INTERNAL, 'no request message');
          if (method.responseStream) await (fn as ServerStreamMethod)(first.value, ctx, send);
          else await send(await (fn as UnaryMethod)(first.value, ctx));
        }
      })();
      // The deadline ends the call even if the method ignores ctx.signal.
      const deadline = new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true }));
      await Promise.race([work, deadline]);
      finish(Status.OK);
    } catch (err) {
      controller.abort();
      if (err instanceof GrpcError) finish(err.code, err.message);
      else finish(Status.UNKNOWN, err instanceof Error ? err.message : String(err));
    }
  };
}

export type { Http2AppStream };
