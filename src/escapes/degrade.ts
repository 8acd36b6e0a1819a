/**
 * THE degrade table: for every escape kind, protocol and situation, what the server sends
 * (SPEC §7.4). Nothing decides a degrade outside this table; `docs/SPEC.md` renders it
 * (a test keeps the two identical).
 */

/** The kinds of escape a request can register. */
export type EscapeKind = 'websocket' | 'trailers' | 'push' | 'http2' | 'upgrade';

/** Protocol families the table distinguishes. */
export type ProtocolFamily = 'HTTP/1' | 'HTTP/2';

/**
 * What the origin server found at the commit point for one registration.
 * - `honoured`: control header present, unaltered, and (for body kinds) the body is the token.
 * - `ineligible`: honoured, but this request cannot have the feature (not a websocket
 *   handshake; HTTP/1.1 without `TE: trailers`; push disabled by the client).
 * - `ineligible-required`: as `ineligible`, and the registration declared the feature required.
 * - `answered`: the response's status is not the one the token response had (200 for
 *   `websocket`, `upgrade` and `http2`, the registration's own for `trailers`): a middleware answered
 *   (a 401, a 403, a lazy 304), so its status and headers win and the escape never runs.
 * - `body-altered`: control header present, but the body is not byte-identical to the token.
 * - `header-dropped`: no control header, but the body is still the token.
 * - `replaced`: neither: middleware sent a response of its own.
 * - `client-gone`: the client left before the commit point.
 * - `not-issued`: a control header names a token this request never issued, or one already
 *   used, or one of another kind (forged, replayed, stale), and the body is a token.
 */
export type Situation =
  | 'honoured'
  | 'ineligible'
  | 'ineligible-required'
  | 'answered'
  | 'body-altered'
  | 'header-dropped'
  | 'replaced'
  | 'client-gone'
  | 'not-issued';

/** What the server does. */
export type Outcome =
  | 'takeover'
  | 'fallback'
  | 'middleware'
  | 'answer'
  | 'body-without-trailers'
  | 'error'
  | 'refuse'
  | 'push'
  | 'preload'
  | 'emulate'
  | 'release';

type Row = Record<Situation, Outcome>;

const websocket: Row = {
  honoured: 'takeover',
  ineligible: 'fallback',
  'ineligible-required': 'fallback',
  answered: 'answer',
  'body-altered': 'fallback',
  'header-dropped': 'fallback',
  replaced: 'middleware',
  'client-gone': 'release',
  'not-issued': 'refuse',
};

// The generic upgrade (SPEC §7.10) degrades as a websocket does: it is one, for any protocol.
// Its fallback is the registration's (426 with `Upgrade`, 405 or 501 for CONNECT).
const upgrade: Row = { ...websocket };

const trailers: Row = {
  honoured: 'takeover',
  ineligible: 'body-without-trailers',
  'ineligible-required': 'error',
  answered: 'answer',
  'body-altered': 'fallback',
  'header-dropped': 'fallback',
  replaced: 'middleware',
  'client-gone': 'release',
  'not-issued': 'refuse',
};

// Push is a header-only kind: the body is the ordinary response, so an altered body is
// still a push; only the header decides.
const pushH1: Row = {
  honoured: 'preload',
  ineligible: 'preload',
  'ineligible-required': 'preload',
  // Not a 2xx: the resources were for a page that is not being sent.
  answered: 'middleware',
  'body-altered': 'preload',
  'header-dropped': 'middleware',
  replaced: 'middleware',
  'client-gone': 'release',
  'not-issued': 'middleware',
};
const pushH2: Row = { ...pushH1, honoured: 'push', 'body-altered': 'push' };

const http2H2: Row = {
  honoured: 'takeover',
  ineligible: 'emulate',
  'ineligible-required': 'emulate',
  answered: 'answer',
  'body-altered': 'fallback',
  'header-dropped': 'fallback',
  replaced: 'middleware',
  'client-gone': 'release',
  'not-issued': 'refuse',
};
const http2H1: Row = { ...http2H2, honoured: 'emulate' };

// No body-kind claim at all: the response is the middleware's own, unless its body is a
// token the request never issued. Only three situations can arise; the rest are listed so
// the row is total.
const none: Row = {
  honoured: 'middleware',
  ineligible: 'middleware',
  'ineligible-required': 'middleware',
  answered: 'middleware',
  'body-altered': 'middleware',
  'header-dropped': 'middleware',
  replaced: 'middleware',
  'client-gone': 'release',
  'not-issued': 'refuse',
};

/** The row of a response that claims no body-kind escape. */
export type ClaimKind = EscapeKind | 'none';

/** kind × protocol × situation → outcome. */
export const DEGRADE: Readonly<Record<ClaimKind, Readonly<Record<ProtocolFamily, Readonly<Row>>>>> = {
  websocket: { 'HTTP/1': websocket, 'HTTP/2': websocket },
  trailers: { 'HTTP/1': trailers, 'HTTP/2': trailers },
  push: { 'HTTP/1': pushH1, 'HTTP/2': pushH2 },
  http2: { 'HTTP/1': http2H1, 'HTTP/2': http2H2 },
  upgrade: { 'HTTP/1': upgrade, 'HTTP/2': upgrade },
  none: { 'HTTP/1': none, 'HTTP/2': none },
};

/** Which kinds replace the whole response, so their token must also be the body. */
export const BODY_KINDS: ReadonlySet<EscapeKind> = new Set(['websocket', 'trailers', 'http2', 'upgrade']);

/** One sentence per outcome, for SPEC.md and error messages. */
export const OUTCOMES: Readonly<Record<Outcome, string>> = {
  takeover:
    'the escape runs on the real connection (101 + `ws.WebSocket`; streamed body + trailers; the native stream; upgrade: 101 + `Upgrade: <protocol>`, or 200 to a CONNECT, and the connection as a Duplex)',
  fallback:
    "the registration's fallback app answers instead (websocket: 426 with `Upgrade: websocket`; upgrade: 426 with `Upgrade: <protocols>`, 405 to a CONNECT-only registration, 501 to a CONNECT)",
  middleware: "the middleware's response is sent as it is, control header stripped",
  answer:
    "the middleware's status and headers are sent, with its body — unless that body is the token, then the http-errors body for the status (none for HEAD, 1xx, 204, 304); the escape never runs",
  'body-without-trailers': 'the body is sent, the trailers are computed and reported to `onDropped`, not sent',
  error: 'the error response of `ERR_HATCHWAY_TRAILERS_REQUIRED` (400) instead of a silently incomplete response',
  refuse: 'a 500 error response (`ERR_HATCHWAY_TOKEN_NOT_ISSUED`): the token body is never sent',
  push: 'PUSH_PROMISE for each resource, then the response',
  preload: 'the response with a `Link: <…>; rel=preload` header per resource (and a 103 Early Hints, sent at registration)',
  emulate: 'the handler runs on an emulated stream over `startResponse` and the body',
  release: 'nothing is sent; the registration is released',
};

/** The protocol family of an environ's `protocol`. */
export function familyOf(protocol: string): ProtocolFamily {
  return protocol === 'HTTP/2' ? 'HTTP/2' : 'HTTP/1';
}

/**
 * What an escape helper does on a host without the extension (a foreign host, an adapter):
 * the request cannot have the feature, so the table's `ineligible` cell (or
 * `ineligible-required`) decides, as it does on hatchway's own server.
 */
export function withoutExtension(kind: EscapeKind, protocol: string, required = false): Outcome {
  return degrade(kind, familyOf(protocol), required ? 'ineligible-required' : 'ineligible');
}

/** Looks up the outcome. */
export function degrade(kind: ClaimKind, protocol: ProtocolFamily, situation: Situation): Outcome {
  return DEGRADE[kind][protocol][situation];
}

/** Renders the table as Markdown (SPEC §7.4). */
export function renderDegradeTable(): string {
  const situations = Object.keys(websocket) as Situation[];
  const lines = [`| kind | protocol | ${situations.join(' | ')} |`, `|---|---|${situations.map(() => '---').join('|')}|`];
  for (const kind of Object.keys(DEGRADE) as ClaimKind[]) {
    for (const protocol of ['HTTP/1', 'HTTP/2'] as const) {
      lines.push(`| ${kind} | ${protocol} | ${situations.map((s) => DEGRADE[kind][protocol][s]).join(' | ')} |`);
    }
  }
  lines.push('', ...Object.entries(OUTCOMES).map(([o, text]) => `- \`${o}\`: ${text}`));
  return lines.join('\n');
}
