/**
 * WebSockets against raw `ws` on node:http: handshakes (open and close) through three bundled
 * middleware (access log, errors, cookies), and echo of 64 B and 64 KiB messages once open. The
 * client is bench/clients/ws.ts, in its own process.
 */
import { expectWsEcho } from '../lib/check.ts';
import { wsClient } from '../lib/load.ts';
import type { ContenderSpec, Context, Scenario } from '../lib/types.ts';

const contenders: ContenderSpec[] = [
  { name: 'raw ws on node:http', server: 'ws-raw', baseline: true },
  { name: 'hatchway websocket escape + 3 middleware', server: 'ws-hatchway', subject: true, hatchway: true },
];

export function websocketScenarios(_ctx: Context): Scenario[] {
  const check = (s: { port: number }) => expectWsEcho(s.port);
  return [
    {
      id: 'ws-handshake',
      title: 'WebSocket handshakes',
      about: 'Open and close, 8 loops in parallel; hatchway runs each handshake through access-log, errors and cookies before `ws` takes the socket.',
      unit: 'handshake',
      contenders,
      load: wsClient({ mode: 'handshake', sockets: 8 }),
      check,
    },
    {
      id: 'ws-echo-64',
      title: 'WebSocket echo, 64 B',
      about: '20 open sockets, each echoing one 64-byte binary message at a time.',
      unit: 'msg',
      contenders,
      load: wsClient({ mode: 'echo', size: 64, sockets: 20 }),
      check,
    },
    {
      id: 'ws-echo-64k',
      title: 'WebSocket echo, 64 KiB',
      about: '8 open sockets, each echoing one 64 KiB binary message at a time.',
      unit: 'msg',
      contenders,
      load: wsClient({ mode: 'echo', size: 64 * 1024, sockets: 8 }),
      check,
    },
  ];
}
