/**
 * The showcase's shared state, behind one small interface: the session store and a
 * publish/subscribe bus (the chat's fan-out and the live view's feed).
 *
 * Workers and machines share nothing (SPEC §8), so what must be shared lives in an existing
 * engine: Redis, with the `redis` npm client, when `REDIS_URL` is set (`redis://127.0.0.1:6379`).
 * Without it an in-process store serves one process — what `npm start` uses.
 */
import { EventEmitter } from 'node:events';
import { MemoryStore, type SessionData, type SessionStore } from '../../middleware/session.ts';

/** A bus message handler. */
export type Listener = (message: string) => void;

/** Sessions and pub/sub: everything the showcase shares between processes. */
export interface Store {
  /** `redis` or `memory`: the page says which. */
  readonly kind: 'redis' | 'memory';
  /** The session middleware's store. */
  readonly sessions: SessionStore;
  /** Sends `message` to every subscriber of `channel`, in every process. */
  publish(channel: string, message: string): Promise<void>;
  /** Calls `listener` for every message on `channel`; resolves once subscribed. */
  subscribe(channel: string, listener: Listener): Promise<void>;
  /** Disconnects. */
  close(): Promise<void>;
}

/** One process: a {@link MemoryStore} and an EventEmitter. */
export function memoryStore(): Store {
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  return {
    kind: 'memory',
    sessions: new MemoryStore(),
    async publish(channel, message) {
      // Asynchronous like Redis, so a publisher never re-enters its own listener.
      queueMicrotask(() => bus.emit(channel, message));
    },
    async subscribe(channel, listener) {
      bus.on(channel, listener);
    },
    async close() {
      bus.removeAllListeners();
    },
  };
}

/**
 * Redis: sessions are `SET key json PX ttl` under `prefix`, and the bus is Redis pub/sub on a
 * second connection (a subscribed connection can issue no other command).
 */
export async function redisStore(url: string, prefix = 'hatchway:showcase:'): Promise<Store> {
  const { createClient } = await import('redis');
  const client = createClient({ url });
  // A client without an 'error' listener crashes the process on a dropped connection;
  // the client reconnects by itself, so log and carry on.
  client.on('error', (err: Error) => process.stderr.write(`showcase: redis: ${err.message}\n`));
  await client.connect();
  const subscriber = client.duplicate();
  subscriber.on('error', (err: Error) => process.stderr.write(`showcase: redis subscriber: ${err.message}\n`));
  await subscriber.connect();
  const key = (id: string) => `${prefix}session:${id}`;
  const sessions: SessionStore = {
    async get(id) {
      const json = await client.get(key(id));
      return json === null ? undefined : (JSON.parse(json) as SessionData);
    },
    async set(id, data, ttl) {
      await client.set(key(id), JSON.stringify(data), { expiration: { type: 'PX', value: Math.max(1, Math.round(ttl)) } });
    },
    async destroy(id) {
      await client.del(key(id));
    },
  };
  return {
    kind: 'redis',
    sessions,
    async publish(channel, message) {
      await client.publish(prefix + channel, message);
    },
    async subscribe(channel, listener) {
      await subscriber.subscribe(prefix + channel, (message: string) => listener(message));
    },
    async close() {
      await Promise.allSettled([subscriber.close(), client.close()]);
    },
  };
}

/** Redis when `REDIS_URL` is set, else the in-process store. */
export function storeFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Store> {
  return env.REDIS_URL ? redisStore(env.REDIS_URL) : Promise.resolve(memoryStore());
}
