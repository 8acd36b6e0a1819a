// Express 5 + compression over the same JSON body as compress-hatchway.ts.
import express from 'express';
import compression from 'compression';
import { payload } from '../compression.ts';

const body = payload(Number(process.argv[2]));
const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.use(compression());
app.get('/', (_req, res) => {
  res.type('application/json').send(body);
});
const server = app.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
process.on('disconnect', () => process.exit(0));
