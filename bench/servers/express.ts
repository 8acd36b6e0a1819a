// The Express app on node:http, as `app.listen()` runs it.
import { expressApp } from './express-app.ts';
import { portOf, ready } from './common.ts';

const server = expressApp().listen(0, '127.0.0.1', () => ready(portOf(server)));
