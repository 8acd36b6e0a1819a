/**
 * Router lookup, side by side: find-my-way (a radix tree) against path-to-regexp (one
 * compiled regexp per route, scanned in order, as Express and Koa do) on the same route
 * table and the same request paths, in one process, rounds alternated.
 *
 *   node bench/router.ts                  # 5 rounds × 1 s per contender
 *   node bench/router.ts --rounds 5 --ms 2000
 *
 * Prints lookups/s (median of rounds) for a table of static and parametric routes, for a hit
 * near the start of the table, one near the end, and a miss, as a Markdown table.
 */
import { parseArgs } from 'node:util';
import FindMyWay from 'find-my-way';
import { match, type MatchFunction } from 'path-to-regexp';
import { median } from './lib.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, ms: { type: 'string', default: '1000' } } });
const rounds = Number(values.rounds);
const ms = Number(values.ms);

// A REST-ish table of 60 routes: 5 resources × 6 shapes × GET/POST-like methods.
const routes: [string, string][] = [];
for (const resource of ['users', 'repos', 'orgs', 'issues', 'gists']) {
  routes.push(['GET', `/${resource}`], ['POST', `/${resource}`]);
  routes.push(['GET', `/${resource}/:id`], ['PUT', `/${resource}/:id`], ['DELETE', `/${resource}/:id`]);
  routes.push(['GET', `/${resource}/:id/comments`], ['POST', `/${resource}/:id/comments`]);
  routes.push(['GET', `/${resource}/:id/comments/:comment`], ['DELETE', `/${resource}/:id/comments/:comment`]);
  routes.push(['GET', `/${resource}/:id/events`], ['GET', `/${resource}/search/recent`], ['GET', `/static/${resource}/logo.png`]);
}
const cases: Record<string, [string, string]> = {
  'static, first resource': ['GET', '/users'],
  'params, last resource': ['GET', '/gists/42/comments/7'],
  'miss (404)': ['GET', '/nothing/here/at/all'],
};

const fmw = FindMyWay();
for (const [method, path] of routes) fmw.on(method as 'GET', path, () => {});
const ptr: { method: string; match: MatchFunction<Record<string, string>> }[] = routes.map(([method, path]) => ({ method, match: match(path) }));

let sink = 0;
const contenders: Record<string, (method: string, path: string) => void> = {
  'find-my-way': (method, path) => {
    const found = fmw.find(method as 'GET', path);
    if (found) sink += Object.keys(found.params).length;
  },
  'path-to-regexp': (method, path) => {
    for (const route of ptr) {
      if (route.method !== method) continue;
      const m = route.match(path);
      if (m) {
        sink += Object.keys(m.params).length;
        return;
      }
    }
  },
};

function measure(fn: (method: string, path: string) => void, method: string, path: string): number {
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) fn(method, path);
    n += 1000;
  }
  return (n / ms) * 1000;
}

console.log(`\nRouter lookup, ${routes.length} routes, ${rounds} × ${ms} ms rounds, median lookups/s\n`);
console.log('| case | find-my-way | path-to-regexp | ratio |');
console.log('|---|---|---|---|');
for (const [name, [method, path]] of Object.entries(cases)) {
  const results: Record<string, number[]> = { 'find-my-way': [], 'path-to-regexp': [] };
  for (const fn of Object.values(contenders)) measure(fn, method, path); // warm-up
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? Object.keys(contenders) : Object.keys(contenders).reverse();
    for (const c of order) results[c]!.push(measure(contenders[c]!, method, path));
  }
  const a = median(results['find-my-way']!);
  const b = median(results['path-to-regexp']!);
  console.log(`| ${name} | ${(a / 1e6).toFixed(2)} M/s | ${(b / 1e6).toFixed(2)} M/s | ${(a / b).toFixed(1)}× |`);
}
if (sink < 0) console.log(sink);
