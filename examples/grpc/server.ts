/**
 * gRPC and REST on one port, behind one middleware chain: `hatchway serve examples/grpc/server.ts`.
 *
 *   POST /hatchway.example.Echo/*   the Echo gRPC service (HTTP/2: @grpc/grpc-js, h2c or TLS)
 *   GET  /api/hello                 an ordinary REST route (HTTP/1.1 or HTTP/2)
 *
 * Every request needs `authorization: Bearer letmein`; the ordinary auth middleware's 401 is
 * what a gRPC client sees as UNAUTHENTICATED.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { compose, getHeader, onBodyClose, upgradeTo, interceptHttp2, type App, type Middleware } from '../../src/index.ts';
import { GrpcError, grpcService, type CallContext, type Message } from './grpc.ts';

export const PROTO = fileURLToPath(new URL('./echo.proto', import.meta.url));
const root = protobuf.loadSync(PROTO);

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });

/** The Echo service: one implementation per call kind. */
export const echo = grpcService(root, 'hatchway.example.Echo', {
  Say: (request: Message) => ({ text: `you said: ${String(request.text)}` }),
  Repeat: async (request: Message, ctx: CallContext, send: (reply: Message) => Promise<void>) => {
    for (let i = 1; i <= Number(request.count); i++) {
      if (Number(request.delay_ms ?? request.delayMs ?? 0) > 0) await sleep(Number(request.delay_ms ?? request.delayMs), ctx.signal);
      await send({ text: `${String(request.text)} #${i}` });
    }
  },
  Join: async (requests: AsyncIterable<Message>) => {
    const parts: string[] = [];
    for await (const m of requests) parts.push(String(m.text));
    return { text: parts.join(' ') };
  },
  Fail: (request: Message) => {
    throw new GrpcError(Number(request.code), String(request.message));
  },
});

/** Refuses requests without the bearer token with an ordinary 401. */
export const auth: Middleware = (app) => (environ, startResponse) => {
  if (getHeader(environ.headers, 'authorization') !== 'Bearer letmein') {
    startResponse(401, [['www-authenticate', 'Bearer'], ['content-type', 'text/plain']]);
    return ['unauthorized\n'];
  }
  return app(environ, startResponse);
};

/** Logs every response, and every HTTP/2 handler's final status through the interception helper. */
export function logging(lines: string[] = []): Middleware {
  const log: Middleware = (app) => (environ, startResponse) => {
    let status = '-';
    const body = app(environ, (s, h, e) => {
      status = String(s);
      startResponse(s, h, e);
    });
    return onBodyClose(body, () => lines.push(`${environ.method} ${environ.target} ${status}`));
  };
  const h2 = interceptHttp2((handler, environ) => (stream, env) => {
    const respond = stream.respond.bind(stream);
    const end = stream.end.bind(stream);
    let status = 0;
    stream.respond = (s, headers, options) => {
      status = s;
      respond(s, headers, options);
    };
    stream.end = (chunk, trailers) => {
      const grpc = trailers?.find(([n]) => n === 'grpc-status')?.[1];
      lines.push(`h2 ${environ.target} ${status}${grpc === undefined ? '' : ` grpc-status=${grpc}`}`);
      end(chunk, trailers);
    };
    return handler(stream, env);
  });
  return (app) => log(h2(app));
}

const hello: App = (environ, startResponse) => {
  startResponse(200, [['content-type', 'application/json']]);
  return [JSON.stringify({ hello: 'world', protocol: environ.protocol })];
};

const grpc = upgradeTo(echo);

const router: App = (environ, startResponse) => {
  if (environ.pathInfo.startsWith('/hatchway.example.Echo/')) return grpc(environ, startResponse);
  if (environ.pathInfo === '/api/hello') return hello(environ, startResponse);
  startResponse(404, [['content-type', 'text/plain']]);
  return ['not found\n'];
};

/** Build the app with a log sink (tests read it). */
export function createApp(lines: string[] = []): App {
  return compose(logging(lines), auth)(router);
}

export default createApp([]);
