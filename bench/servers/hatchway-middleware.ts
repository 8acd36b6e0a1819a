// Hello behind five bundled middleware: access log (to a discarding stream), errors, CORS,
// cookies (the handler reads one) and the router.
import { Writable } from 'node:stream';
import type * as ServerModule from '../../src/server/index.ts';
import type * as Index from '../../src/index.ts';
import type * as AccessLog from '../../middleware/access-log.ts';
import type * as Errors from '../../middleware/errors.ts';
import type * as Cors from '../../middleware/cors.ts';
import type * as Cookies from '../../middleware/cookies.ts';
import type * as Router from '../../middleware/router.ts';
import { HELLO, hatchway, ready } from './common.ts';

const { Server } = await hatchway<typeof ServerModule>('src/server/index.ts');
const { compose } = await hatchway<typeof Index>('src/index.ts');
const { accessLog } = await hatchway<typeof AccessLog>('middleware/access-log.ts');
const { errors } = await hatchway<typeof Errors>('middleware/errors.ts');
const { cors } = await hatchway<typeof Cors>('middleware/cors.ts');
const { cookies, getCookies } = await hatchway<typeof Cookies>('middleware/cookies.ts');
const { router } = await hatchway<typeof Router>('middleware/router.ts');

const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
const hello: Index.App = (environ, startResponse) => {
  const user = getCookies(environ).get('user') ?? 'nobody';
  startResponse(200, [['content-type', 'text/plain; charset=utf-8'], ['x-user', user]]);
  return [HELLO];
};
const app = compose(accessLog({ sink: discard }), errors(), cors({ origin: 'https://app.example' }), cookies())(router().get('/', hello).app);
const server = new Server(app, { host: '127.0.0.1', port: 0 });
ready((await server.listen()).port);
