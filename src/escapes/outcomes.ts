/**
 * The outcomes of the degrade table that replace the response (SPEC §7.4), each carried out
 * on the front-end's sink: the `answer` and error responses as small apps that the escape
 * sink runs through `run()`, and the takeovers that hand the request to a callback.
 * Takeover callbacks run first; the registrations are released after them (SPEC §7.2).
 */
import { errorResponse, formatError } from '../gateway/error-response.ts';
import type { App, Environ, HeaderList } from '../gateway/types.ts';
import { answerBody } from './fields.ts';
import type { Http2Registration } from './http2-app.ts';
import type { EscapeCapableSink } from './capabilities.ts';
import type { WebSocketRegistration } from './websocket.ts';
import { chooseProtocol, type UpgradeRegistration } from './upgrade.ts';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { utf8Length } from '../wire/bytes.ts';

/** The `answer` outcome with a token body: the middleware's status, reason phrase and fields, the http-errors text as the body. */
export function answerApp(status: number, reason: string | undefined, fields: HeaderList): App {
  return (_environ, startResponse) => {
    const text = answerBody(status);
    const headers = text === '' ? fields : [...fields, ['content-type', 'text/plain; charset=utf-8'], ['x-content-type-options', 'nosniff']] as HeaderList;
    startResponse(reason === undefined ? status : `${status} ${reason}`, [...headers, ['content-length', String(utf8Length(text))]]);
    return text === '' ? [] : [text];
  };
}

/** The error response of `err` as an app (`refuse`, `error`, a failed fallback); `log` reports it first. */
export function errorApp(err: unknown, log: boolean): App {
  return (environ, startResponse) => {
    const e = errorResponse(err);
    if (log && e.log) environ.errors.write(formatError(err));
    startResponse(e.status, e.headers);
    return [e.body];
  };
}

/**
 * A takeover: `accept` completes the switch and calls back with the connection — at once, or
 * never if the handshake failed — then `use` runs the app's callback on it (a throw is
 * reported and `fail` ends that connection only), and the registrations are released after
 * it (SPEC §7.2). A switch that throws is reported and the front-end answers or closes.
 */
function takeOver<C>(inner: EscapeCapableSink, environ: Environ, release: () => void, accept: (taken: (connection: C) => void) => void, use: (connection: C) => void, fail: (connection: C) => void): void {
  let called = false;
  try {
    accept((connection) => {
      called = true;
      try {
        use(connection);
      } catch (err) {
        environ.errors.write(formatError(err));
        fail(connection);
      } finally {
        release();
      }
    });
    // The handshake completes synchronously (ws's handleUpgrade, the tunnel's switch) or not at all.
    if (!called) release();
  } catch (err) {
    environ.errors.write(formatError(err));
    inner.abort(err);
    release();
  }
}

/** Completes the websocket handshake, runs `onSocket` (a throw closes with 1011), then releases. */
export function takeWebSocket(inner: EscapeCapableSink, registration: WebSocketRegistration, fields: HeaderList, environ: Environ, release: () => void): void {
  takeOver<WebSocket>(
    inner,
    environ,
    release,
    (taken) => inner.acceptWebSocket!(fields, registration, environ, taken),
    (ws) => registration.onSocket(ws, environ),
    (ws) => ws.close(1011, 'internal error'),
  );
}

/**
 * Switches the connection to the protocol the request asked for and the registration speaks,
 * runs `onConnection` (a throw is reported and destroys the connection), then releases. A
 * client that left before the switch gets nothing: the registrations are released.
 */
export function takeUpgrade(inner: EscapeCapableSink, registration: UpgradeRegistration, fields: HeaderList, environ: Environ, requested: readonly string[], release: () => void): void {
  takeOver<Duplex>(
    inner,
    environ,
    release,
    (taken) => inner.acceptUpgrade!(fields, chooseProtocol(requested, registration.protocols)!, registration, environ, taken),
    (duplex) => registration.onConnection(duplex, environ),
    (duplex) => duplex.destroy(),
  );
}

/** Runs the HTTP/2 handler on the real stream; releases once it settled. */
export function takeHttp2(inner: EscapeCapableSink, registration: Http2Registration, fields: HeaderList, environ: Environ, release: () => void): void {
  let done: void | Promise<void> = undefined;
  try {
    done = inner.http2!(registration, fields, registration.environ ?? environ);
  } catch (err) {
    environ.errors.write(formatError(err));
    inner.abort(err);
  }
  if (done === undefined) release();
  else done.then(release, release).catch(noop);
}

function noop(): void {}
