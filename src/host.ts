/**
 * `hatchway/host` — for whoever hosts hatchway apps: a second server, an adapter into another
 * framework, or a checker. Everything here is what `hatchway/server` and the bundled adapters
 * are built from, so an outside author has the same floor: the runner and its sink interface,
 * the startResponse state machine, the body readers, the escape installer and its sink, the
 * degrade table, the error catalogue and the wire helpers (target splitting, request ids,
 * connection-specific and single-value fields). Apps and middleware need only `hatchway`.
 *
 * A host builds an {@link Environ} per request (SPEC §2), calls {@link installEscapes} if it
 * can honour escapes, and hands {@link run} a {@link ResponseSink} that writes to its
 * transport. `run` never throws: an app's failure becomes an error response or an abort.
 *
 * @example
 * ```ts
 * import { run, splitTarget, nextRequestId, PullBodyReader, type ResponseSink } from 'hatchway/host';
 * import type { App, Chunk, Environ, HeaderList } from 'hatchway';
 *
 * class Empty extends PullBodyReader {
 *   constructor() { super(0); }
 *   protected pull() { return Promise.resolve(null); }
 * }
 *
 * // A toy host: the response goes to an array of lines.
 * function handle(app: App, method: string, target: string, out: string[]): Promise<void> | undefined {
 *   const { pathInfo, queryString } = splitTarget(target, method); // throws a 400 HttpError
 *   const environ: Environ = {
 *     method, scheme: 'http', target, scriptName: '', pathInfo, queryString, protocol: 'HTTP/1.1',
 *     authority: 'localhost', headers: [], remoteAddress: '', remotePort: 0, localAddress: '', localPort: 0,
 *     requestId: nextRequestId(), streamId: undefined, input: new Empty(), errors: { write: (m) => out.push(m) },
 *     features: { push: false, trailers: false, websocket: false, earlyHints: false }, signal: new AbortController().signal,
 *   };
 *   const sink: ResponseSink = {
 *     closed: false,
 *     head(status: number, reason: string | undefined, headers: HeaderList) { out.push(`${status}`, ...headers.map(([n, v]) => `${n}: ${v}`)); },
 *     write(chunk: Chunk) { out.push(String(chunk)); return true; },
 *     drained: () => Promise.resolve(),
 *     end(chunk?: Chunk) { if (chunk !== undefined) out.push(String(chunk)); },
 *     file: async () => { out.push('a file body'); },
 *     abort() { out.push('aborted'); },
 *   };
 *   return run(app, environ, sink);
 * }
 * ```
 *
 * @module
 */
export type { Chunk, Header, HeaderList } from './wire/types.ts';
export type { BodyReader, Environ } from './gateway/types.ts';
export { run, type ResponseSink } from './gateway/run.ts';
export { ResponseState } from './gateway/start-response.ts';
export { PullBodyReader } from './gateway/body-reader.ts';
export { errorResponse, formatError, type ErrorResponse } from './gateway/error-response.ts';
export { StreamBodyReader } from './server/body-reader.ts';
export { whenDrained } from './server/drain.ts';
export {
  ERRORS,
  ERROR_BRAND,
  HatchwayError,
  errorMessage,
  httpError,
  isHatchwayError,
  type ErrorCode,
  type ErrorEntry,
  type HatchwayHttpError,
  type HttpErrorCode,
} from './wire/errors.ts';
export { nextRequestId } from './gateway/request-id.ts';
export { envVar } from './wire/env.ts';
export { UNDECODED_PATH, acceptUndecodedPaths, takesUndecodedPaths } from './gateway/raw-path.ts';
export { splitTarget, decodePath, type SplitTarget, type SplitOptions } from './protocol/target.ts';
export { CONNECTION_SPECIFIC, SINGLE_VALUE_FIELDS, toHeaderObject, type HeaderObject } from './protocol/fields.ts';
export { requestedH1, requestedH2, chooseProtocol } from './protocol/upgrade.ts';
export { isWebSocketH1, isWebSocketH2 } from './protocol/websocket.ts';
export { installEscapes, type Installed, type InstallOptions } from './escapes/install.ts';
export { EscapeSink, type EscapeCapableSink, type EscapeContext, type Eligibility } from './escapes/sink.ts';
export {
  BODY_KINDS,
  DEGRADE,
  OUTCOMES,
  degrade,
  renderDegradeTable,
  type ClaimKind,
  type EscapeKind,
  type Outcome,
  type ProtocolFamily,
  type Situation,
} from './escapes/degrade.ts';
export {
  recognize,
  needsBody,
  expectedStatus,
  type Capabilities,
  type Recognition,
  type RecognitionInput,
} from './escapes/recognize.ts';
export { EscapeRegistry, TOKEN_LENGTH, CONTROL_HEADER, parseControl, isControlName, isTokenShaped, liveRegistrations, type Entry } from './escapes/registry.ts';
export { TokenScan } from './escapes/scan.ts';
