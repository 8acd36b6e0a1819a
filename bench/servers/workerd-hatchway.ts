// The hello app as a module Worker through hatchway/host/workerd, for bench/runtimes.ts.
import type { App } from '../../src/index.ts';
import { worker } from '../../src/hosts/workerd.ts';

const hello: App = (_environ, startResponse) => {
  startResponse(200, [['content-type', 'text/plain;charset=UTF-8']]);
  return ['Hello, world!'];
};

export default worker(hello);
