/**
 * `hatchway/middleware/cors` — Cross-Origin Resource Sharing (the Fetch standard's CORS
 * protocol).
 *
 * A preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered here with a `204`
 * carrying `Access-Control-Allow-Methods`, `-Allow-Headers` (the configured list, or the
 * requested headers reflected) and `-Max-Age`; the app never sees it. Any other request with an
 * `Origin` goes to the app, and its response gets `Access-Control-Allow-Origin` (`*` or the
 * request's origin), `-Allow-Credentials` and `-Expose-Headers` when the origin is allowed.
 * Whenever the answer depends on the request's origin, the response gets `Vary: Origin`.
 * Origins are allowed by a string (`'*'` or one origin), a list, a RegExp or a function.
 *
 * Escape responses: this middleware only adds response fields, so token responses are
 * escape-safe (SPEC §7.3): the CORS fields ride the `101` of a websocket, the head of a
 * trailers response and the `respond()` of an `upgradeTo` handler.
 *
 * @example
 * ```ts
 * import { compose } from 'hatchway';
 * import { cors } from 'hatchway/middleware/cors';
 *
 * const stack = compose(cors({ origin: [/\.example\.com$/, 'https://app.test'], credentials: true, maxAge: 600 }))(app);
 * ```
 *
 * @module
 */
import { getHeader, type App, type Body, type Environ, type HeaderList, type Middleware, type StartResponse } from '../src/index.ts';
import type { ConformanceEntry } from '../src/index.ts';

/** Which origins may read responses. A function returns `true`, `false`, or the origin to allow. */
export type OriginOption = string | RegExp | readonly (string | RegExp)[] | ((origin: string, environ: Environ) => boolean | string);

/** Options of {@link cors}. */
export interface CorsOptions {
  /** Allowed origins (default `'*'`, every origin). */
  origin?: OriginOption;
  /** Methods a preflight allows (default GET, HEAD, PUT, PATCH, POST, DELETE). */
  methods?: readonly string[];
  /** Request headers a preflight allows (default: whatever the preflight asks for). */
  allowedHeaders?: readonly string[];
  /** Response headers a script may read (`Access-Control-Expose-Headers`). */
  exposedHeaders?: readonly string[];
  /** Allow credentials (cookies, `Authorization`): the origin is then echoed, never `*`. */
  credentials?: boolean;
  /** Seconds a preflight may be cached (`Access-Control-Max-Age`). */
  maxAge?: number;
  /** The preflight's status (default 204; some old clients want 200). */
  preflightStatus?: 204 | 200;
}

interface Resolved {
  allow: (origin: string, environ: Environ) => string | false;
  /** The answer does not depend on the origin (`*` without credentials): no `Vary: Origin`. */
  wildcard: boolean;
  methods: string;
  allowedHeaders: string | undefined;
  exposedHeaders: string | undefined;
  credentials: boolean;
  maxAge: string | undefined;
  preflightStatus: number;
}

function matcher(option: OriginOption, credentials: boolean): Resolved['allow'] {
  if (typeof option === 'function') {
    return (origin, environ) => {
      const answer = option(origin, environ);
      return answer === true ? origin : typeof answer === 'string' && answer !== '' ? answer : false;
    };
  }
  if (option === '*') return credentials ? (origin) => origin : () => '*';
  const list = (Array.isArray(option) ? option : [option]) as (string | RegExp)[];
  return (origin) => (list.some((o) => (typeof o === 'string' ? o === origin : o.test(origin))) ? origin : false);
}

/** Appends `Origin` to the `Vary` field (copying the list). */
function varyOrigin(headers: HeaderList): HeaderList {
  const index = headers.findIndex(([n]) => n.toLowerCase() === 'vary');
  if (index === -1) return [...headers, ['vary', 'Origin']];
  const value = headers[index]![1];
  if (value.trim() === '*' || value.split(',').some((t) => t.trim().toLowerCase() === 'origin')) return headers;
  const copy = headers.slice();
  copy[index] = [headers[index]![0], `${value}, Origin`];
  return copy;
}

/** CORS middleware: answers preflights, adds the CORS fields to every other response. */
export function cors(options: CorsOptions = {}): Middleware {
  const credentials = options.credentials ?? false;
  const origin = options.origin ?? '*';
  if (options.maxAge !== undefined && !(Number.isInteger(options.maxAge) && options.maxAge >= 0)) throw new TypeError(`cors: maxAge must be a whole number of seconds, not ${options.maxAge}`);
  const resolved: Resolved = {
    allow: matcher(origin, credentials),
    wildcard: origin === '*' && !credentials,
    methods: (options.methods ?? ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE']).join(', '),
    allowedHeaders: options.allowedHeaders?.join(', '),
    exposedHeaders: options.exposedHeaders && options.exposedHeaders.length > 0 ? options.exposedHeaders.join(', ') : undefined,
    credentials,
    maxAge: options.maxAge === undefined ? undefined : String(options.maxAge),
    preflightStatus: options.preflightStatus ?? 204,
  };
  return (app: App): App =>
    function corsApp(environ: Environ, startResponse: StartResponse): Body {
      const requestOrigin = getHeader(environ.headers, 'origin');
      const allowed = requestOrigin === undefined ? false : resolved.allow(requestOrigin, environ);
      const fields: HeaderList = [];
      if (allowed !== false) {
        fields.push(['access-control-allow-origin', allowed]);
        if (resolved.credentials) fields.push(['access-control-allow-credentials', 'true']);
      }
      const requestMethod = getHeader(environ.headers, 'access-control-request-method');
      if (environ.method === 'OPTIONS' && requestMethod !== undefined && requestOrigin !== undefined) {
        // A preflight (Fetch §3.2.2): answered here; a refused origin gets no CORS fields.
        if (allowed !== false) {
          fields.push(['access-control-allow-methods', resolved.methods]);
          const asked = getHeader(environ.headers, 'access-control-request-headers');
          const headers = resolved.allowedHeaders ?? asked;
          if (headers) fields.push(['access-control-allow-headers', headers]);
          if (resolved.maxAge !== undefined) fields.push(['access-control-max-age', resolved.maxAge]);
        }
        const vary = resolved.allowedHeaders === undefined ? 'Origin, Access-Control-Request-Headers' : 'Origin';
        startResponse(resolved.preflightStatus, [...fields, ['vary', vary], ...(resolved.preflightStatus === 200 ? [['content-length', '0'] as [string, string]] : [])]);
        return [];
      }
      if (allowed !== false && resolved.exposedHeaders !== undefined) fields.push(['access-control-expose-headers', resolved.exposedHeaders]);
      if (fields.length === 0 && resolved.wildcard) return app(environ, startResponse);
      return app(environ, function corsStartResponse(status, headers, excInfo) {
        // The app's own CORS decision, if it made one, wins.
        const own = Array.isArray(headers) && headers.some(([n]) => n.toLowerCase() === 'access-control-allow-origin');
        const out = own || !Array.isArray(headers) ? headers : [...headers, ...fields];
        startResponse(status, resolved.wildcard || !Array.isArray(out) ? out : varyOrigin(out), excInfo);
      });
    };
}

/** For `npm run conformance` and `hatchway check` (docs/CONFORMANCE.md): this middleware as it is checked. */
export const conformance: ConformanceEntry[] = [{ name: 'cors', make: (): Middleware => cors({ origin: 'https://app.example', credentials: true }) }];
