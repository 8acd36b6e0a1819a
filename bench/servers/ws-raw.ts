// Raw ws on node:http: the websocket baseline (echo; a plain request gets 426).
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { portOf, ready } from './common.ts';

const server = createServer((_req, res) => res.writeHead(426).end());
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 4 * 1024 * 1024 });
wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, binary) => ws.send(data, { binary }));
});
server.listen(0, '127.0.0.1', () => ready(portOf(server)));
