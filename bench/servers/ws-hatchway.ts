// The same echo through hatchway's websocket escape (the request runs through the pipeline).
import { Server } from '../../src/server/index.ts';
import { websocket } from '../../src/index.ts';

const echo = websocket({
  onSocket(ws) {
    ws.on('message', (data, binary) => ws.send(data, { binary }));
  },
});
const server = new Server(echo, { host: '127.0.0.1', port: 0, websocket: { perMessageDeflate: false } });
const { port } = await server.listen();
process.send!({ port });
process.on('disconnect', () => process.exit(0));
