/**
 * The earlier side-by-side benches, folded into the runner: compression (hatchway's middleware
 * against Express + compression, gzip, 2 KiB and 64 KiB JSON), a small static file (against bare
 * piping and serve-static), and the router lookup (find-my-way against path-to-regexp, in-process).
 */
import { gunzipSync } from 'node:zlib';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ask, expect, expectAnswer } from '../lib/check.ts';
import { h2load, self } from '../lib/load.ts';
import type { Running } from '../lib/proc.ts';
import type { Context, Scenario } from '../lib/types.ts';

function compression(size: number): Scenario {
  return {
    id: `compression-${size / 1024}k`,
    title: `Compression (gzip), ${size / 1024} KiB JSON, HTTP/1.1`,
    about: 'The same JSON payload, gzip negotiated; hatchway `compression()` against Express 5 + compression.',
    unit: 'req',
    contenders: [
      { name: 'Express + compression', server: 'compress-express', config: { size }, baseline: true },
      { name: 'hatchway compression', server: 'compress-hatchway', config: { size }, subject: true, hatchway: true },
    ],
    load: h2load({ h1: true, clients: 8, streams: 1, headers: ['accept-encoding: gzip'] }),
    async check(s: Running) {
      const answer = await ask({ protocol: 'h1', port: s.port, headers: { 'accept-encoding': 'gzip' } });
      expect(answer.headers['content-encoding'] === 'gzip', 'not gzipped');
      expectAnswer(answer, 200, (b) => JSON.parse(gunzipSync(b).toString()).length > 0);
    },
  };
}

export function moreScenarios(ctx: Context): Scenario[] {
  const dir = join(ctx.tmp, 'small');
  const small = 'x'.repeat(1024);
  return [
    compression(2 * 1024),
    compression(64 * 1024),
    {
      id: 'static-1k',
      title: 'Static file, 1 KiB, HTTP/1.1',
      about: 'A 1 KiB file: the per-request cost of the lookup (path, stat, validators) more than of the bytes.',
      unit: 'req',
      contenders: [
        { name: 'createReadStream().pipe(res)', server: 'static-bare', config: { path: dir }, baseline: true },
        { name: 'hatchway static middleware', server: 'static-hatchway', config: { path: dir }, subject: true, hatchway: true },
        { name: 'Express + serve-static', server: 'static-express', config: { path: dir } },
      ],
      load: h2load({ h1: true, clients: 8, streams: 1, path: '/small.txt' }),
      setup() {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'small.txt'), small);
      },
      check: async (s) => expectAnswer(await ask({ protocol: 'h1', port: s.port, path: '/small.txt' }), 200, small),
    },
    {
      id: 'router-lookup',
      title: 'Router lookup, 60 routes, in-process',
      about: 'A static hit near the start of the table, a parametric hit at its end and a miss, in turn; no HTTP. The unit is one lookup.',
      unit: 'lookup',
      contenders: [
        { name: 'path-to-regexp (Express, Koa)', server: 'router-lookup', config: { variant: 'path-to-regexp' }, baseline: true },
        { name: 'find-my-way (middleware/router.ts)', server: 'router-lookup', config: { variant: 'find-my-way' }, subject: true },
      ],
      load: self('each contender loops over the lookups itself'),
      check: (s) =>
        new Promise((resolve, reject) => {
          s.child.once('message', (m: { params?: Record<string, string>; miss: unknown }) => {
            if (m.params?.id === '42' && m.params.comment === '7' && m.miss === null) resolve();
            else reject(new Error(`wrong answer: ${JSON.stringify(m)}`));
          });
          s.child.send({ check: true });
        }),
    },
  ];
}
