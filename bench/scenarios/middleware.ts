/**
 * Five bundled middleware in front of the hello handler (access log to a discarding stream,
 * errors, CORS, cookies, router), against bare node:http's hello and hatchway's bare hello.
 */
import { ask, expect, expectAnswer } from '../lib/check.ts';
import { h2load } from '../lib/load.ts';
import type { Context, Scenario } from '../lib/types.ts';

const HEADERS = { origin: 'https://app.example', cookie: 'user=ada; theme=dark' };

export function middlewareScenarios(_ctx: Context): Scenario[] {
  return [
    {
      id: 'five-middleware',
      title: 'Five bundled middleware, HTTP/1.1',
      about:
        'access-log (to a discarding stream), errors, cors, cookies (the handler reads one) and router in front of hello; every request sends an `Origin` and a `Cookie`. The baseline is bare node:http hello.',
      unit: 'req',
      contenders: [
        { name: 'node:http hello', server: 'node-http', baseline: true },
        { name: 'hatchway hello', server: 'hatchway', hatchway: true },
        { name: 'hatchway + 5 middleware', server: 'hatchway-middleware', subject: true, hatchway: true },
      ],
      load: h2load({ h1: true, clients: 8, streams: 1, headers: Object.entries(HEADERS).map(([n, v]) => `${n}: ${v}`) }),
      async check(s, contender) {
        const answer = await ask({ protocol: 'h1', port: s.port, headers: HEADERS });
        expectAnswer(answer, 200, 'Hello, world!\n');
        if (contender.subject) {
          expect(answer.headers['x-user'] === 'ada', `x-user ${String(answer.headers['x-user'])}`);
          expect(answer.headers['access-control-allow-origin'] === 'https://app.example', 'no CORS header');
        }
      },
    },
  ];
}
