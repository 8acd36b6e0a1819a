// A Koa app inside hatchway: its middleware (an error handler, @koa/router's routes) run by the
// real `koa` package through fromKoa, in front of a hatchway app that answers what Koa leaves.
//   hatchway serve examples/koa.ts   then   curl -s http://127.0.0.1:8000/hello/koa
import Router from '@koa/router';
import { compose, type App } from '../src/index.ts';
import { fromKoa, type KoaMiddleware } from '../adapters/koa.ts';
// (@koa/router types its ctx with params; the adapter's KoaMiddleware takes a plain Koa ctx.)

const router = new Router();
router.get('/hello/:name', (ctx) => {
  ctx.body = { hello: ctx.params.name, protocol: ctx.req.httpVersion };
});

const timing = fromKoa(async (ctx, next) => {
  const started = performance.now();
  await next();
  ctx.set('x-response-time', `${(performance.now() - started).toFixed(1)}ms`);
});

const notFound: App = (_environ, startResponse) => {
  startResponse(404, [['content-type', 'text/plain']]);
  return ['not found (answered by hatchway behind Koa)\n'];
};

export default compose(timing, fromKoa(router.routes() as unknown as KoaMiddleware))(notFound);
