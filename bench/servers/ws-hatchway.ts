// The same echo through hatchway's websocket escape, behind three bundled middleware (access
// log to a discarding stream, errors, cookies): the handshake runs through the pipeline.
import { Writable } from 'node:stream';
import type * as ServerModule from '../../src/server/index.ts';
import type * as Index from '../../src/index.ts';
import type * as AccessLog from '../../middleware/access-log.ts';
import type * as Errors from '../../middleware/errors.ts';
import type * as Cookies from '../../middleware/cookies.ts';
import { hatchway, ready } from './common.ts';

const { Server } = await hatchway<typeof ServerModule>('src/server/index.ts');
const { compose, websocket } = await hatchway<typeof Index>('src/index.ts');
const { accessLog } = await hatchway<typeof AccessLog>('middleware/access-log.ts');
const { errors } = await hatchway<typeof Errors>('middleware/errors.ts');
const { cookies } = await hatchway<typeof Cookies>('middleware/cookies.ts');

const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
const echo = websocket({
  onSocket(ws) {
    ws.on('message', (data, binary) => ws.send(data, { binary }));
  },
});
const app = compose(accessLog({ sink: discard }), errors(), cookies())(echo);
const server = new Server(app, { host: '127.0.0.1', port: 0, websocket: { perMessageDeflate: false, maxPayload: 4 * 1024 * 1024 } });
ready((await server.listen()).port);
