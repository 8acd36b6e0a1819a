/**
 * The recognition rule (SPEC §7.3) as one pure function: from what reached the server at the
 * commit point — status, headers, the held first bytes of the body — and the request's
 * registry, which escape the response claims and in which situation of the degrade table
 * (§7.4) it arrived. It sends nothing and changes nothing; the escape sink acts on the answer.
 */
import type { HeaderList } from '../gateway/types.ts';
import { bodyForbidden, getHeader } from '../protocol/headers.ts';
import { BODY_KINDS, type ClaimKind, type Situation } from './degrade.ts';
import { chooseProtocol } from '../protocol/upgrade.ts';
import { latin1 } from '../wire/bytes.ts';
import { TOKEN_LENGTH, isControlName, isTokenShaped, parseControl, type EscapeRegistry, type Entry } from './registry.ts';

/** What this request can really have and the front-end can really do. */
export interface Capabilities {
  /** A websocket handshake that the front-end can complete. */
  websocket: boolean;
  /** Trailers reach this client (HTTP/2, or HTTP/1.1 with `TE: trailers`). */
  trailers: boolean;
  /** The client allows push and the front-end can push. */
  push: boolean;
  /** An HTTP/2 handler can run on a real stream. */
  http2: boolean;
  /**
   * The protocols the request asks to switch to (SPEC §7.10: an `Upgrade`, a CONNECT, an
   * extended CONNECT's `:protocol`) that the front-end can take over; absent or empty: none.
   */
  upgrade?: readonly string[] | undefined;
}

/** Everything {@link recognize} looks at. */
export interface RecognitionInput {
  /** The request method. */
  method: string;
  /** The committed status code. */
  status: number;
  /** The response headers as the runner committed them, control fields included. */
  headers: HeaderList;
  /**
   * The held first bytes of the body — or, when they were one string chunk, that string (a token
   * is ASCII, so it is the same token either way, with no encoding); `undefined` when the body was
   * not held or cannot be a token (a file).
   */
  held: Uint8Array | string | undefined;
  /** The held bytes are the whole body. */
  ended: boolean;
  /** The request's registry, where tokens are looked up. */
  registry: EscapeRegistry;
  /** What this request can have and the front-end can do. */
  can: Capabilities;
  /** The client left before the commit point. */
  clientGone: boolean;
}

/** What the response claims, and how it arrived. */
export interface Recognition {
  /** The degrade table's row: the claimed (or body-found) kind, or `none`. */
  kind: ClaimKind;
  /** The issued registration claimed; `undefined` for `none` and for a token never issued. */
  entry: Entry | undefined;
  /** What the server found: the degrade table's situation (SPEC §7.3). */
  situation: Situation;
  /** The body is exactly the claimed token (for `answered`, any token of the request; for `not-issued`, a token-shaped body). */
  bodyIsToken: boolean;
  /** Issued push registrations named by control fields (each once). */
  pushes: Entry[];
  /** The push row's situation for this response. */
  pushSituation: Situation;
  /** Other issued body registrations named by later control fields: used up, not honoured. */
  spent: Entry[];
}

/** What this request can have (`eligible`, from the wire) that the front-end's sink can also do. */
export function capabilities(
  eligible: { websocket: boolean; trailers: boolean; push: boolean; upgrade?: readonly string[] | undefined },
  sink: { acceptWebSocket?: unknown; push?: unknown; http2?: unknown; acceptUpgrade?: unknown },
): Capabilities {
  return {
    websocket: eligible.websocket && sink.acceptWebSocket !== undefined,
    trailers: eligible.trailers,
    push: eligible.push && sink.push !== undefined,
    http2: sink.http2 !== undefined,
    upgrade: eligible.upgrade !== undefined && sink.acceptUpgrade !== undefined ? eligible.upgrade : NO_PROTOCOLS,
  };
}

const NO_PROTOCOLS: readonly string[] = Object.freeze([]);

/** True when the response must hold its first bytes before {@link recognize} can answer. */
export function needsBody(method: string, status: number, headers: HeaderList, registry: EscapeRegistry): boolean {
  if (bodyForbidden(method, status)) return false;
  if (registry.pendingBody) return true;
  for (const [name, value] of headers) {
    if (isControlName(name)) {
      const parsed = parseControl(value);
      if (parsed !== undefined && BODY_KINDS.has(parsed.kind)) return true;
    }
  }
  return false;
}

/** The status the token response of `entry` had: the placeholder 200, or the trailers registration's own. */
export function expectedStatus(entry: Entry): number {
  if (entry.kind !== 'trailers') return 200;
  const status = (entry.registration as { status?: unknown }).status;
  return typeof status === 'number' ? status : 200;
}

/** Decides claim and situation (SPEC §7.3, in this order). */
export function recognize(input: RecognitionInput): Recognition {
  const { registry, status } = input;
  let claimed = false;
  let claimKind: ClaimKind = 'none';
  let entry: Entry | undefined;
  // Most responses name no push and one body escape: the shared empty lists until one is needed.
  let pushes = NO_ENTRIES;
  let spent = NO_ENTRIES;
  const headers = input.headers;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    if (!isControlName(name)) continue;
    const parsed = parseControl(value);
    if (parsed === undefined) continue; // malformed: stripped, claims nothing
    const match = registry.match(parsed.kind, parsed.token);
    if (parsed.kind === 'push') {
      if (match !== undefined && !pushes.includes(match)) (pushes === NO_ENTRIES ? (pushes = []) : pushes).push(match);
    } else if (!claimed) {
      // The first body-kind field is the claim: one body per response.
      claimed = true;
      claimKind = parsed.kind;
      entry = match;
    } else if (match !== undefined && match !== entry && !spent.includes(match)) (spent === NO_ENTRIES ? (spent = []) : spent).push(match);
  }
  const pushSituation: Situation = input.clientGone ? 'client-gone' : status < 200 || status > 299 ? 'answered' : input.can.push ? 'honoured' : 'ineligible';
  const out = (kind: ClaimKind, e: Entry | undefined, situation: Situation, bodyIsToken: boolean): Recognition => ({
    kind,
    entry: e,
    situation,
    bodyIsToken,
    pushes,
    pushSituation,
    spent,
  });

  const bodyless = bodyForbidden(input.method, status);
  const held = input.held;
  // Only a whole body of exactly TOKEN_LENGTH bytes can be a token (a string of another length
  // is no token either: a token is ASCII, one byte a character).
  const text = bodyless || !input.ended || held === undefined ? undefined : heldText(held);
  const shaped = text !== undefined && isTokenShaped(text);

  if (input.clientGone) return out(claimKind, entry, 'client-gone', false);
  if (claimed && entry === undefined) {
    // Forged, replayed, stale or of another kind: never honoured, and a token body never sent.
    return out(claimKind, undefined, shaped ? 'not-issued' : 'replaced', shaped);
  }
  let found = false;
  if (entry === undefined && shaped) {
    // No control field: is the body a pending token all the same? (Constant-time compares.)
    for (const kind of BODY_KINDS) entry ??= registry.match(kind, text);
    found = entry !== undefined;
  }
  if (entry === undefined) return out('none', undefined, shaped ? 'not-issued' : 'replaced', shaped);

  const bodyIsToken = found || (text !== undefined && registry.is(entry, text));
  // An answer whose body is any token of the request (a subrequest's, say) sends no token either.
  if (status !== expectedStatus(entry)) return out(entry.kind, entry, 'answered', bodyIsToken || (shaped && registry.owns(text)));
  if (found) return out(entry.kind, entry, 'header-dropped', true);
  if (!bodyless && (!bodyIsToken || getHeader(input.headers, 'content-encoding') !== undefined)) return out(entry.kind, entry, 'body-altered', bodyIsToken);
  return out(entry.kind, entry, eligibility(entry, input.can), bodyIsToken);
}

const NO_ENTRIES: Entry[] = [];
Object.freeze(NO_ENTRIES);

/** The held body as text when it has a token's length, else `undefined`. */
function heldText(held: Uint8Array | string): string | undefined {
  if (typeof held === 'string') return held.length === TOKEN_LENGTH ? held : undefined;
  return held.byteLength === TOKEN_LENGTH ? latin1(held) : undefined;
}

function eligibility(entry: Entry, can: Capabilities): Situation {
  switch (entry.kind) {
    case 'websocket':
      return can.websocket ? 'honoured' : 'ineligible';
    case 'http2':
      return can.http2 ? 'honoured' : 'ineligible';
    case 'upgrade':
      // The request asks for a protocol the registration speaks.
      return chooseProtocol(can.upgrade ?? NO_PROTOCOLS, (entry.registration as { protocols: readonly string[] }).protocols) !== undefined ? 'honoured' : 'ineligible';
    case 'trailers':
      if (can.trailers) return 'honoured';
      return (entry.registration as { required?: boolean }).required === true ? 'ineligible-required' : 'ineligible';
    default:
      return 'honoured';
  }
}
