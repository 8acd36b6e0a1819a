/**
 * The showcase: a small web app on one port, every escape behind one middleware chain.
 *
 *   npm start                      http://127.0.0.1:8000 (HTTP/1.1 and h2c)
 *   npm run start:tls              also https://localhost:8000 (h2 by ALPN, RFC 8441 websockets)
 *   REDIS_URL=redis://… npm start  sessions and chat shared through Redis (workers, machines)
 *
 *   GET  /                          the page; its stylesheet pushed (HTTP/2 with push) or preloaded
 *   POST /api/login, /api/logout    the session middleware (a signed cookie, the store behind it)
 *   GET  /api/me                    who you are, and a bearer token for the gRPC command
 *   GET  /chat                      the chat websocket; a logged-out user gets a real 401
 *   GET  /live                      the live view: the access log's entries, as they happen
 *   GET  /download/notes.txt        a file whose SHA-256 rides the `x-checksum` trailer
 *   GET  /api/probe                 what trailer-aware clients received for that file
 *   POST /hatchway.example.Echo/*   gRPC (examples/grpc/) behind the same auth
 *   GET  /app.css, /app.js          static files (public/)
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { acceptWebSocket, associate, compose, getHeader, upgradeTo, type App, type Body, type Environ, type Middleware, type StartResponse } from '../../src/index.ts';
import { accessLog } from '../../middleware/access-log.ts';
import { compression } from '../../middleware/compression.ts';
import { cors } from '../../middleware/cors.ts';
import { errors } from '../../middleware/errors.ts';
import { router } from '../../middleware/router.ts';
import { getSession, session } from '../../middleware/session.ts';
import { serveStatic } from '../../middleware/static.ts';
import { echo } from '../grpc/server.ts';
import { DOWNLOAD_PATH, download, probe } from './download.ts';
import { createHub } from './hub.ts';
import type { Store } from './store.ts';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const PAGE = readFileSync(here('./page.html'), 'utf8');

export interface ShowcaseOptions {
  /** Signs session cookies and gRPC tokens; every process behind one balancer needs the same. */
  secret?: string;
}

const json = (startResponse: StartResponse, status: number, value: unknown): Body => {
  startResponse(status, [['content-type', 'application/json; charset=utf-8'], ['cache-control', 'no-store']]);
  return [JSON.stringify(value)];
};

/** A bearer token for `user`: the name and its HMAC, so any process with the secret can verify it. */
export function tokenFor(user: string, secret: string): string {
  const name = Buffer.from(user).toString('base64url');
  return `${name}.${createHmac('sha256', secret).update(name).digest('base64url')}`;
}

function userOfToken(token: string, secret: string): string | undefined {
  const [name, mac] = token.split('.');
  if (!name || !mac) return undefined;
  const want = Buffer.from(createHmac('sha256', secret).update(name).digest('base64url'));
  const got = Buffer.from(mac);
  return want.length === got.length && timingSafeEqual(want, got) ? Buffer.from(name, 'base64url').toString() : undefined;
}

/** The logged-in user: the session's, or a valid `Authorization: Bearer` token's (gRPC clients). */
function userOf(environ: Environ, secret: string): string | undefined {
  const fromSession = getSession(environ).data.user;
  if (typeof fromSession === 'string') return fromSession;
  const auth = getHeader(environ.headers, 'authorization');
  return auth?.startsWith('Bearer ') ? userOfToken(auth.slice(7).trim(), secret) : undefined;
}

/**
 * The one auth middleware in front of the chat and gRPC alike: a plain 401 when nobody is
 * logged in. A websocket handshake gets this 401 (the escape is never honoured); a gRPC
 * client sees it as UNAUTHENTICATED.
 */
function requireUser(secret: string): Middleware {
  return (app) => (environ, startResponse) => {
    const user = userOf(environ, secret);
    if (user === undefined) {
      startResponse(401, [['content-type', 'text/plain; charset=utf-8'], ['www-authenticate', 'Bearer realm="showcase"']]);
      return ['Log in first.\n'];
    }
    return app({ ...environ, 'showcase.user': user }, startResponse);
  };
}

/** Reads a small JSON request body inside the response body (the app itself stays synchronous). */
function withJson(handler: (environ: Environ, value: Record<string, unknown>, startResponse: StartResponse) => Body): App {
  return (environ, startResponse) => ({
    async *[Symbol.asyncIterator]() {
      let value: Record<string, unknown> = {};
      const text = await environ.input.text(4096);
      try {
        value = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        yield* json(startResponse, 400, { error: 'the body is not JSON' }) as string[];
        return;
      }
      yield* handler(environ, value, startResponse) as Iterable<string>;
    },
  });
}

/** Builds the showcase on a store (tests pass their own); the page and chat need the hub. */
export async function createShowcase(store: Store, options: ShowcaseOptions = {}): Promise<App> {
  const secret = options.secret ?? process.env.SHOWCASE_SECRET ?? 'showcase-dev-secret: set SHOWCASE_SECRET in production';
  const hub = await createHub(store);
  const auth = requireUser(secret);

  const page: App = (environ, startResponse) => {
    const user = getSession(environ).data.user;
    startResponse(200, [
      ['content-type', 'text/html; charset=utf-8'],
      ['cache-control', 'no-store'],
      // Push where the client allows it (nghttp), else 103 Early Hints + Link: rel=preload (every browser today).
      ...associate(environ, [
        { path: '/app.css', as: 'style' },
        { path: '/app.js', as: 'script' },
      ]),
      // (The access log's report names no escape for push: see the live view's note.)
    ]);
    const values: Record<string, string> = {
      protocol: environ.protocol,
      scheme: environ.scheme,
      requestId: environ.requestId,
      pid: String(process.pid),
      store: store.kind,
      // The degrade table's push row: PUSH_PROMISE where the client allows it, else 103 + preload.
      stylesheet: environ.features.push ? 'pushed (PUSH_PROMISE)' : environ.features.earlyHints ? 'preloaded (103 Early Hints + Link)' : 'preloaded (Link)',
      user: typeof user === 'string' ? user : '',
    };
    return [PAGE.replace(/\{\{(\w+)\}\}/g, (_, k: string) => (values[k] ?? '').replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`))];
  };

  const me: App = (environ, startResponse) => {
    const user = getSession(environ).data.user;
    if (typeof user !== 'string') return json(startResponse, 200, { user: null, store: store.kind, pid: process.pid });
    return json(startResponse, 200, { user, token: tokenFor(user, secret), store: store.kind, pid: process.pid });
  };

  const login = withJson((environ, body, startResponse) => {
    const name = typeof body.name === 'string' ? body.name.trim() : '';
    if (!/^[\p{L}\p{N}_.-]{1,24}$/u.test(name)) return json(startResponse, 422, { error: 'a name of 1–24 letters, digits, _ . or -' });
    const s = getSession(environ);
    s.regenerate(); // a new id after a login (session fixation)
    s.data.user = name;
    return json(startResponse, 200, { user: name, token: tokenFor(name, secret), pid: process.pid });
  });

  const logout: App = (environ, startResponse) => {
    getSession(environ).destroy();
    return json(startResponse, 200, { user: null });
  };

  const chat: App = (environ, startResponse) =>
    acceptWebSocket(environ, startResponse, {
      onSocket: (ws, env) => hub.joinChat(ws, String(env['showcase.user']), env.protocol),
    });

  const live: App = (environ, startResponse) => acceptWebSocket(environ, startResponse, { onSocket: (ws) => hub.watch(ws) });

  const probeRoute: App = (environ, startResponse) => ({
    async *[Symbol.asyncIterator]() {
      const host = getHeader(environ.headers, 'host') ?? (environ.authority || `127.0.0.1:${environ.localPort}`);
      yield* json(startResponse, 200, { path: DOWNLOAD_PATH, results: await probe(environ.localPort, host.replace(/^localhost(?=:|$)/, '127.0.0.1')) }) as string[];
    },
  });

  const grpc = auth(upgradeTo(echo));

  const routes = router()
    .get('/', page)
    .get('/api/me', me)
    .post('/api/login', login)
    .post('/api/logout', logout)
    // A websocket over HTTP/2 (RFC 8441) is an extended CONNECT, not a GET: route both.
    .on(['GET', 'CONNECT'], '/chat', auth(chat))
    .on(['GET', 'CONNECT'], '/live', live)
    .get(DOWNLOAD_PATH, download)
    .get('/api/probe', probeRoute)
    .post('/hatchway.example.Echo/:method', grpc).app;

  return compose(
    errors(),
    accessLog({ format: 'json', sink: (line) => hub.logLine(line) }),
    compression({ threshold: 1024 }),
    serveStatic(here('./public'), { index: false, maxAge: 60 }),
    cors({ origin: /^https?:\/\/(localhost|127\.0\.0\.1)(:\d+)?$/, credentials: true }),
    session({ secrets: [secret], store: store.sessions, ttl: 8 * 3_600_000 }),
  )(routes);
}
