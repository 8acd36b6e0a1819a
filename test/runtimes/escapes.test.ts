/**
 * The websocket escape on Node (hatchway/server), Bun (hatchway/host/bun) and Deno
 * (hatchway/host/deno), one probe app on each: every situation of the degrade table's
 * websocket row, driven by a raw TCP client (every byte checked for a token) and by Python's
 * `websockets`, ends as `degrade()` says on all three — the runtime's native upgrade is used
 * only when the token came back unaltered — and every registration is released.
 */
import t from 'tap';
import { degrade, type Outcome, type Situation } from '../../src/index.ts';
import { RawClient, sleep } from '../fixtures/clients.ts';
import { RUNTIMES, getJson, handshake, rawExchange, startHost, wsPeer, type Host } from '../fixtures/runtimes/hosts.ts';


interface Stats {
  registered: number;
  released: number;
  opened: number;
  closed: number[];
  live: number;
}

/** One row per situation: the probe route that produces it, and the status its outcome sends. */
const CASES: { name: string; path: string; situation: Situation; handshake: boolean; status?: number }[] = [
  { name: 'an unaltered token', path: '/probe/ws', situation: 'honoured', handshake: true },
  { name: 'a plain GET', path: '/probe/ws', situation: 'ineligible', handshake: false },
  { name: 'a status rewritten by a middleware', path: '/probe/ws-answered', situation: 'answered', handshake: true, status: 503 },
  { name: 'a deadline that answered first', path: '/probe/ws-timeout', situation: 'answered', handshake: true, status: 503 },
  { name: 'a dropped control header', path: '/probe/ws-dropped', situation: 'header-dropped', handshake: true },
  { name: 'an altered body', path: '/probe/ws-altered', situation: 'body-altered', handshake: true },
  { name: "a middleware's own page", path: '/probe/ws-replaced', situation: 'replaced', handshake: true, status: 200 },
  { name: 'a forged token', path: '/probe/ws-forged', situation: 'not-issued', handshake: true },
];

const STATUS: Partial<Record<Outcome, number>> = { takeover: 101, fallback: 426, refuse: 500 };

/** Waits (bounded) until the process released every registration it made. */
async function settled(host: Host): Promise<Stats> {
  let stats = await getJson<Stats>(`${host.url}/stats`);
  for (let i = 0; i < 50 && (stats.live !== 0 || stats.released !== stats.registered); i++) {
    await sleep(100);
    stats = await getJson<Stats>(`${host.url}/stats`);
  }
  return stats;
}

for (const runtime of RUNTIMES) {
  t.test(`${runtime}: the websocket row of the degrade table`, async (t) => {
    const host = await startHost(t, runtime);
    let opened = 0;
    for (const c of CASES) {
      const outcome = degrade('websocket', 'HTTP/1', c.situation);
      const expected = STATUS[outcome] ?? c.status!;
      t.test(`${c.name} (${c.situation}) → ${outcome} ${expected}`, async (t) => {
        const raw = await rawExchange(t, host.port, c.handshake ? handshake(c.path) : `GET ${c.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
        t.equal(raw.status, expected, raw.head);
        t.notMatch(raw.raw, /hw1\./, 'no token in any byte the client received');
        t.notMatch(raw.head, /hatchway-escape/i, 'no control field');
        if (outcome === 'takeover') opened++;
        if (outcome !== 'refuse') t.match(raw.head, /\r\nset-cookie: probe=seen/i, "the chain's Set-Cookie rides what was sent");
        if (outcome === 'fallback') t.match(raw.head, /\r\nupgrade: websocket/i, 'the 426 says what to upgrade to');
        if (outcome === 'answer') t.match(raw.body, /Service Unavailable/, "the middleware's status with the http-errors text, never the token");
        if (!c.handshake) return;
        const report = await wsPeer(t, `ws://127.0.0.1:${host.port}${c.path}`);
        t.equal(report.status, expected, 'python websockets sees the same status');
        if (outcome === 'takeover') {
          opened++;
          t.same(report.replies, ['ws: hello', [1, 2]], 'text and binary echo on the native socket');
        }
      });
    }
    t.test('every registration was released, and only honoured tokens opened sockets', async (t) => {
      const stats = await settled(host);
      t.equal(stats.live, 0);
      t.equal(stats.released, stats.registered);
      t.equal(stats.opened, opened);
    });
  });

  t.test(`${runtime}: the native socket behaves as the ws subset says`, async (t) => {
    const host = await startHost(t, runtime);
    const url = `ws://127.0.0.1:${host.port}`;
    const picked = await wsPeer(t, `${url}/probe/ws`, '--protocols', 'a,b');
    t.equal(picked.subprotocol, 'b', "protocol() picks from the client's offer");
    t.ok(picked.headers.some(([name, value]) => name === 'sec-websocket-protocol' && value === 'b'), 'the 101 names it');
    const none = await wsPeer(t, `${url}/probe/ws`, '--protocols', 'a');
    t.equal(none.status, 101);
    t.equal(none.subprotocol, null, 'no pick, no subprotocol (not the first offered)');
    t.notOk(none.headers.some(([name]) => name === 'sec-websocket-protocol'));
    const thrown = await wsPeer(t, `${url}/probe/ws-throws`);
    t.same(thrown.close?.[0], 1011, 'an onSocket that throws closes its socket with 1011');
    t.match(host.stderr(), /onSocket failed on purpose/, 'and is reported to environ.errors');
    const big = await wsPeer(t, `${url}/probe/ws`, '--big', String(5 * 1024 * 1024));
    t.same(big.close?.[0], 1009, 'a message over 4 MiB closes with 1009');
    // A client that leaves right after its handshake: the registration is released all the same.
    const gone = await RawClient.connect(t, host.port);
    gone.write(handshake('/probe/ws'));
    gone.socket.destroy();
    const stats = await settled(host);
    t.equal(stats.live, 0, 'nothing left registered after a client that left');
    t.equal(stats.released, stats.registered);
  });
}
