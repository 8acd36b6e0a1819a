// `createServer()`: a hatchway server shaped as `http.Server` is — `listen(port, host, cb)`
// returns at once, `address()`, `close(cb)`, 'listening' / 'error' / 'close' — hosting an
// Express app on one port for HTTP/1.1 and h2c (and TLS h2 with `tls`). supertest takes it as
// it takes an http.Server: `await request(server).get('/users/7').expect(200)`.
//
//   node examples/create-server.ts      then   curl localhost:3000/users/7
//                                               curl --http2-prior-knowledge localhost:3000/users/7
import express from 'express';
import { createServer } from '../src/server/index.ts';
import { fromNodeListener } from '../adapters/node.ts';

const api = express();
api.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id, over: `HTTP/${req.httpVersion}` });
});

export const server = createServer(fromNodeListener(api), { gracefulTimeout: 10_000 });

if (import.meta.main) {
  server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => console.log('listening on', server.address()));
  server.on('error', (err) => {
    console.error(err.message);
    process.exit(1);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
