/**
 * Large bodies, throughput and peak RSS over HTTP/1.1: a generated 1 GiB stream (an async
 * generator of one reused 64 KiB chunk, never from disk) against the same generator piped into a
 * node:http response, and a 64 MiB temporary file against `createReadStream().pipe(res)` and
 * Express + serve-static.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ask, expect, expectAnswer } from '../lib/check.ts';
import { h2load } from '../lib/load.ts';
import type { Context, Scenario } from '../lib/types.ts';

const MiB = 2 ** 20;

/** A file of `size` bytes whose every byte is its offset modulo 251 (a prime: no aligned repeats). */
function pattern(size: number): Buffer {
  const buffer = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) buffer[i] = i % 251;
  return buffer;
}

export function bodyScenarios(ctx: Context): Scenario[] {
  const streamSize = ctx.quick ? MiB : 1024 * MiB;
  const fileSize = ctx.quick ? MiB : 64 * MiB;
  const dir = join(ctx.tmp, 'static');
  let file: Buffer | undefined;
  return [
    {
      id: 'stream-1g',
      title: `Generated stream, ${streamSize / MiB} MiB, HTTP/1.1`,
      about: 'One download per round of a body made in memory: a hatchway async-iterable body against `Readable.from(generator).pipe(res)`. The unit is a MiB received.',
      unit: 'MiB',
      contenders: [
        { name: 'generator piped into node:http', server: 'stream-bare', config: { size: streamSize }, baseline: true },
        { name: 'hatchway async-iterable body', server: 'stream-hatchway', config: { size: streamSize }, subject: true, hatchway: true },
      ],
      load: h2load({ h1: true, clients: 1, streams: 1, bytes: true, fixed: { measure: 1, warmQuery: `?size=${64 * MiB}` } }),
      async check(s) {
        const answer = await ask({ protocol: 'h1', port: s.port, path: `/?size=${MiB + 7}` });
        expectAnswer(answer, 200, (b) => b.length === MiB + 7 && b.every((x) => x === 0x78));
      },
    },
    {
      id: 'static-64m',
      title: `Static file, ${fileSize / MiB} MiB, HTTP/1.1`,
      about: 'A temporary file downloaded over 2 keep-alive connections for the whole phase. The unit is a MiB received.',
      unit: 'MiB',
      contenders: [
        { name: 'createReadStream().pipe(res)', server: 'static-bare', config: { path: dir }, baseline: true },
        { name: 'hatchway static middleware', server: 'static-hatchway', config: { path: dir }, subject: true, hatchway: true },
        { name: 'Express + serve-static', server: 'static-express', config: { path: dir } },
      ],
      load: h2load({ h1: true, clients: 2, streams: 1, bytes: true, path: '/file.bin' }),
      setup() {
        mkdirSync(dir, { recursive: true });
        file = pattern(fileSize);
        writeFileSync(join(dir, 'file.bin'), file);
      },
      async check(s) {
        const answer = await ask({ protocol: 'h1', port: s.port, path: '/file.bin' });
        expectAnswer(answer, 200, (b) => b.equals(file!));
        expect(Number(answer.headers['content-length']) === fileSize, `content-length ${String(answer.headers['content-length'])}`);
      },
    },
  ];
}
