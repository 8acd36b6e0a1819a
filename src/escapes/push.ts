/**
 * Associated content (SPEC §7.7): resources to push with a response, registered through a
 * header token that rides alongside an ordinary response. Pushed as PUSH_PROMISEs where the
 * client allows push (HTTP/2); everywhere else they become `Link: <…>; rel=preload` headers,
 * with a 103 Early Hints sent at registration where the connection can carry one.
 */
import { HatchwayError } from '../gateway/errors.ts';
import type { Environ, HeaderList } from '../gateway/types.ts';
import { CONTROL_HEADER, type BaseRegistration, type Entry } from './registry.ts';
import { withoutExtension, type Outcome } from './degrade.ts';

/** The environ key of the push extension. */
export const PUSH_KEY = 'hatchway.push';

/** A resource to push or preload. */
export interface PushResource {
  /** Same-origin path of the resource, starting with `/`. */
  path: string;
  /** The `as` of the preload link (`style`, `script`, `font`, `image`, `fetch`, …). */
  as?: string;
  /** The MIME type hint of the preload link. */
  type?: string;
  /** Adds `crossorigin` to the preload link (needed for fonts and fetches). */
  crossorigin?: boolean | 'anonymous' | 'use-credentials';
}

/** What an app registers. */
export interface PushRegistration extends BaseRegistration {
  /** The resources to push, or to announce as `Link: rel=preload` where push is not possible. */
  resources: PushResource[];
  /** Send a 103 Early Hints with the preload links at registration, where it helps (default true). */
  earlyHints?: boolean;
}

/** The extension a server puts at `environ['hatchway.push']`. */
export type PushExtension = (registration: PushRegistration) => string;

const SAFE_PATH = /^\/[^\s<>"\\^`{|}\0]*$/;
const SAFE_WORD = /^[A-Za-z0-9!#$%&'*+.^_`|~/-]+$/;

/** The `Link` header value that preloads `resource`. */
export function preloadLink(resource: PushResource): string {
  if (typeof resource?.path !== 'string' || !SAFE_PATH.test(resource.path)) throw new HatchwayError('ERR_HATCHWAY_INVALID_REGISTRATION', 'push');
  let link = `<${resource.path}>; rel=preload`;
  if (resource.as !== undefined) {
    if (!SAFE_WORD.test(resource.as)) throw new HatchwayError('ERR_HATCHWAY_INVALID_REGISTRATION', 'push');
    link += `; as=${resource.as}`;
  }
  if (resource.type !== undefined) {
    if (!SAFE_WORD.test(resource.type)) throw new HatchwayError('ERR_HATCHWAY_INVALID_REGISTRATION', 'push');
    link += `; type="${resource.type}"`;
  }
  if (resource.crossorigin) link += resource.crossorigin === true ? '; crossorigin' : `; crossorigin=${resource.crossorigin === 'use-credentials' ? 'use-credentials' : 'anonymous'}`;
  return link;
}

/** Checks a push registration; throws `ERR_HATCHWAY_INVALID_REGISTRATION`. */
export function validatePush(registration: PushRegistration): void {
  if (!Array.isArray(registration?.resources)) throw new HatchwayError('ERR_HATCHWAY_INVALID_REGISTRATION', 'push');
  for (const resource of registration.resources) preloadLink(resource);
}

/**
 * Registers resources to push with this response and returns the header fields to add to
 * it: the control header under a server with the extension, or the preload links
 * themselves elsewhere (push is then impossible, preload is the degrade).
 *
 * @example
 * ```ts
 * const page: App = (environ, startResponse) => {
 *   startResponse(200, [
 *     ['content-type', 'text/html'],
 *     ...associate(environ, [{ path: '/app.css', as: 'style' }]),
 *   ]);
 *   return ['<link rel=stylesheet href=/app.css>…'];
 * };
 * ```
 */
export function associate(environ: Environ, resources: PushResource[], options: Omit<PushRegistration, 'resources'> = {}): HeaderList {
  const register = environ[PUSH_KEY] as PushExtension | undefined;
  const registration = { ...options, resources };
  validatePush(registration);
  if (typeof register !== 'function') {
    // No extension: no push; the table's ineligible cell (preload) decides what remains.
    return withoutExtension('push', environ.protocol) === 'preload' ? resources.map((r) => ['link', preloadLink(r)]) : [];
  }
  return [[CONTROL_HEADER, `push ${register(registration)}`]];
}

/** Carries out the push row's outcome for the push registrations a response named. */
export function pushOrPreload(entries: Entry[], outcome: Outcome, sink: { push?(resources: PushResource[]): void }, headers: HeaderList): void {
  const resources = entries.flatMap((e) => (e.registration as PushRegistration).resources);
  if (outcome === 'push') sink.push!(resources);
  else if (outcome === 'preload') for (const resource of resources) headers.push(['link', preloadLink(resource)]);
}
