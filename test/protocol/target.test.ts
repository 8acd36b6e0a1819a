import t, { type Test } from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { splitTarget } from '../../src/protocol/target.ts';
import type { App } from '../../src/index.ts';
import { toNodeListener } from '../../adapters/node.ts';
import { toConnect } from '../../adapters/connect.ts';
import { toFetch } from '../../adapters/fetch.ts';
import { start } from '../fixtures/server.ts';
import { RawClient } from '../fixtures/clients.ts';

t.test('a target splits the same way in every form', async (t) => {
  t.same(splitTarget('/a%20b?x=1&y', 'GET'), { path: '/a%20b', pathInfo: '/a b', queryString: 'x=1&y' });
  t.same(splitTarget('http://h:1/p?q=1', 'GET'), { path: '/p', pathInfo: '/p', queryString: 'q=1' }, 'absolute-form');
  t.same(splitTarget('http://h:1?q=1', 'GET'), { path: '/', pathInfo: '/', queryString: 'q=1' }, 'absolute-form without a path keeps its query');
  t.same(splitTarget('http://h:1', 'GET'), { path: '/', pathInfo: '/', queryString: '' }, 'absolute-form without a path');
  t.same(splitTarget('*', 'OPTIONS'), { path: '*', pathInfo: '*', queryString: '' }, 'asterisk-form');
  t.same(splitTarget('h:443', 'CONNECT'), { path: 'h:443', pathInfo: '', queryString: '' }, 'authority-form (SPEC §2.2)');
  t.same(splitTarget('/chat', 'CONNECT'), { path: '/chat', pathInfo: '/chat', queryString: '' }, 'an extended CONNECT has a path');
});

t.test('a path that does not decode is a 400, unless the caller keeps it', async (t) => {
  t.throws(() => splitTarget('/bad%zz', 'GET', { badPath: 'throw' }), { status: 400, code: 'ERR_HATCHWAY_BAD_PATH' });
  t.throws(() => splitTarget('/%c3%28', 'GET', { badPath: 'throw' }), { status: 400, code: 'ERR_HATCHWAY_BAD_PATH' }, 'not UTF-8');
  t.same(splitTarget('/bad%zz?q', 'GET'), { path: '/bad%zz', pathInfo: '/bad%zz', queryString: 'q' }, 'by default the runner decides (SPEC §2.2)');
  t.throws(() => splitTarget('/a%00b', 'GET'), { status: 400, code: 'ERR_HATCHWAY_BAD_PATH' }, 'a NUL');
  t.same(splitTarget('/bad%zz?q', 'GET', { badPath: 'keep' }), { path: '/bad%zz', pathInfo: '/bad%zz', queryString: 'q' });
});

/** What the app saw, as one line. */
const echo: App = (environ, startResponse) => {
  startResponse(200, [['content-type', 'text/plain']]);
  return [`path=${environ.pathInfo} query=${environ.queryString}\n`];
};

async function listen(t: Test, listener: Parameters<typeof createServer>[1]): Promise<number> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  return (server.address() as AddressInfo).port;
}

async function ask(t: Test, port: number, target: string): Promise<string> {
  const client = await RawClient.connect(t, port);
  client.write(`GET ${target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`);
  await client.untilClosed();
  return client.received;
}

t.test('the server and every adapter agree on an absolute-form target and a malformed escape', async (t) => {
  const quiet = { errors: { write: () => {} } };
  const hosts: [string, number][] = [
    ['hatchway server', (await start(t, echo)).port],
    ['toNodeListener', await listen(t, toNodeListener(echo, quiet))],
    ['toConnect', await listen(t, express().use(toConnect(echo, quiet)))],
  ];
  for (const [name, port] of hosts) {
    const absolute = await ask(t, port, 'http://h?q=1');
    t.match(absolute, /^HTTP\/1\.1 200/, `${name}: absolute-form`);
    t.match(absolute, /path=\/ query=q=1\n/, `${name}: the query of an absolute-form target without a path`);
    t.match(await ask(t, port, 'http://h/p?q=1'), /path=\/p query=q=1\n/, `${name}: absolute-form with a path`);
    t.match(await ask(t, port, '/bad%zz'), /^HTTP\/1\.1 400 /, `${name}: a malformed %-escape is a 400`);
  }
});

t.test('toFetch answers a malformed %-escape with the server\'s 400', async (t) => {
  const handler = toFetch(echo, { errors: { write: () => {} } });
  const bad = await handler(new Request('http://h/bad%zz'));
  t.equal(bad.status, 400);
  t.equal(bad.headers.get('x-content-type-options'), 'nosniff');
  t.equal(await (await handler(new Request('http://h/a%20b?q=1'))).text(), 'path=/a b query=q=1\n');
});
