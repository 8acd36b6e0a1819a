// serve-static on Express 5, serving the runner's temporary directory.
import express from 'express';
import serveStatic from 'serve-static';
import { config, portOf, ready } from './common.ts';

const app = express();
app.disable('x-powered-by');
app.use(serveStatic(config.path!));
const server = app.listen(0, '127.0.0.1', () => ready(portOf(server)));
