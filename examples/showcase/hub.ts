/**
 * The chat and the live view: websockets held by this process, fed by the store's bus, so a
 * message published in one process reaches the sockets of every process.
 */
import type { WebSocket } from 'ws';
import type { AccessLogEntry } from '../../middleware/access-log.ts';
import type { Store } from './store.ts';

/** A chat line as it travels on the bus and to browsers. */
export interface ChatLine {
  type: 'message' | 'join' | 'leave';
  user: string;
  text: string;
  at: string;
  /** Where the sender was connected: the process and the protocol of its websocket. */
  via: { pid: number; protocol: string };
}

/** A live-view entry: the access log's JSON entry and the process that served it. */
export type LiveEntry = AccessLogEntry & { pid: number };

/** Sends to every open socket of a set, forgetting the closed ones. */
function broadcast(sockets: Set<WebSocket>, data: string): void {
  for (const ws of sockets) {
    if (ws.readyState === ws.OPEN) ws.send(data);
    else if (ws.readyState === ws.CLOSED) sockets.delete(ws);
  }
}

/** Keeps the last `size` items, for sockets that connect later. */
class Ring<T> {
  readonly items: T[] = [];
  readonly size: number;
  constructor(size: number) {
    this.size = size;
  }
  push(item: T): void {
    this.items.push(item);
    if (this.items.length > this.size) this.items.shift();
  }
}

export interface Hub {
  /** Adds a chat socket for `user`; its messages are published to every process. */
  joinChat(ws: WebSocket, user: string, protocol: string): void;
  /** Adds a live-view socket: the recent entries, then every new one. */
  watch(ws: WebSocket): void;
  /** The access log's sink: publishes each JSON line to the live view of every process. */
  logLine(line: string): void;
}

export async function createHub(store: Store): Promise<Hub> {
  const chatSockets = new Set<WebSocket>();
  const liveSockets = new Set<WebSocket>();
  const history = new Ring<ChatLine>(30);
  const recent = new Ring<LiveEntry>(60);

  await store.subscribe('chat', (message) => {
    history.push(JSON.parse(message) as ChatLine);
    broadcast(chatSockets, message);
  });
  await store.subscribe('live', (message) => {
    recent.push(JSON.parse(message) as LiveEntry);
    broadcast(liveSockets, message);
  });

  const publish = (channel: string, value: unknown) => {
    store.publish(channel, JSON.stringify(value)).catch((err: unknown) => process.stderr.write(`showcase: publish ${channel}: ${String(err)}\n`));
  };
  const line = (type: ChatLine['type'], user: string, text: string, protocol: string): ChatLine => ({
    type,
    user,
    text,
    at: new Date().toISOString(),
    via: { pid: process.pid, protocol },
  });

  return {
    joinChat(ws, user, protocol) {
      ws.send(JSON.stringify({ type: 'welcome', user, protocol, pid: process.pid, history: history.items }));
      chatSockets.add(ws);
      publish('chat', line('join', user, '', protocol));
      ws.on('message', (data) => {
        const text = String(data).trim().slice(0, 500);
        if (text) publish('chat', line('message', user, text, protocol));
      });
      ws.on('close', () => {
        chatSockets.delete(ws);
        publish('chat', line('leave', user, '', protocol));
      });
    },
    watch(ws) {
      ws.send(JSON.stringify({ type: 'recent', entries: recent.items }));
      liveSockets.add(ws);
      ws.on('close', () => liveSockets.delete(ws));
    },
    logLine(json) {
      publish('live', { ...(JSON.parse(json) as AccessLogEntry), pid: process.pid });
    },
  };
}
