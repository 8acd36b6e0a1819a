// node:http2 core: a page that pushes /style.css when the client allows push.
import { createServer } from 'node:http2';
import { portOf, ready } from './common.ts';

const PAGE = '<!doctype html><link rel="stylesheet" href="/style.css"><h1>pushed</h1>\n';
const CSS = 'h1 { color: teal }\n';
const server = createServer();
server.on('stream', (stream, headers) => {
  stream.on('error', () => {});
  if (headers[':path'] === '/style.css') {
    stream.respond({ ':status': 200, 'content-type': 'text/css' });
    stream.end(CSS);
    return;
  }
  if (stream.pushAllowed) {
    stream.pushStream({ ':path': '/style.css' }, (err, push) => {
      if (err) return;
      push.on('error', () => {});
      push.respond({ ':status': 200, 'content-type': 'text/css' });
      push.end(CSS);
    });
  }
  stream.respond({ ':status': 200, 'content-type': 'text/html; charset=utf-8' });
  stream.end(PAGE);
});
server.listen(0, '127.0.0.1', () => ready(portOf(server)));
