// Express middleware inside the pipeline: helmet and cors (Connect-style `(req, res, next)`)
// run in front of a hatchway app — and of its websocket route, whose token survives them.
//   hatchway serve examples/express-middleware.ts   then   curl -si http://127.0.0.1:8000/
import cors from 'cors';
import helmet from 'helmet';
import { acceptWebSocket, compose, type App } from '../src/index.ts';
import { fromConnect } from '../adapters/connect.ts';

const app: App = (environ, startResponse) => {
  if (environ.pathInfo === '/ws') return acceptWebSocket(environ, startResponse, { onSocket: (ws) => ws.send('hello through helmet and cors') });
  startResponse(200, [['content-type', 'text/plain; charset=utf-8']]);
  return ['helmet and cors ran in front of me\n'];
};

export default compose(fromConnect(helmet()), fromConnect(cors({ origin: 'https://app.example' })))(app);
