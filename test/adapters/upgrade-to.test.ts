/**
 * The same upgradeTo handler hosted inside Express through toConnect: no extension there, so
 * it runs on the emulated stream with the degrades SPEC §7.8 promises.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer, type Server } from 'node:http';
import express from 'express';
import { upgradeTo, type Http2App } from '../../src/index.ts';
import { toConnect } from '../../adapters/connect.ts';

const exec = promisify(execFile);

const handler: Http2App = async (stream, environ) => {
  const body = await stream.body.text();
  await stream.push('/style.css');
  stream.respond(201, [['content-type', 'text/plain']], { waitForTrailers: true });
  stream.end(`${environ.method} ${environ.pathInfo} id=${stream.id ?? 'none'} emulated=${stream.emulated} body=${body}\n`, [['x-done', '1']]);
};

t.test('an upgradeTo handler answers through Express with the emulated stream', async (t) => {
  const app = express();
  app.use((req, res, next) => {
    res.setHeader('x-express', 'yes');
    next();
  });
  app.use('/api', toConnect(upgradeTo(handler)));
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;
  const { stdout } = await exec('curl', ['-s', '-i', '--data-binary', 'payload', '-H', 'TE: trailers', `http://127.0.0.1:${port}/api/thing`]);
  t.match(stdout, /^HTTP\/1\.1 201/);
  t.match(stdout, /x-express: yes/i, "Express's own headers are kept");
  t.match(stdout, /link: <\/style\.css>; rel=preload/i, 'push degrades to a preload link');
  t.match(stdout, /POST \/thing id=none emulated=true body=payload/, 'mounted under /api: the handler sees the rest of the path');
  t.notMatch(stdout, /x-done/, 'a foreign host has no trailers: dropped, as the trailers degrade says');
  t.notMatch(stdout, /hw1\.|hatchway-escape/i);
});
