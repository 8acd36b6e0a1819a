import t from 'tap';
import { nextRequestId } from '../../src/gateway/request-id.ts';
import type { App } from '../../src/index.ts';
import { toFetch } from '../../adapters/fetch.ts';
import { start } from '../fixtures/server.ts';
import { request } from '../fixtures/clients.ts';

const id: App = (environ, startResponse) => {
  startResponse(200, [['content-type', 'text/plain']]);
  return [environ.requestId];
};

t.test('the server and the adapters draw request ids from one source', async (t) => {
  const a = nextRequestId();
  const { url } = await start(t, id);
  const fromServer = (await request(url + '/')).body.toString();
  const fromAdapter = await (await toFetch(id)(new Request('http://h/'))).text();
  const b = nextRequestId();
  const [prefix, n] = a.split('-');
  const count = (value: string) => parseInt(value.split('-')[1]!, 36);
  for (const value of [fromServer, fromAdapter, b]) t.equal(value.split('-')[0], prefix, `${value} has the process prefix`);
  t.ok(count(fromServer) > parseInt(n!, 36) && count(fromAdapter) > count(fromServer) && count(b) > count(fromAdapter), 'one counter, in order');
});
