/**
 * hatchway — a WSGI-1-style gateway interface for Node.
 *
 * The interface (`App`, `Environ`, `StartResponse`, `Body`, `Middleware`), the runner that
 * drives an app's response into a server, and helpers for writing apps and middleware.
 * The origin server lives in `hatchway/server`.
 *
 * @example
 * ```ts
 * import type { App } from 'hatchway';
 *
 * export default ((environ, startResponse) => {
 *   startResponse(200, [['content-type', 'text/plain; charset=utf-8']]);
 *   return [`Hello, ${environ.pathInfo}\n`];
 * }) satisfies App;
 * ```
 *
 * @module
 */
export type {
  App,
  Body,
  BodyReader,
  Chunk,
  Environ,
  ErrorStream,
  Features,
  Header,
  HeaderList,
  Middleware,
  Protocol,
  StartResponse,
  Status,
} from './gateway/types.ts';
export { compose, asyncApp } from './gateway/compose.ts';
export { FLUSH, FileBody, fileBody, onBodyClose, closeBody, toBytes, chunkLength, isBody, type FileBodyOptions } from './gateway/body.ts';
export { ResponseState } from './gateway/start-response.ts';
export { PullBodyReader } from './gateway/body-reader.ts';
export { HatchwayError, isHatchwayError, type ErrorCode } from './wire/errors.ts';
export { run, type ResponseSink } from './gateway/run.ts';
export { errorResponse } from './gateway/error-response.ts';
export { onResponse, REPORT_KEY, type ResponseReport, type ReportExtension, type ReportedEscape } from './gateway/report.ts';
export { bodyForbidden, getHeader, headerHasToken, isHopByHop, isServerManaged, parseStatus, validateHeaders } from './protocol/headers.ts';
export {
  acceptWebSocket,
  websocket,
  upgradeRequired,
  WEBSOCKET_KEY,
  type WebSocketRegistration,
  type WebSocketExtension,
} from './escapes/websocket.ts';
export {
  acceptUpgrade,
  upgrade,
  upgradeFallback,
  UPGRADE_KEY,
  CONNECT_PROTOCOL,
  type UpgradeRegistration,
  type UpgradeExtension,
} from './escapes/upgrade.ts';
export {
  sendWithTrailers,
  withoutTrailers,
  TRAILERS_KEY,
  type TrailersRegistration,
  type TrailersResponse,
  type TrailersExtension,
} from './escapes/trailers.ts';
export { associate, preloadLink, PUSH_KEY, type PushRegistration, type PushResource, type PushExtension } from './escapes/push.ts';
export { CONTROL_HEADER, liveRegistrations, isTokenShaped } from './escapes/registry.ts';
export { DEGRADE, degrade, renderDegradeTable, type EscapeKind, type Situation, type Outcome, type ProtocolFamily } from './escapes/degrade.ts';
export {
  upgradeTo,
  interceptHttp2,
  emulate,
  HTTP2_KEY,
  type Http2App,
  type Http2AppStream,
  type Http2Registration,
  type Http2Extension,
  type Http2Settings,
  type RespondOptions,
  type UpgradeToOptions,
} from './escapes/http2-app.ts';
export { lint, lintMiddleware, type LintOptions, type LintViolation } from './conformance/lint.ts';
export { mapBody, isEscapeResponse, claimedEscapes, copyEnviron, replayInput, type BodyMapper } from './conformance/helpers.ts';
export { RULES, RULE_CLASSES, ruleById, type Rule, type RuleId, type RuleClass } from './conformance/rules.ts';
export type { ConformanceEntry } from './conformance/check.ts';
