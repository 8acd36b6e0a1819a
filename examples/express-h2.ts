// An Express app over HTTP/2: Express cannot run on node:http2 (it swaps request
// prototypes), but hosted by fromNodeListener it gets real node:http objects — over HTTP/1.1,
// h2c and TLS h2 on one port, with hatchway's graceful shutdown.
//   hatchway serve examples/express-h2.ts
//   curl -s --http2-prior-knowledge http://127.0.0.1:8000/users/42
import express from 'express';
import { fromNodeListener } from '../adapters/node.ts';

const app = express();
app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id, httpVersion: req.httpVersion });
});

export default fromNodeListener(app);
