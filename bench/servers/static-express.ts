// serve-static on Express 5, serving the same directory as static-hatchway.ts.
import express from 'express';
import serveStatic from 'serve-static';

const app = express();
app.disable('x-powered-by');
app.use(serveStatic(process.argv[2]!));
const server = app.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
process.on('disconnect', () => process.exit(0));
