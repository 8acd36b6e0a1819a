import t from 'tap';
import WebSocket from 'ws';
import { acceptWebSocket, upgradeTo, type App, type Environ } from '../../src/index.ts';
import { mount, params, router, PARAMS_KEY } from '../../middleware/router.ts';
import { start } from '../fixtures/server.ts';
import { request, within } from '../fixtures/clients.ts';
import { exchange, session } from '../fixtures/h2.ts';

/** Answers with what routing left in the environ, as JSON. */
const show =
  (name: string): App =>
  (environ, startResponse) => {
    const body = JSON.stringify({ name, method: environ.method, scriptName: environ.scriptName, pathInfo: environ.pathInfo, params: environ[PARAMS_KEY] });
    startResponse(200, [['content-type', 'application/json']]);
    return [body];
  };

const json = async (url: string, options = {}) => {
  const res = await request(url, options);
  return { res, data: res.status === 200 && res.body.length > 0 ? (JSON.parse(res.body.toString()) as Record<string, unknown>) : undefined };
};

t.test('routes by method and path, with params in the environ', async (t) => {
  const app = router()
    .get('/users', show('list'))
    .post('/users', show('create'))
    .get('/users/:id', show('user'))
    .get('/users/:id/posts/:post', show('post'))
    .get('/files/:name', show('file'))
    .get('/assets/*', show('asset')).app;
  const { url } = await start(t, app);
  t.same((await json(`${url}/users`)).data, { name: 'list', method: 'GET', scriptName: '', pathInfo: '/users', params: {} });
  t.equal((await json(`${url}/users`, { method: 'POST' })).data?.['name'], 'create');
  t.same((await json(`${url}/users/42/posts/7`)).data?.['params'], { id: '42', post: '7' });
  t.same((await json(`${url}/files/100%25`)).data?.['params'], { name: '100%' }, 'a decoded % is not decoded again');
  t.same((await json(`${url}/files/a%3Fb`)).data?.['params'], { name: 'a?b' }, 'a decoded ? is not a query');
  t.same((await json(`${url}/files/caf%C3%A9`)).data?.['params'], { name: 'café' });
  t.same((await json(`${url}/assets/css/site.css?v=1`)).data?.['params'], { '*': 'css/site.css' });
  const missing = await request(`${url}/nothing`);
  t.equal(missing.status, 404);
});

t.test('405 with Allow, OPTIONS with Allow, HEAD from GET', async (t) => {
  let heads = 0;
  const app = router()
    .get('/thing', show('thing'))
    .put('/thing', show('put'))
    .get('/own-head', show('get'))
    .on('HEAD', '/own-head', (environ, startResponse) => {
      heads++;
      startResponse(200, [['x-own-head', 'yes']]);
      return [];
    }).app;
  const { url } = await start(t, app);
  const wrong = await request(`${url}/thing`, { method: 'DELETE' });
  t.equal(wrong.status, 405);
  t.equal(wrong.headers['allow'], 'GET, HEAD, OPTIONS, PUT');
  const options = await request(`${url}/thing`, { method: 'OPTIONS' });
  t.equal(options.status, 204);
  t.equal(options.headers['allow'], 'GET, HEAD, OPTIONS, PUT');
  const head = await request(`${url}/thing`, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(head.body.length, 0);
  t.equal(head.headers['content-type'], 'application/json', 'HEAD gets the GET route’s fields');
  t.ok(Number(head.headers['content-length']) > 0, 'and the length GET would have');
  const own = await request(`${url}/own-head`, { method: 'HEAD' });
  t.equal(own.headers['x-own-head'], 'yes', 'a HEAD route of its own wins');
  t.equal(heads, 1);
});

t.test('mount moves the prefix from pathInfo to scriptName', async (t) => {
  const inner = router().get('/', show('root')).get('/users/:id', show('user')).app;
  const app = router().mount('/api', inner).mount('/orgs/:org', show('org')).get('/', show('home')).app;
  const { url } = await start(t, app);
  t.same((await json(`${url}/api/users/7`)).data, { name: 'user', method: 'GET', scriptName: '/api', pathInfo: '/users/7', params: { id: '7' } });
  t.same((await json(`${url}/api/`)).data, { name: 'root', method: 'GET', scriptName: '/api', pathInfo: '/', params: {} });
  t.same((await json(`${url}/api`)).data, { name: 'root', method: 'GET', scriptName: '/api', pathInfo: '', params: {} }, 'the bare prefix: pathInfo "", routed as "/"');
  t.same((await json(`${url}/orgs/acme/teams/x`)).data, { name: 'org', method: 'GET', scriptName: '/orgs/acme', pathInfo: '/teams/x', params: { org: 'acme' } });
  t.same((await json(`${url}/orgs/acme`)).data, { name: 'org', method: 'GET', scriptName: '/orgs/acme', pathInfo: '', params: { org: 'acme' } });
  t.equal((await json(`${url}/apix`)).res.status, 404, 'a prefix matches whole segments only');
  t.equal((await json(`${url}/`)).data?.['name'], 'home');
});

t.test('the mount middleware sends other requests to the inner app and nests', async (t) => {
  const deeper = mount('/v1', show('v1'))(show('api-other'));
  const app = mount('/api', deeper)(show('site'));
  const { url } = await start(t, app);
  t.same((await json(`${url}/api/v1/x%2Fy`)).data, { name: 'v1', method: 'GET', scriptName: '/api/v1', pathInfo: '/x/y', params: {} });
  t.equal((await json(`${url}/api/v2`)).data?.['name'], 'api-other');
  t.equal((await json(`${url}/api/v2`)).data?.['scriptName'], '/api');
  t.equal((await json(`${url}/about`)).data?.['name'], 'site');
  t.throws(() => mount('/api/', show('x')), TypeError);
  t.throws(() => mount('api', show('x')), TypeError);
});

t.test('the router as middleware passes unmatched paths on', async (t) => {
  const app = router().get('/a', show('a')).middleware(show('fallback'));
  const { url } = await start(t, app);
  t.equal((await json(`${url}/a`)).data?.['name'], 'a');
  t.equal((await json(`${url}/b`)).data?.['name'], 'fallback');
  t.equal((await request(`${url}/a`, { method: 'POST' })).status, 405, 'a matched path with another method is still a 405');
});

t.test('a websocket route is honoured through the router, with its params', async (t) => {
  let seen: Environ | undefined;
  const app = router()
    .get('/rooms/:room', (environ, startResponse) =>
      acceptWebSocket(environ, startResponse, {
        onSocket: (ws, env) => {
          seen = env;
          ws.on('message', (m) => ws.send(`${params(env)['room']}: ${m}`));
        },
      }),
    ).app;
  const { url } = await start(t, mount('/chat', app)(show('other')));
  const client = new WebSocket(`${url.replace('http', 'ws')}/chat/rooms/lobby`);
  t.teardown(() => client.terminate());
  const reply = await within(
    new Promise<string>((resolve, reject) => {
      client.on('open', () => client.send('hi'));
      client.on('message', (m) => resolve(String(m)));
      client.on('error', reject);
    }),
  );
  t.equal(reply, 'lobby: hi');
  t.equal(seen?.scriptName, '/chat');
  t.equal(seen?.pathInfo, '/rooms/lobby');
  const plain = await request(`${url}/chat/rooms/lobby`);
  t.equal(plain.status, 426, 'a request that is not a handshake gets the fallback');
});

t.test('an upgradeTo route runs on the real HTTP/2 stream, emulated over HTTP/1.1', async (t) => {
  const app = router().get('/h2/:id', (environ, startResponse) =>
    upgradeTo((stream, env) => {
      stream.respond(200, [['content-type', 'text/plain']]);
      stream.end(`id=${params(env)['id']} emulated=${stream.emulated} stream=${stream.id ?? '-'}`);
    })(environ, startResponse),
  ).app;
  const { url } = await start(t, app);
  const s = await session(t, url);
  const h2 = await exchange(s, { ':path': '/h2/9' });
  t.equal(h2.status, 200);
  t.match(h2.body.toString(), /^id=9 emulated=false stream=\d+$/);
  const h1 = await request(`${url}/h2/9`);
  t.equal(h1.status, 200);
  t.equal(h1.body.toString(), 'id=9 emulated=true stream=-');
});

t.test('passes the hatchway checklist (checkMiddleware), escape-safe', async (t) => {
  const { assertConformance } = await import('../../src/testing.ts');
  const { conformance } = await import('../../middleware/router.ts');
  for (const entry of conformance) await assertConformance(t, entry.make(), { grade: 'escape-safe', name: entry.name });
});

t.test('an RFC 8441 websocket (extended CONNECT over h2c) takes the GET route, as the HTTP/1.1 handshake does', async (t) => {
  const { h2WebSocket } = await import('../fixtures/h2-ws.ts');
  const { websocket } = await import('../../src/index.ts');
  const app = router()
    .get('/ws', websocket({ onSocket: (ws) => ws.on('message', (m) => ws.send(`echo ${m}`)) }))
    .post('/ws', (_environ, startResponse) => {
      startResponse(200, [['content-type', 'text/plain']]);
      return ['posted\n'];
    }).app;
  const { port } = await start(t, app);
  const ws = await h2WebSocket(t, port, '/ws');
  t.equal(ws.status, 200, 'not a 405');
  t.same(ws.messages, ['echo hello']);
});
