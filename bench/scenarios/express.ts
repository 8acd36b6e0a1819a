/**
 * One Express 5 app (bench/servers/express-app.ts) hosted three ways: on node:http
 * (`app.listen`), through the node adapter on hatchway's one-port server (HTTP/1.1 and h2c), and
 * on node:http2 through the http2-express package — the one other way found to run Express on
 * HTTP/2 (plain Express on node:http2's compatibility API, and http2-express-bridge, crash).
 */
import { ask, expect, expectAnswer } from '../lib/check.ts';
import { h2load } from '../lib/load.ts';
import type { Running } from '../lib/proc.ts';
import type { Context, Scenario } from '../lib/types.ts';

async function checkExpress(s: Running, protocol: 'h1' | 'h2c'): Promise<void> {
  expectAnswer(await ask({ protocol, port: s.port }), 200, 'Hello, world!\n');
  const user = await ask({ protocol, port: s.port, path: '/users/42' });
  expectAnswer(user, 200, '{"id":"42"}');
  expect(user.headers['x-served-by'] === 'express', 'no x-served-by from the app middleware');
}

export function expressScenarios(_ctx: Context): Scenario[] {
  return [
    {
      id: 'express-h1',
      title: 'Express app, HTTP/1.1',
      about: 'The same Express 5 app on node:http and through `fromNodeListener` on hatchway; 8 keep-alive connections.',
      unit: 'req',
      contenders: [
        { name: 'Express on node:http', server: 'express', baseline: true },
        { name: 'Express via hatchway adapter', server: 'express-hatchway', subject: true, hatchway: true },
      ],
      load: h2load({ h1: true, clients: 8, streams: 1, path: '/users/42' }),
      check: (s) => checkExpress(s, 'h1'),
    },
    {
      id: 'express-h2',
      title: 'Express app, HTTP/2 (h2c)',
      about: 'The same app over h2c: through hatchway, and on node:http2 with http2-express; 4 connections × 32 streams.',
      unit: 'req',
      contenders: [
        { name: 'Express on node:http2 (http2-express)', server: 'express-http2', baseline: true },
        { name: 'Express via hatchway adapter', server: 'express-hatchway', subject: true, hatchway: true },
      ],
      load: h2load({ clients: 4, streams: 32, path: '/users/42' }),
      check: (s) => checkExpress(s, 'h2c'),
    },
  ];
}
