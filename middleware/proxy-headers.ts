/**
 * `hatchway/middleware/proxy-headers` — believes `Forwarded` (RFC 7239) and `X-Forwarded-For`,
 * `-Proto`, `-Host` and `-Port` only as far as the hops that wrote them are trusted.
 *
 * Starting from the connection's peer, each trusted hop's claim about its own client is
 * accepted, and the walk stops at the first address that is not trusted (`proxy-addr`'s trust
 * semantics: `'loopback'`, `'linklocal'`, `'uniquelocal'`, addresses and CIDRs, a hop count, or a
 * function `(address, hop) => boolean`). The environ passed inward then has the client's
 * `remoteAddress` (and `remotePort` when `Forwarded` gave one, else `0`), and the `scheme` and
 * `authority` the outermost trusted proxy was asked for. The originals stay under
 * `proxy.peer` (`{ address, port }`), `proxy.scheme` and `proxy.authority`; `proxy.chain` lists
 * the addresses walked, client first. A request from an untrusted peer is passed on unchanged.
 * `Forwarded` wins over `X-Forwarded-*` when both are present and honoured (`headers` option).
 *
 * Escape responses: this middleware changes only the environ passed inward and never touches a
 * response, so every escape behind it is honoured (a websocket's `onSocket` sees the rewritten
 * environ, which is the one the app saw).
 *
 * @example
 * ```ts
 * import { compose } from 'hatchway';
 * import { proxyHeaders } from 'hatchway/middleware/proxy-headers';
 *
 * // Behind nginx on the same host and a load balancer in 10.0.0.0/8:
 * const stack = compose(proxyHeaders({ trust: ['loopback', '10.0.0.0/8'] }))(app);
 * ```
 *
 * @module
 */
import proxyaddr from 'proxy-addr';
import type { App, Body, Environ, HeaderList, Middleware, StartResponse } from '../src/index.ts';
import type { ConformanceEntry } from '../src/index.ts';

/** Which hops to trust: proxy-addr's names, addresses and CIDRs, a hop count, or a function. */
export type Trust = string | readonly string[] | number | ((address: string, hop: number) => boolean);

/** Options of {@link proxyHeaders}. */
export interface ProxyHeadersOptions {
  /** Which hops are trusted. Required: trusting nobody would make this middleware a no-op. */
  trust: Trust;
  /** Which fields to read (default `'both'`: `Forwarded` first, `X-Forwarded-*` otherwise). */
  headers?: 'forwarded' | 'x-forwarded' | 'both';
}

/** The connection's peer before the rewrite, at `environ['proxy.peer']`. */
export interface Peer {
  /** The connection's remote IP address (`environ.remoteAddress` before the rewrite). */
  address: string;
  /** The connection's remote TCP port (`environ.remotePort` before the rewrite). */
  port: number;
}

/** One hop's claim: about its client, and about the request it received. */
interface Hop {
  for: string | undefined;
  port: number | undefined;
  proto: string | undefined;
  host: string | undefined;
}

const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]+)(?::\d{1,5})?$/;

/** Splits `value` on `separator` outside quoted strings. */
function splitOutsideQuotes(value: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted && c === '\\') current += c + (value[++i] ?? '');
    else if (c === '"') (quoted = !quoted), (current += c);
    else if (c === separator && !quoted) parts.push(current), (current = '');
    else current += c;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

/** A node (`for=`) of RFC 7239 §6: an address with an optional port, or an obfuscated name. */
function parseNode(node: string): { address: string; port: number | undefined } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(node);
  if (v6) return { address: v6[1]!, port: v6[2] === undefined ? undefined : Number(v6[2]) };
  const v4 = /^([^:]+)(?::(\d+))?$/.exec(node);
  if (v4) return { address: v4[1]!, port: v4[2] === undefined ? undefined : Number(v4[2]) };
  return { address: node, port: undefined };
}

/** Parses a `Forwarded` field list into hops, nearest last (RFC 7239 §4). */
export function parseForwarded(values: readonly string[]): Hop[] {
  const hops: Hop[] = [];
  for (const element of values.flatMap((v) => splitOutsideQuotes(v, ','))) {
    const hop: Hop = { for: undefined, port: undefined, proto: undefined, host: undefined };
    for (const pair of splitOutsideQuotes(element, ';')) {
      const eq = pair.indexOf('=');
      if (eq === -1) continue;
      const name = pair.slice(0, eq).trim().toLowerCase();
      let value = pair.slice(eq + 1).trim();
      if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
      if (name === 'for') ({ address: hop.for, port: hop.port } = parseNode(value));
      else if (name === 'proto') hop.proto = value.toLowerCase();
      else if (name === 'host') hop.host = value;
    }
    hops.push(hop);
  }
  return hops;
}

/** The `X-Forwarded-*` fields as hops, nearest last; a single `-Proto`/`-Host`/`-Port` belongs to the nearest hop. */
function parseXForwarded(headers: HeaderList): Hop[] | undefined {
  const list = (name: string) => headers.filter(([n]) => n === name).flatMap(([, v]) => v.split(',').map((s) => s.trim()).filter((s) => s !== ''));
  const addresses = list('x-forwarded-for');
  if (addresses.length === 0) return undefined;
  const protos = list('x-forwarded-proto');
  const hosts = list('x-forwarded-host');
  const ports = list('x-forwarded-port');
  // Proxies append: the i-th value from the end is the (i+1)-th nearest hop's.
  const at = (values: string[], i: number) => values[values.length - addresses.length + i];
  return addresses.map((address, i) => {
    const port = at(ports, i);
    const host = at(hosts, i);
    return {
      for: address,
      port: undefined,
      proto: at(protos, i)?.toLowerCase(),
      host: host === undefined ? undefined : port !== undefined && /^\d{1,5}$/.test(port) && !/:\d+$/.test(host) ? `${host}:${port}` : host,
    };
  });
}

function compileTrust(trust: Trust): (address: string, hop: number) => boolean {
  if (typeof trust === 'function') return trust;
  if (typeof trust === 'number') {
    if (!Number.isInteger(trust) || trust < 0) throw new TypeError(`proxyHeaders: trust must be a whole number of hops, not ${trust}`);
    return (_address, hop) => hop < trust;
  }
  return proxyaddr.compile(typeof trust === 'string' ? trust : [...trust]);
}

// node:net's isIP, as a regular expression (the one Node's lib/internal/net.js uses), so that
// this module loads on runtimes without node:net (workerd). An IPv6 address may carry a zone.
const V4_SEG = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const V4 = `(?:${V4_SEG}\\.){3}${V4_SEG}`;
const V6_SEG = '(?:[0-9a-fA-F]{1,4})';
const IP = new RegExp(
  `^(?:${V4}|(?:` +
    `(?:${V6_SEG}:){7}(?:${V6_SEG}|:)|` +
    `(?:${V6_SEG}:){6}(?:${V4}|:${V6_SEG}|:)|` +
    `(?:${V6_SEG}:){5}(?::${V4}|(?::${V6_SEG}){1,2}|:)|` +
    `(?:${V6_SEG}:){4}(?:(?::${V6_SEG}){0,1}:${V4}|(?::${V6_SEG}){1,3}|:)|` +
    `(?:${V6_SEG}:){3}(?:(?::${V6_SEG}){0,2}:${V4}|(?::${V6_SEG}){1,4}|:)|` +
    `(?:${V6_SEG}:){2}(?:(?::${V6_SEG}){0,3}:${V4}|(?::${V6_SEG}){1,5}|:)|` +
    `(?:${V6_SEG}:){1}(?:(?::${V6_SEG}){0,4}:${V4}|(?::${V6_SEG}){1,6}|:)|` +
    `(?::(?:(?::${V6_SEG}){0,5}:${V4}|(?::${V6_SEG}){1,7}|:))` +
    `)(?:%[0-9a-zA-Z-.:]{1,})?)$`,
);

/**
 * True when `address` is an IPv4 or IPv6 address, as `node:net`'s `isIP(address) !== 0`.
 *
 * @internal
 */
export function isIP(address: string): boolean {
  return IP.test(address);
}

/** Trusted proxy headers middleware: rewrites scheme, authority and remote address in environ. */
export function proxyHeaders(options: ProxyHeadersOptions): Middleware {
  if (options === undefined || options.trust === undefined) throw new TypeError('proxyHeaders: the trust option is required');
  const trusted = compileTrust(options.trust);
  const which = options.headers ?? 'both';
  return (app: App): App =>
    function proxyHeadersApp(environ: Environ, startResponse: StartResponse): Body {
      if (!trusted(environ.remoteAddress, 0)) return app(environ, startResponse);
      const forwarded = environ.headers.filter(([n]) => n === 'forwarded').map(([, v]) => v);
      const hops =
        which !== 'x-forwarded' && forwarded.length > 0 ? parseForwarded(forwarded) : which !== 'forwarded' ? parseXForwarded(environ.headers) : undefined;
      if (hops === undefined || hops.length === 0) return app(environ, startResponse);
      let address = environ.remoteAddress;
      let port = environ.remotePort;
      let scheme = environ.scheme;
      let authority = environ.authority;
      const chain = [address];
      // Walk from the nearest hop outward while the hop that made the claim is trusted.
      // An obfuscated node (`_hidden`, `unknown`) cannot be trusted: the walk ends there.
      for (let i = hops.length - 1, hop = 0; i >= 0 && isIP(address) && trusted(address, hop); i--, hop++) {
        const claim = hops[i]!;
        if (claim.proto === 'http' || claim.proto === 'https') scheme = claim.proto;
        if (claim.host !== undefined && HOST.test(claim.host)) authority = claim.host;
        if (claim.for === undefined) break; // the hop did not say who its client was
        address = claim.for;
        port = claim.port ?? 0;
        chain.unshift(address);
      }
      const inner: Environ = {
        ...environ,
        scheme,
        authority,
        remoteAddress: address,
        remotePort: port,
        'proxy.peer': { address: environ.remoteAddress, port: environ.remotePort } satisfies Peer,
        'proxy.scheme': environ.scheme,
        'proxy.authority': environ.authority,
        'proxy.chain': chain,
      };
      return app(inner, startResponse);
    };
}

/** For `npm run conformance` and `hatchway check` (docs/CONFORMANCE.md): this middleware as it is checked. */
export const conformance: ConformanceEntry[] = [{ name: 'proxy-headers', make: (): Middleware => proxyHeaders({ trust: 'loopback' }) }];
