// The runtimes app as a module Worker for workerd (`hatchway/host/workerd`): bundle it as
// docs/RUNTIMES.md says (no `nodejs_compat`; `node:assert` aliased for the router) and run it
// with `wrangler dev`. Every escape degrades by the table: the websocket route answers 426
// behind its auth middleware's 401.
import { worker } from '../../src/hosts/workerd.ts';
import app from './app.ts';

export default worker(app);
