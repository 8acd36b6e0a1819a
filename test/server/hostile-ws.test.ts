/**
 * Hostile websocket peers on raw frames (issue 14): a tiny RFC 6455 frame writer and reader on
 * a raw socket; each case asserts the exact close code the server sent (or that it cut the
 * socket), that the next client is answered, and that no socket or registration is left.
 */
import { deflateRawSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { liveRegistrations, websocket } from '../../src/index.ts';
import type { Server, ServerOptions } from '../../src/server/index.ts';
import type { App } from '../../src/gateway/types.ts';
import { start } from '../fixtures/server.ts';
import { RawClient, sleep, within } from '../fixtures/clients.ts';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const LIMIT = 64 * 1024;

interface FrameOptions {
  fin?: boolean;
  rsv?: number; // bits 0b100 = RSV1, 0b010 = RSV2, 0b001 = RSV3
  mask?: boolean;
  /** Payload length to declare instead of the payload's own. */
  length?: number;
}

/** One RFC 6455 §5.2 frame. */
function frame(opcode: number, payload: Uint8Array = Buffer.alloc(0), options: FrameOptions = {}): Buffer {
  const { fin = true, rsv = 0, mask = true } = options;
  const length = options.length ?? payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const m = mask ? 0x80 : 0;
  if (length < 126) head.push(m | length);
  else if (length < 65536) head.push(m | 126, length >> 8, length & 255);
  else {
    head.push(m | 127, 0, 0, 0, 0);
    for (let shift = 24; shift >= 0; shift -= 8) head.push((length >>> shift) & 255);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([Buffer.from(head), key, body]);
}

interface Parsed {
  opcode: number;
  payload: Buffer;
}

/** The server's (unmasked) frames in `bytes`, as far as they are complete. */
function frames(bytes: Buffer): Parsed[] {
  const out: Parsed[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    const opcode = bytes[at]! & 15;
    let length = bytes[at + 1]! & 127;
    let start = at + 2;
    if (length === 126) {
      length = bytes.readUInt16BE(at + 2);
      start += 2;
    } else if (length === 127) {
      length = Number(bytes.readBigUInt64BE(at + 2));
      start += 8;
    }
    if (start + length > bytes.length) break;
    out.push({ opcode, payload: bytes.subarray(start, start + length) });
    at = start + length;
  }
  return out;
}

/** A raw peer that has completed the handshake. */
interface Peer {
  client: RawClient;
  /** The bytes after the 101 head. */
  data(): Buffer;
  /** The close frame's code, or 1006 (none) once the server closed the socket; `undefined` on timeout. */
  closeCode(timeout?: number): Promise<number | undefined>;
}

async function handshake(t: Test, port: number, extensions?: string): Promise<Peer> {
  const client = await RawClient.connect(t, port);
  client.write(
    `GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n` +
      (extensions ? `Sec-WebSocket-Extensions: ${extensions}\r\n` : '') +
      '\r\n',
  );
  t.ok(await client.until((r) => r.includes('\r\n\r\n')), 'the head arrives');
  t.match(client.received, /^HTTP\/1\.1 101 /, '101');
  const data = () => Buffer.from(client.received.slice(client.received.indexOf('\r\n\r\n') + 4), 'latin1');
  const closeCode = async (timeout = 5_000) => {
    const closing = () => frames(data()).find((f) => f.opcode === 8);
    const ok = await client.until(() => closing() !== undefined, timeout);
    if (ok) return closing()!.payload.readUInt16BE(0);
    return client.closed ? 1006 : undefined;
  };
  return { client, data, closeCode };
}

/** Nothing left: no socket, no exchange, no registration, no live websocket. */
async function clean(t: Test, server: Server): Promise<void> {
  for (let i = 0; i < 150 && (server.connections > 0 || server.inFlight > 0 || liveRegistrations() > 0); i++) await sleep(20);
  t.equal(server.connections, 0, 'no socket is left');
  t.equal(server.inFlight, 0, 'no exchange is left');
  t.equal(liveRegistrations(), 0, 'no registration is left');
}

/** The next client (a real `ws` client) gets its echo. */
async function nextClientAnswered(t: Test, url: string): Promise<void> {
  const ws = new WebSocket(url.replace('http:', 'ws:') + '/next');
  ws.on('error', () => {});
  const echoed = await within(
    new Promise<string>((resolve) => {
      ws.once('open', () => ws.send('ping?'));
      ws.once('message', (m) => resolve(String(m)));
    }),
    3_000,
  );
  t.equal(echoed, 'ping?', 'the next client is answered');
  ws.close();
  await within(new Promise((r) => ws.once('close', r)), 2_000);
}

interface Echo {
  app: App;
  messages: number[];
  closes: number[];
}

/** An echo app that records the message sizes and close codes it saw. */
function echo(): Echo {
  const messages: number[] = [];
  const closes: number[] = [];
  const app = websocket({
    onSocket: (ws) => {
      ws.on('message', (m: Buffer, binary) => {
        messages.push(m.length);
        if (m.length < 1024) ws.send(m, { binary });
      });
      ws.on('close', (code) => closes.push(code));
    },
  });
  return { app, messages, closes };
}

async function serve(t: Test, app: App, websocketOptions: ServerOptions['websocket'] = {}) {
  return start(t, app, { websocket: { maxPayload: LIMIT, pingInterval: 0, ...websocketOptions } });
}

t.test('an unmasked client frame is closed with 1002 (RFC 6455 §5.1)', async (t) => {
  const e = echo();
  const { port, server, url } = await serve(t, e.app);
  const peer = await handshake(t, port);
  peer.client.write(frame(1, Buffer.from('hello'), { mask: false }));
  t.equal(await peer.closeCode(), 1002);
  t.same(e.messages, [], 'the app never saw the message');
  t.ok(await peer.client.untilClosed(), 'the server closes the socket');
  await nextClientAnswered(t, url);
  await clean(t, server);
});

t.test('reserved opcodes and RSV bits without an extension are closed with 1002', async (t) => {
  const e = echo();
  const { port, server, url } = await serve(t, e.app, { perMessageDeflate: false });
  const shapes: [string, Buffer][] = [
    ['opcode 0x3', frame(3, Buffer.from('x'))],
    ['opcode 0x7', frame(7, Buffer.from('x'))],
    ['opcode 0xB', frame(0xb, Buffer.from('x'))],
    ['opcode 0xF', frame(0xf)],
    ['RSV1 without permessage-deflate', frame(1, Buffer.from('x'), { rsv: 0b100 })],
    ['RSV2', frame(1, Buffer.from('x'), { rsv: 0b010 })],
    ['RSV3', frame(2, Buffer.from('x'), { rsv: 0b001 })],
    ['continuation with nothing to continue', frame(0, Buffer.from('x'))],
    ['fragmented ping', frame(9, Buffer.from('x'), { fin: false })],
    ['ping over 125 bytes', frame(9, Buffer.alloc(126))],
  ];
  for (const [name, bytes] of shapes) {
    const peer = await handshake(t, port);
    peer.client.write(bytes);
    t.equal(await peer.closeCode(), 1002, name);
    t.ok(await peer.client.untilClosed(), `${name}: closed`);
  }
  t.same(e.messages, [], 'no message reached the app');
  for (let i = 0; i < 50 && e.closes.length < shapes.length; i++) await sleep(20);
  t.equal(e.closes.length, shapes.length, `the app saw every socket close (${[...new Set(e.closes)].join(', ')})`);
  await nextClientAnswered(t, url);
  await clean(t, server);
});

t.test('a message over maxPayload is closed with 1009: by the declared length, before the bytes arrive', async (t) => {
  const e = echo();
  const { port, server, url } = await serve(t, e.app);
  const peer = await handshake(t, port);
  // Declares 64 KiB + 1 and sends only 10 bytes: the header alone is enough.
  peer.client.write(frame(2, Buffer.alloc(10), { length: LIMIT + 1 }).subarray(0, 14 + 10));
  t.equal(await peer.closeCode(), 1009);
  const just = await handshake(t, port);
  just.client.write(frame(2, Buffer.alloc(LIMIT)));
  just.client.write(frame(1, Buffer.from('after')));
  t.ok(await just.client.until(() => frames(just.data()).some((f) => f.opcode === 1)), 'a message of exactly maxPayload is accepted');
  t.same(e.messages, [LIMIT, 5]);
  just.client.socket.destroy();
  await nextClientAnswered(t, url);
  await clean(t, server);
});

t.test('a compression bomb is closed with 1009 without inflating it all', async (t) => {
  const e = echo();
  const { port, server, url } = await serve(t, e.app);
  // 64 MiB of zeros deflate to about 64 KiB: a thousand times the limit.
  const inflated = 64 * 1024 * 1024;
  const compressed = deflateRawSync(Buffer.alloc(inflated), { level: 9 });
  const payload = compressed.subarray(0, compressed.length - 4); // RFC 7692 §7.2.1: no 00 00 ff ff
  t.ok(payload.length < LIMIT * 2, `compressed to ${payload.length} bytes`);
  const peer = await handshake(t, port, 'permessage-deflate; client_no_context_takeover; server_no_context_takeover');
  t.match(peer.client.received, /sec-websocket-extensions: permessage-deflate/i, 'deflate negotiated');
  global.gc?.();
  const before = process.memoryUsage();
  const began = performance.now();
  peer.client.write(frame(2, payload, { rsv: 0b100 }));
  t.equal(await peer.closeCode(), 1009);
  const took = performance.now() - began;
  const after = process.memoryUsage();
  const grew = (after.rss - before.rss) / 2 ** 20;
  t.ok(took < 2_000, `closed in ${took.toFixed(0)} ms`);
  // Inflating it all would hold 64 MiB of buffers at once.
  t.ok(grew < 48, `RSS grew ${grew.toFixed(1)} MiB (external ${((after.external - before.external) / 2 ** 20).toFixed(1)} MiB)`);
  t.same(e.messages, [], 'the app never saw it');
  // Many bombs in a row (and concurrently) are each cut the same way.
  const peers = await Promise.all(Array.from({ length: 8 }, () => handshake(t, port, 'permessage-deflate')));
  for (const p of peers) p.client.write(frame(2, payload, { rsv: 0b100 }));
  t.same(await Promise.all(peers.map((p) => p.closeCode())), Array(8).fill(1009), '8 concurrent bombs: 1009 each');
  await nextClientAnswered(t, url);
  await clean(t, server);
});

t.test('fragment floods are bounded: more than 16 384 fragments 1008, past maxPayload 1009', async (t) => {
  const e = echo();
  const { port, server, url, logs } = await serve(t, e.app);
  // ws counts every data frame of a message (maxFragments, 16 384 by default), empty ones too.
  const peer = await handshake(t, port);
  const flood = [frame(1, Buffer.from('x'), { fin: false })];
  for (let i = 0; i < 50_000; i++) flood.push(frame(0, Buffer.alloc(0), { fin: false }));
  const began = performance.now();
  peer.client.write(Buffer.concat(flood));
  t.equal(await peer.closeCode(), 1008, '50 000 empty continuation frames: 1008 policy violation');
  t.ok(performance.now() - began < 3_000, `cut in ${(performance.now() - began).toFixed(0)} ms`);
  t.ok(logs.some((l) => l.includes('Too many message fragments')), 'logged');
  // 1 000 fragments of 100 bytes: past the 64 KiB limit first.
  const big = await handshake(t, port);
  const hundred = [frame(2, Buffer.alloc(100), { fin: false })];
  for (let i = 0; i < 1_000; i++) hundred.push(frame(0, Buffer.alloc(100), { fin: false }));
  big.client.write(Buffer.concat(hundred));
  t.equal(await big.closeCode(), 1009, '100 KB in 100-byte fragments: 1009');
  // 10 000 empty fragments under the count, then the end: delivered once.
  const ok = await handshake(t, port);
  const nothing = [frame(1, Buffer.from('he'), { fin: false })];
  for (let i = 0; i < 10_000; i++) nothing.push(frame(0, Buffer.alloc(0), { fin: false }));
  nothing.push(frame(0, Buffer.from('llo')));
  ok.client.write(Buffer.concat(nothing));
  t.ok(await ok.client.until(() => frames(ok.data()).some((f) => f.opcode === 1)), 'the message is echoed');
  t.equal(frames(ok.data()).find((f) => f.opcode === 1)?.payload.toString(), 'hello');
  t.same(e.messages, [5], 'only the whole message reached the app');
  ok.client.socket.destroy();
  await nextClientAnswered(t, url);
  await clean(t, server);
});

t.test('a reader that never reads is cut by the send-queue cap with ERR_HATCHWAY_WS_BACKLOG', async (t) => {
  const closes: number[] = [];
  let refused = 0;
  const chunk = Buffer.alloc(64 * 1024, 'a');
  const app = websocket({
    onSocket: (ws) => {
      ws.on('close', (code) => closes.push(code));
      if (ws.protocol === '') {
        // An echo for the next client.
        ws.on('message', (m) => ws.send(m));
        return;
      }
      const pump = setInterval(() => {
        if (ws.readyState !== ws.OPEN) return clearInterval(pump);
        for (let i = 0; i < 8; i++) ws.send(chunk, (err) => void ((err as { code?: string } | undefined)?.code === 'ERR_HATCHWAY_WS_BACKLOG' && refused++));
      }, 5);
    },
    protocol: (offered) => (offered.has('flood') ? 'flood' : false),
  });
  const { port, server, url, logs } = await serve(t, app, { maxBufferedAmount: 1024 * 1024 });
  const client = await RawClient.connect(t, port);
  client.write(`GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: flood\r\n\r\n`);
  t.ok(await client.until((r) => r.includes('\r\n\r\n')));
  client.socket.pause(); // never reads again
  const began = Date.now();
  for (let i = 0; i < 250 && closes.length === 0; i++) await sleep(20);
  t.same(closes, [1006], 'the server cut the socket (no close handshake with a peer that does not read)');
  t.ok(Date.now() - began < 5_000, `cut after ${Date.now() - began} ms`);
  // The sends that come after the cap before the cut lands fail alike (a loaded machine runs
  // the pump's whole batch, or another, first): at least one.
  t.ok(refused >= 1, `the sends past the cap failed with ERR_HATCHWAY_WS_BACKLOG (${refused})`);
  t.ok(logs.some((l) => l.includes('reads too slowly: more than 1048576 bytes queued')), 'logged');
  client.socket.destroy();
  await nextClientAnswered(t, url);
  await clean(t, server);
});

t.test('a client that disconnects between the request and the 101 leaves nothing', async (t) => {
  let opened = 0;
  let slowOpened = 0;
  let held: (() => void) | undefined;
  const gate = new Promise<void>((resolve) => (held = resolve));
  const ws = websocket({
    onSocket: (s, environ) => {
      if (environ.pathInfo === '/slow') slowOpened++;
      else opened++;
      s.on('message', (m) => s.send(m));
    },
  });
  // The app takes its time for /slow, so the client is gone before the token comes back.
  const app: App = (environ, startResponse) => {
    if (environ.pathInfo !== '/slow') return ws(environ, startResponse);
    return (async function* () {
      await gate;
      yield* ws(environ, startResponse) as Iterable<string>;
    })();
  };
  const { port, server, url } = await serve(t, app);
  const request = (path: string) =>
    `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  // Right after the request: reset, and half-closed (FIN).
  for (let i = 0; i < 10; i++) {
    const c = await RawClient.connect(t, port);
    c.write(request('/ws'));
    if (i % 2 === 0) c.socket.resetAndDestroy();
    else c.socket.end();
  }
  // While the app still holds the request.
  const slow = await RawClient.connect(t, port);
  slow.write(request('/slow'));
  await sleep(100);
  slow.socket.resetAndDestroy();
  await sleep(50);
  held!();
  await sleep(200);
  await clean(t, server);
  t.equal(slowOpened, 0, 'the client gone before the app answered gets no onSocket');
  t.ok(opened <= 10, `onSocket ran for ${opened} of the 10 that left right after the request (read before the RST/FIN, then closed)`);
  await nextClientAnswered(t, url);
  await clean(t, server);
});
