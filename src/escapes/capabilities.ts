/**
 * What a protocol front-end offers the escapes (SPEC §11, writing a host): the runner's
 * {@link ResponseSink} plus the optional capabilities of the real connection, and what the
 * front-end knows about the request from the wire.
 */
import type { ResponseSink } from '../gateway/run.ts';
import type { Environ, HeaderList } from '../gateway/types.ts';
import type { WebSocket } from 'ws';
import type { ClaimKind, Outcome, ProtocolFamily, Situation } from './degrade.ts';
import type { Http2Registration } from './http2-app.ts';
import type { PushResource } from './push.ts';
import type { EscapeRegistry } from './registry.ts';
import type { WebSocketRegistration } from './websocket.ts';
import type { UpgradeRegistration } from './upgrade.ts';
import type { Duplex } from 'node:stream';

/** The front-end capabilities escapes need, beyond the runner's {@link ResponseSink}. */
export interface EscapeCapableSink extends ResponseSink {
  /** Sends a 103 Early Hints with these `Link` values. */
  earlyHints?(links: string[]): void;
  /** Completes the websocket handshake with these extra headers and calls `onSocket` (synchronously, or never if it fails). */
  acceptWebSocket?(headers: HeaderList, registration: WebSocketRegistration, environ: Environ, onSocket: (ws: WebSocket) => void): void;
  /** Pushes these resources (PUSH_PROMISE) before the response. */
  push?(resources: PushResource[]): void;
  /** Runs an HTTP/2 handler on the real stream, with these extra response headers; settles when the handler did. */
  http2?(registration: Http2Registration, headers: HeaderList, environ: Environ): void | Promise<void>;
  /**
   * Switches the connection to `protocol` (SPEC §7.10) — `101` + `Upgrade`, or `200` to a
   * CONNECT — with these extra headers, and calls `onConnection` with it as a Duplex
   * (synchronously, or never: the client left before the switch).
   */
  acceptUpgrade?(headers: HeaderList, protocol: string, registration: UpgradeRegistration, environ: Environ, onConnection: (duplex: Duplex) => void): void;
}

/** What this request can really have, decided by the front-end from the wire, not from environ. */
export interface Eligibility {
  /** The request is a websocket handshake this connection can complete. */
  websocket: boolean;
  /** Trailers reach this client (HTTP/2, or HTTP/1.1 with `TE: trailers`). */
  trailers: boolean;
  /** The client allows push (HTTP/2 with SETTINGS_ENABLE_PUSH). */
  push: boolean;
  /** The protocols the request asks to switch to (`requestedH1`/`requestedH2`); absent: none. */
  upgrade?: readonly string[] | undefined;
}

/** Everything the escape sink needs to know about its request. */
export interface EscapeContext {
  /** The environ the server built (fallback apps receive it). */
  environ: Environ;
  /** The request's escape registry: extensions register here, the sink looks tokens up here. */
  registry: EscapeRegistry;
  /** `HTTP/1` or `HTTP/2`: the degrade table's column. */
  protocol: ProtocolFamily;
  /** What the connection can really have, decided from the wire. */
  eligible: Eligibility;
  /** Told each decision the escape sink makes (an access log, a test client). */
  onDecision?: ((decision: EscapeDecision) => void) | undefined;
}

/** What the escape sink decided for one response (SPEC §7.3, §7.4). */
export interface EscapeDecision {
  /** The table's row: the claimed kind, or `none`. */
  kind: ClaimKind;
  situation: Situation;
  outcome: Outcome;
  /** True for the decision of a fallback's own response. */
  fallback: boolean;
  /** What became of the response's push registrations, if it named any. */
  push?: { situation: Situation; outcome: Outcome } | undefined;
}

