// A Hono app (a fetch handler: Request → Response) served by hatchway with fromFetch: HTTP/1.1,
// h2c and TLS h2 on one port; request and response bodies stream.
//   hatchway serve examples/hono.ts   then   curl -s http://127.0.0.1:8000/api/hello
import { Hono } from 'hono';
import { fromFetch } from '../adapters/fetch.ts';

const hono = new Hono();
hono.get('/api/hello', (c) => c.json({ hello: 'hono', url: c.req.url }));
hono.post('/api/echo', async (c) => c.text(await c.req.text()));

export default fromFetch((request) => hono.fetch(request));
