/**
 * Installs the escape extensions in a request's environ (SPEC §6, §7.2) and wraps the
 * front-end's sink with the recognition rule. Front-ends call this once per request.
 */
import { HatchwayError } from '../gateway/errors.ts';
import type { Environ } from '../gateway/types.ts';
import { degrade, type ProtocolFamily } from './degrade.ts';
import { PUSH_KEY, preloadLink, validatePush, type PushRegistration } from './push.ts';
import { EscapeRegistry } from './registry.ts';
import { EscapeSink, type EscapeCapableSink, type EscapeContext, type Eligibility } from './sink.ts';
import { TRAILERS_KEY, type TrailersRegistration } from './trailers.ts';
import { WEBSOCKET_KEY, type WebSocketRegistration } from './websocket.ts';
import { HTTP2_KEY, type Http2Registration } from './http2-app.ts';
import { UPGRADE_KEY, validateUpgrade, type UpgradeRegistration } from './upgrade.ts';
import { Reporter } from './report.ts';
import { REPORT_KEY, type ResponseReport } from '../gateway/report.ts';

/** What {@link installEscapes} gives the front-end. */
export interface Installed {
  /** The request's escape registry: extensions register here, the sink looks tokens up here. */
  registry: EscapeRegistry;
  /** The sink to hand the runner. */
  sink: EscapeSink;
}

/** Options of {@link installEscapes}. */
export interface InstallOptions {
  /** `HTTP/1` or `HTTP/2`: the degrade table's column. */
  protocol: ProtocolFamily;
  /** What the connection can really have, decided from the wire. */
  eligible: Eligibility;
  /** Early Hints can be sent on this connection. */
  earlyHints: boolean;
  /** Most escapes one request may register (default 16, `DEFAULT_MAX_REGISTRATIONS`); more is `ERR_HATCHWAY_TOO_MANY_ESCAPES`. */
  maxRegistrations?: number;
  /** Told each decision the escape sink makes. */
  onDecision?: EscapeContext['onDecision'];
}

/** Puts `hatchway.websocket`, `hatchway.trailers`, `hatchway.push`, `hatchway.http2` and `hatchway.upgrade` in `environ`. */
export function installEscapes(environ: Environ, inner: EscapeCapableSink, options: InstallOptions): Installed {
  const registry = new EscapeRegistry(options.maxRegistrations, environ.errors);
  const ctx: EscapeContext = { environ, registry, protocol: options.protocol, eligible: options.eligible, onDecision: options.onDecision };
  const sink = new EscapeSink(inner, ctx);
  let reporter: Reporter | undefined;
  environ[REPORT_KEY] = (listener: (report: ResponseReport) => void): void => {
    if (typeof listener !== 'function') throw new HatchwayError('ERR_HATCHWAY_INVALID_REGISTRATION', 'report');
    if (reporter === undefined) {
      const observer = new Reporter(inner, environ, options.protocol);
      reporter = observer;
      sink.observe(() => observer);
      const told = ctx.onDecision;
      ctx.onDecision = (d) => {
        observer.decided(d);
        told?.(d);
      };
      registry.onReleased = () => observer.finish();
    }
    reporter.listen(listener);
  };
  environ[WEBSOCKET_KEY] = (registration: WebSocketRegistration): string => {
    if (typeof registration?.onSocket !== 'function') throw new HatchwayError('ERR_HATCHWAY_INVALID_REGISTRATION', 'websocket');
    return registry.register('websocket', registration);
  };
  environ[TRAILERS_KEY] = (registration: TrailersRegistration): string => {
    if (registration?.body === undefined || typeof registration.trailers !== 'function') throw new HatchwayError('ERR_HATCHWAY_INVALID_REGISTRATION', 'trailers');
    return registry.register('trailers', registration);
  };
  environ[PUSH_KEY] = (registration: PushRegistration): string => {
    validatePush(registration);
    const token = registry.register('push', registration);
    // Early Hints help where push cannot (the table says preload): the client starts fetching
    // while the app works.
    const pushable = options.eligible.push && inner.push !== undefined;
    const preload = degrade('push', options.protocol, pushable ? 'honoured' : 'ineligible') === 'preload';
    if (registration.earlyHints !== false && preload && options.earlyHints && inner.earlyHints && !inner.closed) {
      inner.earlyHints(registration.resources.map(preloadLink));
    }
    return token;
  };
  // Present only where the front-end can switch a connection (SPEC §7.10); elsewhere
  // acceptUpgrade answers with the fallback by itself.
  if (inner.acceptUpgrade !== undefined) {
    environ[UPGRADE_KEY] = (registration: UpgradeRegistration): string => {
      validateUpgrade(registration);
      return registry.register('upgrade', registration);
    };
  }
  // Present only where the handler can run on a real stream (SPEC §7.1): elsewhere upgradeTo
  // emulates inside the middleware chain, so the chain's headers and interceptors apply.
  if (inner.http2 !== undefined) {
    environ[HTTP2_KEY] = (registration: Http2Registration): string => {
      if (typeof registration?.handler !== 'function') throw new HatchwayError('ERR_HATCHWAY_INVALID_REGISTRATION', 'http2');
      return registry.register('http2', registration);
    };
  }
  return { registry, sink };
}
