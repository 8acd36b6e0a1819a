// Answers with the process id: shows which worker served a request (`--workers N`).
import type { App } from '../src/index.ts';

const pid: App = (_environ, startResponse) => {
  startResponse(200, [['content-type', 'text/plain']]);
  return [`${process.pid}\n`];
};

export default pid;
