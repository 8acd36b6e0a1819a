// Router lookup in-process, no HTTP: find-my-way (a radix tree) or path-to-regexp (one
// compiled matcher per route, tried in order, as Express and Koa do) on one 60-route table.
// Driven over IPC by the runner: `{ run: seconds }` answers `{ units }` (lookups done),
// `{ check: true }` answers the params found for a sample path.
import FindMyWay from 'find-my-way';
import { match } from 'path-to-regexp';
import { config } from './common.ts';

const routes: [string, string][] = [];
for (const resource of ['users', 'repos', 'orgs', 'issues', 'gists']) {
  routes.push(['GET', `/${resource}`], ['POST', `/${resource}`]);
  routes.push(['GET', `/${resource}/:id`], ['PUT', `/${resource}/:id`], ['DELETE', `/${resource}/:id`]);
  routes.push(['GET', `/${resource}/:id/comments`], ['POST', `/${resource}/:id/comments`]);
  routes.push(['GET', `/${resource}/:id/comments/:comment`], ['DELETE', `/${resource}/:id/comments/:comment`]);
  routes.push(['GET', `/${resource}/:id/events`], ['GET', `/${resource}/search/recent`], ['GET', `/static/${resource}/logo.png`]);
}
// A static hit near the start, a parametric hit at the end, and a miss, in turn.
const cases: [string, string][] = [
  ['GET', '/users'],
  ['GET', '/gists/42/comments/7'],
  ['GET', '/nothing/here/at/all'],
];

type Lookup = (method: string, path: string) => Record<string, string | undefined> | undefined;
function findMyWay(): Lookup {
  const fmw = FindMyWay();
  for (const [method, path] of routes) fmw.on(method as 'GET', path, () => {});
  return (method, path) => fmw.find(method as 'GET', path)?.params;
}
function pathToRegexp(): Lookup {
  const table = routes.map(([method, path]) => ({ method, match: match(path) }));
  return (method, path) => {
    for (const route of table) {
      if (route.method !== method) continue;
      const m = route.match(path);
      if (m) return m.params as Record<string, string>;
    }
    return undefined;
  };
}

const lookup = config.variant === 'path-to-regexp' ? pathToRegexp() : findMyWay();
let sink = 0;
function run(seconds: number): number {
  const end = performance.now() + seconds * 1000;
  let n = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 999; i++) {
      const [method, path] = cases[i % 3]!;
      sink += lookup(method, path) === undefined ? 0 : 1;
    }
    n += 999;
  }
  return n;
}

process.on('message', (m: { run?: number; check?: boolean }) => {
  if (m.check) process.send!({ params: lookup('GET', '/gists/42/comments/7'), miss: lookup('GET', '/nothing/here/at/all') ?? null });
  else process.send!({ units: run(m.run!), sink });
});
process.send!({ port: 0 });
process.on('disconnect', () => process.exit(0));
