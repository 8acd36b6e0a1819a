/**
 * Websocket keep-alive (issue 14): pings on an interval, a peer that does not answer is
 * dropped, an idle socket is closed; on a real `ws` client with short intervals.
 */
import t from 'tap';
import WebSocket from 'ws';
import { liveRegistrations, websocket } from '../../src/index.ts';
import { start } from '../fixtures/server.ts';
import { sleep, within } from '../fixtures/clients.ts';

const echo = websocket({ onSocket: (ws) => ws.on('message', (m) => ws.send(m)) });

function open(url: string, options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  const ws = new WebSocket(url.replace('http:', 'ws:'), options);
  ws.on('error', () => {});
  return new Promise((resolve) => ws.once('open', () => resolve(ws)));
}

t.test('the server pings; a peer that answers stays open', async (t) => {
  const { url } = await start(t, echo, { websocket: { pingInterval: 100, pingTimeout: 100 } });
  const ws = await open(url);
  t.teardown(() => ws.terminate());
  let pings = 0;
  ws.on('ping', () => pings++);
  await sleep(600);
  t.ok(pings >= 3, `pinged ${pings} times`);
  t.equal(ws.readyState, WebSocket.OPEN, 'ws answers pings with pongs itself: still open');
});

t.test('a peer that does not answer pings is dropped after pingTimeout', async (t) => {
  const { url, server, logs } = await start(t, echo, { websocket: { pingInterval: 100, pingTimeout: 150 } });
  // autoPong: false — the peer reads pings and never answers (a dead link looks the same).
  const ws = await open(url, { autoPong: false });
  const closed = await within(new Promise<number>((resolve) => ws.once('close', (code) => resolve(code))), 3_000);
  t.equal(closed, 1006, 'cut without a close frame: the peer is not answering');
  for (let i = 0; i < 50 && server.connections > 0; i++) await sleep(20);
  t.equal(server.connections, 0, 'no socket is left');
  t.equal(liveRegistrations(), 0);
  t.ok(logs.some((l) => l.includes('did not answer a ping')), 'the drop is logged');
});

t.test('a socket idle past idleTimeout is closed with 1000; traffic keeps it open', async (t) => {
  const { url } = await start(t, echo, { websocket: { pingInterval: 0, idleTimeout: 300 } });
  const busy = await open(url);
  t.teardown(() => busy.terminate());
  for (let i = 0; i < 6; i++) {
    await sleep(100);
    busy.send('tick');
  }
  t.equal(busy.readyState, WebSocket.OPEN, 'a socket with messages every 100 ms stays open');
  const idle = await open(url);
  const closed = await within(new Promise<[number, string]>((resolve) => idle.once('close', (code, reason) => resolve([code, String(reason)]))), 3_000);
  t.same(closed, [1000, 'idle timeout']);
});
