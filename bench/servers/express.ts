// The same hello handler on Express 5.
import express from 'express';

const body = 'Hello, world!\n';
const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.get('/', (_req, res) => {
  res.type('text/plain').send(body);
});
const server = app.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
process.on('disconnect', () => process.exit(0));
