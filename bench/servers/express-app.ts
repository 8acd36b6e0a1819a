// The one Express 5 app every Express contender serves: a JSON route with a param and a
// hello route, behind one application middleware. `app` is a fresh `express()` unless given.
import express from 'express';
import { HELLO } from './common.ts';

export function expressApp(app: express.Express = express()): express.Express {
  app.disable('x-powered-by');
  app.disable('etag');
  app.use((_req, res, next) => {
    res.setHeader('x-served-by', 'express');
    next();
  });
  app.get('/', (_req, res) => {
    res.type('text/plain').send(HELLO);
  });
  app.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
  return app;
}
