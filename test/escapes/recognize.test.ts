/**
 * recognize() in memory, with no sockets: one case for every cell of the degrade table (a
 * cell without a case, or without a written reason why it cannot arise, fails the test), then
 * the control-field grammar and the rules around it (SPEC §7.3).
 */
import t from 'tap';
import { DEGRADE, degrade, type ClaimKind, type Situation } from '../../src/escapes/degrade.ts';
import { CONTROL_HEADER, EscapeRegistry, TOKEN_LENGTH, parseControl } from '../../src/escapes/registry.ts';
import { needsBody, recognize, type RecognitionInput } from '../../src/escapes/recognize.ts';
import type { HeaderList } from '../../src/gateway/types.ts';

const FORGED = 'hw1.AAAAAAAAAAAAAAAAAAAAAAAA';
const ALL = { websocket: true, trailers: true, push: true, http2: true, upgrade: ['echo/1'] };

function registration(kind: ClaimKind, required = false): object {
  if (kind === 'trailers') return { body: ['x'], trailers: () => [], required, status: 200 };
  if (kind === 'http2') return { handler: () => {} };
  if (kind === 'push') return { resources: [{ path: '/a.css' }] };
  if (kind === 'upgrade') return { protocols: ['echo/1', 'connect'], onConnection: () => {} };
  return { onSocket: () => {} };
}

/** A registry with one registration of `kind` (none for `none`) and a way to build inputs. */
function setup(kind: ClaimKind, required = false) {
  const registry = new EscapeRegistry();
  const token = kind === 'none' ? FORGED : registry.register(kind, registration(kind, required));
  const control: HeaderList = [[CONTROL_HEADER, `${kind} ${token}`]];
  const input = (over: Partial<RecognitionInput> = {}): RecognitionInput => ({
    method: 'GET',
    status: 200,
    headers: control,
    held: Buffer.from(token, 'latin1'),
    ended: true,
    registry,
    can: ALL,
    clientGone: false,
    ...over,
  });
  return { registry, token, input };
}

type Case = (kind: ClaimKind) => RecognitionInput | string;

/** Body kinds share their cases; a string is the reason a cell cannot arise. */
const BODY: Record<Situation, Case> = {
  honoured: (k) => setup(k).input(),
  // An upgrade is ineligible when the request asks for no protocol the registration speaks.
  ineligible: (k) => setup(k).input({ can: k === 'upgrade' ? { ...ALL, upgrade: ['other/1'] } : { ...ALL, [k]: false } }),
  'ineligible-required': (k) => (k === 'trailers' ? setup(k, true).input({ can: { ...ALL, trailers: false } }) : 'only a trailers registration can be required'),
  answered: (k) => setup(k).input({ status: 403 }),
  'body-altered': (k) => {
    const { token, input } = setup(k);
    return input({ held: Buffer.from(`${token}!`), ended: false });
  },
  'header-dropped': (k) => setup(k).input({ headers: [['x-other', '1']] }),
  replaced: (k) => setup(k).input({ headers: [[CONTROL_HEADER, `${k} ${FORGED}`]], held: Buffer.from('a page of its own'), ended: true }),
  'client-gone': (k) => setup(k).input({ clientGone: true }),
  'not-issued': (k) => setup(k).input({ headers: [[CONTROL_HEADER, `${k} ${FORGED}`]], held: Buffer.from(FORGED) }),
};

const PUSH: Record<Situation, Case> = {
  honoured: () => setup('push').input({ held: undefined }),
  ineligible: () => setup('push').input({ held: undefined, can: { ...ALL, push: false } }),
  'ineligible-required': () => 'push has no required flag',
  answered: () => setup('push').input({ held: undefined, status: 404 }),
  'body-altered': () => 'push is a header-only kind: its body is the ordinary response',
  'header-dropped': () => 'without its control field a push claims nothing (header-only kind)',
  replaced: () => 'a push is never replaced: only its control field, which is then absent, names it',
  'client-gone': () => setup('push').input({ held: undefined, clientGone: true }),
  'not-issued': () => 'an unissued push token claims nothing: the field is stripped',
};

const NONE: Record<Situation, Case> = {
  honoured: () => 'no claim, nothing to honour',
  ineligible: () => 'no claim, nothing to be ineligible for',
  'ineligible-required': () => 'no claim, nothing required',
  answered: () => 'no claim, no placeholder status to differ from',
  'body-altered': () => 'no claim, no token to alter',
  'header-dropped': () => 'a body that is a pending token makes that registration the claim',
  replaced: () => setup('none').input({ headers: [], held: Buffer.from('hello') }),
  'client-gone': () => setup('none').input({ headers: [], clientGone: true }),
  'not-issued': () => {
    const registry = new EscapeRegistry();
    registry.register('websocket', registration('websocket'));
    return setup('none').input({ registry, headers: [], held: Buffer.from(FORGED) });
  },
};

const CASES: Record<ClaimKind, Record<Situation, Case>> = { websocket: BODY, trailers: BODY, http2: BODY, upgrade: BODY, push: PUSH, none: NONE };

t.test('every cell of the degrade table has a case (or a reason it cannot arise), and recognize() reaches it', async (t) => {
  for (const kind of Object.keys(DEGRADE) as ClaimKind[]) {
    for (const protocol of ['HTTP/1', 'HTTP/2'] as const) {
      for (const situation of Object.keys(DEGRADE[kind][protocol]) as Situation[]) {
        const make = CASES[kind]?.[situation];
        if (make === undefined) {
          t.fail(`no case for ${kind} ${protocol} ${situation}`);
          continue;
        }
        const input = make(kind);
        if (typeof input === 'string') {
          t.ok(input.length > 10, `${kind} ${situation} cannot arise: ${input}`);
          continue;
        }
        const r = recognize(input);
        const got = kind === 'push' ? r.pushSituation : r.situation;
        t.equal(got, situation, `${kind} ${protocol} ${situation}`);
        if (kind !== 'push') t.equal(r.kind, kind, `${kind} ${situation}: the row`);
        t.ok(degrade(kind, protocol, got).length > 0);
      }
    }
  }
});

t.test('a status the middleware set wins over every body situation', async (t) => {
  for (const kind of ['websocket', 'trailers', 'http2', 'upgrade'] as const) {
    const { token, input } = setup(kind);
    for (const status of [401, 403, 304, 204, 503, 302]) {
      t.equal(recognize(input({ status })).situation, 'answered', `${kind} ${status}`);
      t.equal(recognize(input({ status, held: Buffer.from(`${token}${token}`), ended: false })).situation, 'answered', `${kind} ${status} with another body`);
      // Without the field, a bodyless status is not even looked into: the middleware's own response.
      const bodyless = status === 304 || status === 204;
      t.equal(recognize(input({ status, headers: [] })).situation, bodyless ? 'replaced' : 'answered', `${kind} ${status} without the control field`);
    }
    t.equal(recognize(input({ status: 403 })).bodyIsToken, true);
  }
  const registry = new EscapeRegistry();
  const token = registry.register('trailers', { body: [], trailers: () => [], status: 201 });
  const base = { method: 'GET', headers: [[CONTROL_HEADER, `trailers ${token}`]] as HeaderList, held: Buffer.from(token), ended: true, registry, can: ALL, clientGone: false };
  t.equal(recognize({ ...base, status: 201 }).situation, 'honoured', 'a trailers response keeps its real status');
  t.equal(recognize({ ...base, status: 200 }).situation, 'answered');
});

t.test('HEAD and bodyless statuses are decided from the fields alone', async (t) => {
  const { input } = setup('trailers');
  t.equal(recognize(input({ method: 'HEAD', held: undefined, ended: true })).situation, 'honoured');
  t.equal(recognize(input({ method: 'HEAD', held: undefined, can: { ...ALL, trailers: false } })).situation, 'ineligible');
  t.equal(recognize(input({ status: 304, held: undefined })).situation, 'answered');
  const ws = setup('websocket');
  t.equal(needsBody('HEAD', 200, ws.input().headers, ws.registry), false, 'nothing to hold for a HEAD');
  t.equal(needsBody('GET', 304, ws.input().headers, ws.registry), false, 'nothing to hold for a 304');
  t.equal(needsBody('GET', 200, [], ws.registry), true, 'a pending body registration holds even without a field');
});

t.test('the body is the token only whole, exactly TOKEN_LENGTH bytes, and not encoded', async (t) => {
  const { token, input } = setup('websocket');
  t.equal(TOKEN_LENGTH, token.length);
  t.equal(recognize(input({ ended: false })).situation, 'body-altered', 'not known to have ended');
  t.equal(recognize(input({ held: Buffer.from(token.slice(1)) })).situation, 'body-altered', 'a byte missing');
  t.equal(recognize(input({ held: Buffer.from(token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))) })).situation, 'body-altered', 'a byte changed');
  t.equal(recognize(input({ headers: [...input().headers, ['content-encoding', 'gzip']] })).situation, 'body-altered', 'content-encoding');
  t.equal(recognize(input({ held: undefined })).situation, 'body-altered', 'a file is never a token');
});

t.test('the control field grammar: name in any case, OWS, one kind and one token', async (t) => {
  const { token, input } = setup('websocket');
  t.same(parseControl(`websocket ${token}`), { kind: 'websocket', token });
  t.same(parseControl(` \twebsocket   ${token}\t`), { kind: 'websocket', token });
  for (const bad of [`websocket`, `websocket${token}`, `WebSocket ${token}`, `tunnel ${token}`, `websocket ${token} extra`, `websocket ${token.slice(0, -1)}`, `websocket,${token}`]) {
    t.equal(parseControl(bad), undefined, JSON.stringify(bad));
  }
  t.equal(recognize(input({ headers: [['Hatchway-Escape', `websocket ${token}`]] })).situation, 'honoured', 'the name in any case');
  t.equal(recognize(input({ headers: [[CONTROL_HEADER, `websocket  ${token} x`]] })).situation, 'header-dropped', 'a malformed field claims nothing');
});

t.test('one body claim per response: the first body-kind field is the claim, later ones are used up', async (t) => {
  const registry = new EscapeRegistry();
  const ws = registry.register('websocket', registration('websocket'));
  const tr = registry.register('trailers', registration('trailers'));
  const base = { method: 'GET', status: 200, held: Buffer.from(ws), ended: true, registry, can: ALL, clientGone: false };
  const both = recognize({ ...base, headers: [[CONTROL_HEADER, `websocket ${ws}`], [CONTROL_HEADER, `trailers ${tr}`]] });
  t.equal(both.situation, 'honoured');
  t.equal(both.entry?.token, ws);
  t.same(both.spent.map((e) => e.token), [tr]);
  const dup = recognize({ ...base, headers: [[CONTROL_HEADER, `websocket ${ws}`], [CONTROL_HEADER, `websocket ${ws}`]] });
  t.equal(dup.situation, 'honoured', 'an identical copy of the field is harmless');
  t.same(dup.spent, []);
  const forgedFirst = recognize({ ...base, headers: [[CONTROL_HEADER, `websocket ${FORGED}`], [CONTROL_HEADER, `websocket ${ws}`]] });
  t.equal(forgedFirst.situation, 'not-issued', 'a forged first claim is never upgraded by a later one');
  t.same(forgedFirst.spent.map((e) => e.token), [ws], 'the later, issued one is used up');
});

t.test('a token of another kind, or used already, is not-issued when it is the body', async (t) => {
  const registry = new EscapeRegistry();
  const tr = registry.register('trailers', registration('trailers'));
  const base = { method: 'GET', status: 200, held: Buffer.from(tr), ended: true, registry, can: ALL, clientGone: false };
  t.equal(recognize({ ...base, headers: [[CONTROL_HEADER, `websocket ${tr}`]] }).situation, 'not-issued', 'another kind');
  const entry = recognize({ ...base, headers: [[CONTROL_HEADER, `trailers ${tr}`]] }).entry!;
  entry.used = true;
  t.equal(recognize({ ...base, headers: [[CONTROL_HEADER, `trailers ${tr}`]] }).situation, 'not-issued', 'replayed');
  t.equal(recognize({ ...base, headers: [] }).situation, 'not-issued', 'a used token as a body without a field');
});

t.test('an upgrade is honoured only for a protocol the request asks for and the registration speaks', async (t) => {
  const { input } = setup('upgrade');
  t.equal(recognize(input({ can: { ...ALL, upgrade: ['ECHO/1'] } })).situation, 'honoured', 'tokens compare without regard to case');
  t.equal(recognize(input({ can: { ...ALL, upgrade: ['foo/2', 'echo/1'] } })).situation, 'honoured', 'any of the offered ones');
  t.equal(recognize(input({ can: { ...ALL, upgrade: ['connect'] } })).situation, 'honoured', 'a CONNECT tunnel for a registration that lists connect');
  t.equal(recognize(input({ can: { ...ALL, upgrade: [] } })).situation, 'ineligible', 'a request that asks for nothing');
  const { upgrade: _, ...noField } = ALL;
  t.equal(recognize(input({ can: noField })).situation, 'ineligible', 'a host that does not tell (Capabilities.upgrade absent)');
  t.equal(recognize(input({ can: { ...ALL, websocket: false } })).situation, 'honoured', 'websocket eligibility is not the upgrade kind\'s');
});
