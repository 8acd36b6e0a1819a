/**
 * Hello, world: the per-request cost of each server with nothing else to do. HTTP/1.1 keep-alive
 * (one request at a time per connection, and 16 pipelined), HTTP/2 over h2c and over TLS with
 * many streams per connection; bare node:http / node:http2 core is the baseline, Fastify the peer.
 */
import { ask, expectAnswer } from '../lib/check.ts';
import { h2load } from '../lib/load.ts';
import type { Running } from '../lib/proc.ts';
import type { Context, Scenario } from '../lib/types.ts';

const HELLO = 'Hello, world!\n';

export function helloScenarios(ctx: Context): Scenario[] {
  const h1 = async (s: Running) => expectAnswer(await ask({ protocol: 'h1', port: s.port }), 200, HELLO);
  const h2c = async (s: Running) => expectAnswer(await ask({ protocol: 'h2c', port: s.port }), 200, HELLO);
  const h2 = async (s: Running) => expectAnswer(await ask({ protocol: 'h2', port: s.port, ca: ctx.tls().cert }), 200, HELLO);
  const h1Contenders = [
    { name: 'node:http', server: 'node-http', baseline: true },
    { name: 'hatchway', server: 'hatchway', subject: true, hatchway: true },
    { name: 'Fastify', server: 'fastify' },
  ];
  const h2Contenders = (tls: boolean) => [
    { name: 'node:http2 core', server: 'node-http2', config: { tls }, baseline: true },
    { name: 'hatchway', server: 'hatchway', config: { tls }, subject: true, hatchway: true },
    { name: 'Fastify http2: true', server: 'fastify', config: { http2: true, tls } },
  ];
  return [
    {
      id: 'h1-hello',
      title: 'HTTP/1.1 hello, keep-alive',
      about: 'The same "Hello, world!" handler; 8 keep-alive connections, one request at a time on each.',
      unit: 'req',
      contenders: h1Contenders,
      load: h2load({ h1: true, clients: 8, streams: 1 }),
      check: h1,
    },
    {
      id: 'h1-pipelined',
      title: 'HTTP/1.1 hello, pipelined',
      about: 'As above with 16 requests pipelined on each of the 8 connections.',
      unit: 'req',
      contenders: h1Contenders,
      load: h2load({ h1: true, clients: 8, streams: 16 }),
      check: h1,
    },
    {
      id: 'h2c-hello',
      title: 'HTTP/2 hello, h2c',
      about: 'Cleartext HTTP/2 (prior knowledge): 4 connections, 32 concurrent streams each; bare node:http2 on its core `stream` API.',
      unit: 'req',
      contenders: h2Contenders(false),
      load: h2load({ clients: 4, streams: 32 }),
      check: h2c,
    },
    {
      id: 'h2-tls-hello',
      title: 'HTTP/2 hello, TLS',
      about: 'HTTP/2 over TLS (ALPN h2, a self-signed certificate): 4 connections, 32 concurrent streams each.',
      unit: 'req',
      contenders: h2Contenders(true),
      load: h2load({ tls: true, clients: 4, streams: 32 }),
      check: h2,
    },
  ];
}
