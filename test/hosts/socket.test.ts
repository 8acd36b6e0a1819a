/**
 * The `ws`-shaped socket the Bun and Deno hosts hand to `onSocket`, over a fake native
 * socket: queued until the runtime opens it, the listener subset, send callbacks, the message
 * cap (1009), the slow-reader cap (ERR_HATCHWAY_WS_BACKLOG), a throwing listener (1011).
 */
import t from 'tap';
import { HostSocket, type NativeSocket } from '../../src/hosts/socket.ts';

interface Fake extends NativeSocket {
  sent: (string | Uint8Array)[];
  closed: [number | undefined, string | undefined][];
  terminated: number;
  buffered: number;
  accept: boolean;
}

function fake(): Fake {
  const f: Fake = {
    sent: [],
    closed: [],
    terminated: 0,
    buffered: 0,
    accept: true,
    send: (data) => (f.accept && (f.sent.push(data), true)) || false,
    close: (code, reason) => void f.closed.push([code, reason]),
    terminate: () => void f.terminated++,
    bufferedAmount: () => f.buffered,
  };
  return f;
}

const options = { protocol: 'chat', canPing: false, maxBufferedAmount: 100, maxPayload: 10 };

t.test('sends and a close wait for the open, then go out in order', async (t) => {
  const socket = new HostSocket(options);
  t.equal(socket.readyState, HostSocket.OPEN, 'open from the handshake on, as ws hands it over');
  t.equal(socket.protocol, 'chat');
  t.equal(socket.ping, undefined, 'no ping where the runtime has none');
  socket.send('one');
  socket.send(new Uint8Array([1, 2]));
  t.equal(socket.bufferedAmount, 5);
  socket.close(1000, 'bye');
  t.equal(socket.readyState, socket.CLOSING);
  const native = fake();
  socket.opened(native);
  t.same(native.sent, ['one', new Uint8Array([1, 2])]);
  t.same(native.closed, [[1000, 'bye']]);
  native.buffered = 7;
  t.equal(socket.bufferedAmount, 7, "the runtime's count once open");
});

t.test('the listener subset: on, once, off, and message data as ws gives it', async (t) => {
  const socket = new HostSocket(options);
  const got: unknown[] = [];
  const every = (data: Uint8Array, isBinary: boolean) => got.push([String(data), isBinary]);
  socket.on('message', every);
  socket.once('message', () => got.push('once'));
  socket.received('hi', false);
  socket.received(new Uint8Array([104, 111]).buffer, true);
  socket.off('message', every);
  socket.removeListener('message', every);
  socket.received('gone', false);
  t.same(got, [['hi', false], 'once', ['ho', true]]);
  const closes: unknown[] = [];
  socket.addListener('close', (code: number, reason: Uint8Array) => closes.push([code, String(reason)]));
  socket.ended(1001, 'away');
  socket.ended(1000, 'twice');
  t.same(closes, [[1001, 'away']], "'close' once, code and reason");
  t.equal(socket.readyState, socket.CLOSED);
});

t.test('send callbacks: written, dropped, after close, before an open that never came', async (t) => {
  const socket = new HostSocket(options);
  const results: string[] = [];
  socket.send('early', (err) => results.push(`early ${err ? 'failed' : 'ok'}`));
  socket.ended(1006, '');
  socket.send('late', (err) => results.push(`late ${err ? 'failed' : 'ok'}`));
  const open = new HostSocket(options);
  const native = fake();
  open.opened(native);
  await new Promise<void>((resolve) => open.send('x', () => (results.push('written'), resolve())));
  native.accept = false;
  await new Promise<void>((resolve) => open.send('y', { binary: false }, (err) => (results.push(err ? 'dropped' : 'sent'), resolve())));
  t.same(results, ['early failed', 'late failed', 'written', 'dropped']);
  open.send('text as binary', { binary: true });
  open.send(new TextEncoder().encode('bytes as text'), { binary: false });
  native.accept = true;
  open.send(new TextEncoder().encode('bytes as text'), { binary: false });
  t.same(native.sent.at(-1), 'bytes as text');
});

t.test('a message over maxPayload closes with 1009 and never reaches the app', async (t) => {
  const socket = new HostSocket(options);
  const native = fake();
  socket.opened(native);
  let got = 0;
  socket.on('message', () => got++);
  socket.received('x'.repeat(11), false);
  t.equal(got, 0);
  t.same(native.closed, [[1009, 'message too big']]);
});

t.test('a slow reader past maxBufferedAmount is cut and the backlog reported', async (t) => {
  const socket = new HostSocket(options);
  const native = fake();
  socket.opened(native);
  const errors: string[] = [];
  socket.on('error', (err: { code?: string }) => errors.push(err.code ?? ''));
  native.buffered = 101;
  let failed: unknown;
  socket.send('more', (err) => (failed = err));
  t.same(errors, ['ERR_HATCHWAY_WS_BACKLOG']);
  t.equal(native.terminated, 1);
  t.match(failed, { code: 'ERR_HATCHWAY_WS_BACKLOG' });
  const early = new HostSocket(options);
  early.terminate();
  early.opened(native);
  t.equal(native.terminated, 2, 'a terminate before the open cuts it once open');
});

t.test("a 'message' listener that throws fails that socket only: 'error', then 1011", async (t) => {
  const socket = new HostSocket({ ...options, canPing: true });
  const native = { ...fake(), ping: () => void (pinged = true) };
  let pinged = false;
  socket.opened(native);
  socket.ping!();
  t.ok(pinged, 'ping where the runtime has one');
  const errors: string[] = [];
  socket.on('error', (err: Error) => errors.push(err.message));
  socket.on('message', () => {
    throw new Error('app bug');
  });
  socket.received('hi', false);
  t.same(errors, ['app bug']);
  t.same(native.closed, [[1011, 'internal error']]);
  socket.failed(new Error('from the runtime'));
  t.same(errors, ['app bug', 'from the runtime']);
});
