// Express 5 + compression over the same JSON body as compress-hatchway.ts.
import express from 'express';
import compression from 'compression';
import { payload } from './payload.ts';
import { config, portOf, ready } from './common.ts';

const body = payload(config.size!);
const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.use(compression());
app.get('/', (_req, res) => {
  res.type('application/json').send(body);
});
const server = app.listen(0, '127.0.0.1', () => ready(portOf(server)));
