// upgradeTo: a native HTTP/2 handler as an ordinary app. On HTTP/2 it runs on the real stream
// (respond, write with backpressure, trailers, push); on HTTP/1.1 it runs emulated over the
// same pipeline, so one handler serves both.
//   hatchway serve examples/upgrade-to.ts
//   curl -s --http2-prior-knowledge -D - http://127.0.0.1:8000/   |   curl -si http://127.0.0.1:8000/
import { upgradeTo, type Http2App } from '../src/index.ts';

const native: Http2App = async (stream, environ) => {
  stream.respond(200, [['content-type', 'text/plain; charset=utf-8']], { waitForTrailers: true });
  const where = stream.emulated ? 'an emulated stream (HTTP/1.1)' : `HTTP/2 stream ${stream.id}`;
  if (!stream.write(`native handler on ${where}\n`)) await stream.drained();
  stream.end(`${environ.method} ${environ.target}\n`, [['x-handled-by', 'upgradeTo']]);
};

export default upgradeTo(native);
