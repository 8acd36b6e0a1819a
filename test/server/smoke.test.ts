import t from 'tap';
import { start } from '../fixtures/server.ts';

t.test('a hello app answers over HTTP/1.1', async (t) => {
  const { url } = await start(t, (environ, startResponse) => {
    startResponse(200, [['content-type', 'text/plain']]);
    return ['hello ', environ.pathInfo];
  });
  const res = await fetch(`${url}/world`);
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-length'), '12');
  t.equal(await res.text(), 'hello /world');
});
