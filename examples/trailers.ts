// Trailers: the body streams, then a checksum computed from it follows as a trailer field.
// HTTP/2 always carries them; HTTP/1.1 only with `TE: trailers` (else they are dropped and
// reported to onDropped — or, with `required: true`, the client gets a clear 400).
//   hatchway serve examples/trailers.ts
//   curl -s --raw -H 'TE: trailers' http://127.0.0.1:8000/   |   curl -s --http2-prior-knowledge -D - http://127.0.0.1:8000/
import { createHash } from 'node:crypto';
import { sendWithTrailers, type App } from '../src/index.ts';

const trailers: App = (environ, startResponse) => {
  const hash = createHash('sha256');
  return sendWithTrailers(environ, startResponse, {
    headers: [['content-type', 'text/plain; charset=utf-8']],
    names: ['x-checksum'],
    body: (async function* () {
      for (const line of ['one\n', 'two\n', 'three\n']) {
        hash.update(line);
        yield line;
      }
    })(),
    trailers: () => [['x-checksum', `sha-256=${hash.digest('base64')}`]],
    onDropped: (fields) => environ.errors.write(`trailers dropped: ${fields.map(([n, v]) => `${n}: ${v}`).join(', ')}`),
  });
};

export default trailers;
