// The smallest hatchway app: `npm start` serves it on http://127.0.0.1:8000.
import type { App } from '../src/index.ts';

const hello: App = (environ, startResponse) => {
  startResponse(200, [['content-type', 'text/plain; charset=utf-8']]);
  return [`Hello from hatchway over ${environ.protocol}: ${environ.method} ${environ.target}\n`];
};

export default hello;
