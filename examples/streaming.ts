// A streamed response: an async generator body, sent as it is produced, with backpressure.
//   hatchway serve examples/streaming.ts   then   curl -N http://127.0.0.1:8000/
import type { App } from '../src/index.ts';

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

const streaming: App = (environ, startResponse) => {
  startResponse(200, [['content-type', 'text/plain; charset=utf-8']]);
  return (async function* () {
    for (let i = 1; i <= 5 && !environ.signal.aborted; i++) {
      yield `tick ${i} over ${environ.protocol}\n`; // chunked on HTTP/1.1, DATA frames on HTTP/2
      await sleep(100, environ.signal); // environ.signal aborts when the client leaves
    }
  })();
};

export default streaming;
