/**
 * HTTP/2 escapes against node:http2 doing the same by hand: a response with a trailer field
 * (hatchway's trailers escape, `sendWithTrailers`), a page that pushes its stylesheet (the push
 * escape, `associate`), and a gRPC unary call (the example Echo service through `upgradeTo`)
 * against @grpc/grpc-js's own server, driven by h2load with a framed request body.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ask, expect, expectAnswer, nghttpFrames } from '../lib/check.ts';
import { h2load, nghttp } from '../lib/load.ts';
import type { Context, Scenario } from '../lib/types.ts';

/** A gRPC message frame: flag 0, 4-byte length, then the protobuf `Message { text = 1 }`. */
function grpcFrame(text: string): Buffer {
  const bytes = Buffer.from(text);
  const message = Buffer.concat([Buffer.from([0x0a, bytes.length]), bytes]);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

export function h2EscapeScenarios(ctx: Context): Scenario[] {
  const request = join(ctx.tmp, 'grpc-say.bin');
  const grpcHeaders = { 'content-type': 'application/grpc', te: 'trailers' };
  return [
    {
      id: 'h2-trailers',
      title: 'HTTP/2 trailers, h2c',
      about: 'The hello body followed by an `x-checksum` trailer field: `sendWithTrailers` against `respond({ waitForTrailers })` + `sendTrailers`.',
      unit: 'req',
      contenders: [
        { name: 'node:http2 sendTrailers', server: 'trailers-bare', baseline: true },
        { name: 'hatchway trailers escape', server: 'trailers-hatchway', subject: true, hatchway: true },
      ],
      load: h2load({ clients: 4, streams: 32, headers: ['te: trailers'] }),
      async check(s) {
        const answer = await ask({ protocol: 'h2c', port: s.port, headers: { te: 'trailers' } });
        expectAnswer(answer, 200, 'Hello, world!\n');
        expect(answer.trailers['x-checksum'] === 'sha-256=abc', `trailers ${JSON.stringify(answer.trailers)}`);
      },
    },
    {
      id: 'h2-push',
      title: 'HTTP/2 push, h2c',
      about: 'A page that pushes `/style.css` to a client that allows push (nghttp): `associate` against `stream.pushStream`. A unit is one page with its push.',
      unit: 'req',
      contenders: [
        { name: 'node:http2 pushStream', server: 'push-bare', baseline: true },
        { name: 'hatchway push escape', server: 'push-hatchway', subject: true, hatchway: true },
      ],
      load: nghttp(1000),
      async check(s) {
        const answer = await ask({ protocol: 'h2c', port: s.port });
        expectAnswer(answer, 200, (b) => b.toString().includes('<h1>pushed</h1>'));
        expect(answer.pushed.includes('/style.css'), `pushed ${JSON.stringify(answer.pushed)}`);
        const frames = await nghttpFrames(s.port);
        expect(frames.includes('PUSH_PROMISE'), 'nghttp saw no PUSH_PROMISE');
      },
    },
    {
      id: 'grpc-unary',
      title: 'gRPC unary call, h2c',
      about: 'hatchway.example.Echo/Say (examples/grpc) through `upgradeTo` against @grpc/grpc-js\'s server with the same .proto; h2load posts one framed message per call.',
      unit: 'req',
      contenders: [
        { name: '@grpc/grpc-js server', server: 'grpc-js', baseline: true },
        { name: 'hatchway upgradeTo', server: 'grpc-hatchway', subject: true, hatchway: true },
      ],
      load: h2load({ clients: 4, streams: 32, path: '/hatchway.example.Echo/Say', data: request, headers: Object.entries(grpcHeaders).map(([n, v]) => `${n}: ${v}`) }),
      setup: () => writeFileSync(request, grpcFrame('hello')),
      async check(s) {
        const answer = await ask({ protocol: 'h2c', port: s.port, method: 'POST', path: '/hatchway.example.Echo/Say', headers: grpcHeaders, body: grpcFrame('hello') });
        expectAnswer(answer, 200, (b) => b.equals(grpcFrame('you said: hello')));
        expect(answer.trailers['grpc-status'] === '0', `grpc-status ${String(answer.trailers['grpc-status'])}`);
      },
    },
  ];
}
