/**
 * fromConnect / toConnect: real npm middleware around a hatchway app, side by side with the
 * same middleware around an Express route on node:http; and hatchway apps and middleware
 * mounted in Express.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import t from 'tap';
import createError from 'http-errors';
import bodyParser from 'body-parser';
import compression from 'compression';
import cookieParser from 'cookie-parser';
import cors from 'cors';
import express from 'express';
import session from 'express-session';
import helmet from 'helmet';
import morgan from 'morgan';
import { compose, type App, type Chunk, type HeaderList, type Middleware } from '../../src/index.ts';
import { CONNECT_REQ, fromConnect, toConnect, type ConnectErrorMiddleware, type ConnectMiddleware } from '../../adapters/connect.ts';
import { fromNodeListener } from '../../adapters/node.ts';
import { compareAll, cookieNames, listenHatchway, listenNative, sameReply, send, until, type Case, logSink } from './side-by-side.ts';

interface Seen {
  body?: unknown;
  cookies?: unknown;
  signedCookies?: unknown;
  session?: Record<string, unknown>;
}


const rewrite: ConnectMiddleware = (req, _res, next) => {
  if (req.url === '/old') req.url = '/new?from=old';
  req.headers['x-user'] = 'ada';
  const override = req.headers['x-http-method-override'];
  if (typeof override === 'string') req.method = override;
  next();
};

/** An error middleware that answers with the plain Node API (no Express prototype needed). */
const onError: ConnectErrorMiddleware = (err, _req, res, _next) => {
  res.statusCode = (err as { status?: number }).status ?? 500;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ error: (err as Error).message }));
};

/**
 * The middleware stack, in Express order. An Express error middleware sits after what it
 * covers; a hatchway one *around* what it covers — so for hatchway it moves to just outside
 * the first middleware that can fail (the body parsers), which keeps the layers outside it
 * (helmet, cors, compression, session, morgan) working on its answer, as on a single res.
 */
function stack(log: Writable, forHatchway: boolean): Array<ConnectMiddleware | ConnectErrorMiddleware> {
  const list: Array<ConnectMiddleware | ConnectErrorMiddleware> = [
    morgan('combined', { stream: log }) as ConnectMiddleware,
    helmet() as ConnectMiddleware,
    cors({ origin: 'https://client.example', credentials: true, exposedHeaders: ['x-app'] }) as ConnectMiddleware,
    compression({ threshold: 256 }) as unknown as ConnectMiddleware,
    cookieParser('cookie-secret') as ConnectMiddleware,
    session({ secret: 'session-secret', name: 'sid', resave: false, saveUninitialized: false }) as unknown as ConnectMiddleware,
    bodyParser.json() as ConnectMiddleware,
    bodyParser.urlencoded({ extended: false }) as ConnectMiddleware,
    rewrite,
  ];
  if (forHatchway) list.splice(6, 0, onError);
  else list.push(onError);
  return list;
}

/** What the app answers: a description of the request as the middleware left it. */
function describe(method: string, path: string, query: string, headers: Record<string, unknown>, seen: Seen): string {
  if (path === '/login' && seen.session) seen.session.user = (seen.body as { user?: string }).user;
  return JSON.stringify({
    method,
    path,
    query,
    user: headers['x-user'],
    body: seen.body,
    cookies: seen.cookies,
    signed: seen.signedCookies,
    sessionUser: seen.session?.user ?? null,
  });
}

const BIG = 'a compressible line of text\n'.repeat(200);

/** The route, natively. */
function route(req: IncomingMessage & Seen & { path?: string; query?: unknown }, res: ServerResponse): void {
  const url = new URL(req.url!, 'http://x');
  if (url.pathname === '/throw') throw Object.assign(new Error('teapot'), { status: 418 });
  res.setHeader('content-type', 'application/json');
  res.setHeader('x-app', 'yes');
  if (url.pathname === '/big') {
    res.setHeader('content-type', 'text/plain');
    res.end(BIG);
    return;
  }
  if (url.pathname === '/stream') {
    res.setHeader('content-type', 'text/plain');
    res.write('one\n');
    setImmediate(() => {
      res.write('two\n');
      res.end('three\n');
    });
    return;
  }
  res.end(describe(req.method!, url.pathname, url.search.slice(1), req.headers, req));
}

/** The same route as a hatchway app. */
const app: App = (environ, startResponse) => {
  const req = environ[CONNECT_REQ] as IncomingMessage & Seen;
  if (environ.pathInfo === '/throw') throw Object.assign(new Error('teapot'), { status: 418 });
  if (environ.pathInfo === '/big') {
    startResponse(200, [['content-type', 'text/plain'], ['x-app', 'yes']]);
    return [BIG];
  }
  if (environ.pathInfo === '/stream') {
    startResponse(200, [['content-type', 'text/plain'], ['x-app', 'yes']]);
    return (async function* (): AsyncGenerator<Chunk> {
      yield 'one\n';
      await new Promise((resolve) => setImmediate(resolve));
      yield 'two\n';
      yield 'three\n';
    })();
  }
  const headers = Object.fromEntries(environ.headers);
  startResponse(200, [['content-type', 'application/json'], ['x-app', 'yes']]);
  return [describe(environ.method, environ.pathInfo, environ.queryString, headers, req)];
};

const cases: Case[] = [
  { name: 'a plain GET', path: '/hello?x=1&y=%20' },
  { name: 'cookies parsed (signed and unsigned)', path: '/c', headers: { cookie: 'plain=1; signed=s%3Atwo.fJVH%2FpS4ew%2BDnwjsUOImMGhoQMy8EdlXp%2BVdeJQaUsE' } },
  { name: 'a JSON body, parsed by body-parser', method: 'POST', path: '/json', headers: { 'content-type': 'application/json' }, body: '{"a":[1,2,{"b":null}]}' },
  { name: 'a malformed JSON body: body-parser errors go to the error middleware', method: 'POST', path: '/json', headers: { 'content-type': 'application/json' }, body: '{' },
  { name: 'an urlencoded body', method: 'POST', path: '/form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=%C3%A9' },
  { name: 'a URL rewritten by middleware', path: '/old' },
  { name: 'a method overridden by middleware', method: 'POST', path: '/m', headers: { 'x-http-method-override': 'PATCH' } },
  { name: 'compression of a big body', path: '/big', headers: { 'accept-encoding': 'gzip' } },
  { name: 'compression of a streamed body', path: '/stream', headers: { 'accept-encoding': 'gzip' } },
  { name: 'a streamed body, uncompressed', path: '/stream' },
  { name: 'CORS: a preflight never reaches the app', method: 'OPTIONS', path: '/json', headers: { origin: 'https://client.example', 'access-control-request-method': 'POST' } },
  { name: 'CORS: a simple request', path: '/hello', headers: { origin: 'https://client.example' } },
  { name: 'an error from the app reaches the error middleware', path: '/throw' },
  {
    name: 'HEAD',
    method: 'HEAD',
    path: '/hello',
  },
];

t.test('middleware around a hatchway app answers as around an Express route', async (t) => {
  const nativeLog = logSink();
  const hatchLog = logSink();
  const native = express();
  native.disable('x-powered-by');
  const list = stack(nativeLog.stream, false);
  for (const mw of list.slice(0, -1)) native.use(mw as express.RequestHandler);
  native.use(route as unknown as express.RequestHandler);
  native.use(list.at(-1) as express.ErrorRequestHandler);
  const n = await listenNative(t, native);
  const h = await listenHatchway(t, compose(...stack(hatchLog.stream, true).map(fromConnect))(app));

  await compareAll(t, n.url, h.url, cases);

  // A session: the id is random per host; the rest must match.
  const login = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"grace"}' };
  const a = await send(n.url, '/login', login);
  const b = await send(h.url, '/login', login);
  sameReply(t, a, b, 'session: login', { differing: ['set-cookie'] });
  t.same(cookieNames(b, ['sid']), cookieNames(a, ['sid']));
  const sid = (r: typeof a) => String(r.headers['set-cookie']![0]!.split(';')[0]);
  sameReply(t, await send(n.url, '/me', { headers: { cookie: sid(a) } }), await send(h.url, '/me', { headers: { cookie: sid(b) } }), 'session: read back');

  t.ok(await until(() => hatchLog.lines.length === nativeLog.lines.length), 'morgan logged every request on both');
  t.same(hatchLog.lines, nativeLog.lines, 'morgan saw the same requests and responses');
  t.same(h.logs, [], 'no errors logged by hatchway');
});

t.test('a body the middleware does not touch passes through byte for byte, and middleware headers keep their order', async (t) => {
  const token = 'hatchway-token:\u00e9\u{1F600}';
  let chunks: unknown[] = [];
  let outHeaders: HeaderList = [];
  const spyApp: App = (_environ, startResponse) => {
    startResponse(200, [['content-type', 'application/x-hatchway-escape'], ['hatchway-escape', 'websocket hw1.x'], ['set-cookie', 'app=1']]);
    return [token];
  };
  const record: Middleware = (inner) => (environ, startResponse) => {
    const body = inner(environ, (status, headers, excInfo) => {
      outHeaders = headers;
      startResponse(status, headers, excInfo);
    });
    return (async function* () {
      for await (const chunk of body as AsyncIterable<Chunk>) {
        chunks.push(chunk);
        yield chunk;
      }
    })();
  };
  const setCookieFirst: ConnectMiddleware = (_req, res, next) => {
    res.setHeader('Set-Cookie', 'mw=1');
    res.setHeader('X-Frame-Options', 'DENY');
    next();
  };
  const { url } = await listenHatchway(t, compose(record, fromConnect(helmet() as ConnectMiddleware), fromConnect(setCookieFirst))(spyApp));
  const reply = await send(url, '/');
  t.equal(reply.body.toString(), token);
  t.same(chunks, [token], 'the very string the app yielded reached the server');
  t.same(reply.headers['set-cookie'], ['mw=1', 'app=1'], 'Set-Cookie accumulates, middleware first');
  t.same(
    outHeaders.filter(([n]) => n.toLowerCase() === 'hatchway-escape' || n.toLowerCase() === 'set-cookie'),
    [
      ['Set-Cookie', 'mw=1'],
      ['Set-Cookie', 'app=1'],
      ['hatchway-escape', 'websocket hw1.x'],
    ],
    'a control header reaches the server (which strips it: no such token was issued)',
  );
  t.equal(reply.headers['hatchway-escape'], undefined);
  t.equal(reply.headers['x-frame-options'], 'DENY');
  t.match(reply.headers['content-security-policy'], /^default-src 'self'/, 'helmet');
  chunks = [];
});

t.test('next(err), next() twice, a middleware that answers itself, an error middleware that passes on', async (t) => {
  const failing: ConnectMiddleware = (req, res, next) => {
    if (req.url === '/err') return next(createError(403, 'nope'));
    if (req.url === '/twice') {
      next();
      next();
      return undefined;
    }
    if (req.url === '/answer') {
      res.statusCode = 401;
      res.setHeader('www-authenticate', 'Basic');
      res.end('who are you?');
      return undefined;
    }
    return next();
  };
  const passOn: ConnectErrorMiddleware = (_err, _req, _res, next) => next();
  let innerCalls = 0;
  const inner: App = (environ, startResponse) => {
    innerCalls++;
    if (environ.pathInfo === '/inner-throws') throw new Error('inner failed');
    startResponse(200, []);
    return ['inner'];
  };
  const { url, logs } = await listenHatchway(t, compose(fromConnect(failing), fromConnect(passOn))(inner));
  const err = await send(url, '/err');
  t.equal(err.status, 403, 'next(err) fails the request with that error');
  t.equal(err.body.toString(), 'nope\n');
  const answer = await send(url, '/answer');
  t.equal(answer.status, 401);
  t.equal(answer.body.toString(), 'who are you?');
  t.equal(innerCalls, 0, 'the inner app never ran');
  t.equal((await send(url, '/twice')).status, 500, 'next() twice is a programming error');
  t.ok(logs.some((l) => l.includes('ERR_HATCHWAY_ADAPTER_NEXT_TWICE') || l.includes('next() was called more than once')));
  t.equal((await send(url, '/inner-throws')).status, 500, 'an error middleware that calls next() passes the error on');
});

t.test('toConnect: a hatchway app mounted in Express', async (t) => {
  const ex = express();
  ex.disable('x-powered-by');
  ex.use(helmet());
  ex.use(session({ secret: 's', resave: false, saveUninitialized: true, name: 'sid' }));
  const mounted: App = (environ, startResponse) => {
    const req = environ[CONNECT_REQ] as IncomingMessage & { session: { views?: number } };
    if (environ.pathInfo === '/fail') throw Object.assign(new Error('mounted app failed'), { status: 409 });
    req.session.views = (req.session.views ?? 0) + 1;
    startResponse(200, [['content-type', 'application/json'], ['set-cookie', 'app=1']]);
    return [JSON.stringify({ scriptName: environ.scriptName, pathInfo: environ.pathInfo, target: environ.target, query: environ.queryString, views: req.session.views })];
  };
  ex.use('/mount', toConnect(mounted));
  ex.use((err: { status?: number; message: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.status ?? 500).send(`express handled: ${err.message}`);
  });
  const { url } = await listenNative(t, ex);
  const first = await send(url, '/mount/a%2Fb?x=1');
  t.equal(first.status, 200);
  t.same(JSON.parse(first.body.toString()), { scriptName: '/mount', pathInfo: '/a/b', target: '/mount/a%2Fb?x=1', query: 'x=1', views: 1 });
  t.ok(first.headers['content-security-policy'], 'headers from earlier Express middleware are kept');
  const cookies = first.headers['set-cookie']!;
  t.equal(cookies.length, 2, "the session cookie and the app's both");
  const sid = cookies.find((c) => c.startsWith('sid='))!.split(';')[0]!;
  const second = await send(url, '/mount/again', { headers: { cookie: sid } });
  t.equal(JSON.parse(second.body.toString()).views, 2, 'the session is shared with Express');
  const failed = await send(url, '/mount/fail');
  t.equal(failed.status, 409);
  t.equal(failed.body.toString(), 'express handled: mounted app failed', "an error before the commit goes to Express's error handlers");
});

t.test('toConnect: a hatchway app answers like an Express route does', async (t) => {
  const body = 'same bytes\n'.repeat(100);
  const viaRoute = express();
  viaRoute.disable('x-powered-by');
  viaRoute.use(helmet());
  viaRoute.use(compression({ threshold: 10 }));
  viaRoute.get('/x', (_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.setHeader('set-cookie', ['a=1', 'b=2']);
    res.end(body);
  });
  const viaApp = express();
  viaApp.disable('x-powered-by');
  viaApp.use(helmet());
  viaApp.use(compression({ threshold: 10 }));
  viaApp.get('/x', toConnect((_environ, startResponse) => {
    startResponse(200, [['content-type', 'text/plain'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
    return [body];
  }));
  const n = await listenNative(t, viaRoute);
  const h = await listenNative(t, viaApp);
  await compareAll(t, n.url, h.url, [
    { name: 'plain', path: '/x' },
    { name: 'gzip', path: '/x', headers: { 'accept-encoding': 'gzip' } },
    { name: 'HEAD', method: 'HEAD', path: '/x' },
  ]);
});

t.test("fromConnect(compression) around fromNodeListener(route): the listener's lone end(data) reaches compression as end(data)", async (t) => {
  // The listener ends before it returns, so its body is one array carrying the length Node
  // would have invented (IMPLICIT_LENGTH): compression's res gets end(data) again, not a
  // Content-Length field, and decides as on a single Express res.
  const route = (req: IncomingMessage, res: ServerResponse): void => {
    res.setHeader('content-type', 'text/plain');
    res.end(req.url === '/small' ? 'tiny' : 'same bytes\n'.repeat(100));
  };
  const viaRoute = express();
  viaRoute.disable('x-powered-by');
  viaRoute.use(compression({ threshold: 10 }));
  viaRoute.get(['/x', '/small'], route);
  const n = await listenNative(t, viaRoute);
  const h = await listenHatchway(t, compose(fromConnect(compression({ threshold: 10 }) as unknown as ConnectMiddleware))(fromNodeListener(route)));
  await compareAll(t, n.url, h.url, [
    { name: 'plain', path: '/x' },
    { name: 'gzip', path: '/x', headers: { 'accept-encoding': 'gzip' } },
    { name: 'below the threshold', path: '/small', headers: { 'accept-encoding': 'gzip' } },
    { name: 'HEAD', method: 'HEAD', path: '/x', headers: { 'accept-encoding': 'gzip' } },
  ]);
});

t.test('toConnect: a hatchway middleware around the rest of an Express chain', async (t) => {
  const upper: Middleware = (inner) => (environ, startResponse) => {
    if (environ.pathInfo === '/deny') {
      startResponse(401, [['content-type', 'text/plain']]);
      return ['denied by hatchway'];
    }
    let status = '';
    const body = inner({ ...environ, headers: [...environ.headers, ['x-from-hatchway', 'yes']] }, (s, headers, excInfo) => {
      status = String(s);
      startResponse(s, [...headers.filter(([n]) => n.toLowerCase() !== 'content-length'), ['x-upper', 'on']], excInfo);
    });
    return (async function* () {
      for await (const chunk of body as AsyncIterable<Chunk>) yield typeof chunk === 'string' ? chunk.toUpperCase() : Buffer.from(chunk).toString().toUpperCase();
      t.ok(status, 'the downstream response was seen');
    })();
  };
  const ex = express();
  ex.disable('x-powered-by');
  ex.use(helmet());
  let downstreamRan = 0;
  ex.use(toConnect(upper));
  ex.get('/hello', (req, res) => {
    downstreamRan++;
    res.cookie('k', 'v');
    res.send(`hello ${req.headers['x-from-hatchway']}`);
  });
  ex.get('/stream', (_req, res) => {
    res.write('a');
    setImmediate(() => res.end('b'));
  });
  const { url } = await listenNative(t, ex);
  const hello = await send(url, '/hello');
  t.equal(hello.status, 200);
  t.equal(hello.body.toString(), 'HELLO YES');
  t.equal(hello.headers['x-upper'], 'on');
  t.ok(hello.headers['content-security-policy'], 'upstream headers survive');
  t.same(hello.headers['set-cookie'], ['k=v; Path=/'], 'downstream headers pass through the hatchway middleware');
  t.equal((await send(url, '/stream')).body.toString(), 'AB');
  const denied = await send(url, '/deny');
  t.equal(denied.status, 401);
  t.equal(denied.body.toString(), 'denied by hatchway');
  t.equal(downstreamRan, 1, 'the downstream ran only when called');
  t.equal((await send(url, '/nowhere')).status, 404, "Express's 404 flows through too");
});
