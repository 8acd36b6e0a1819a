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
export { FileBody, fileBody, onBodyClose, closeBody, toBytes, type FileBodyOptions } from './gateway/body.ts';
export { HatchwayError, type ErrorCode } from './gateway/errors.ts';
export { run, type ResponseSink } from './gateway/run.ts';
export { errorResponse } from './gateway/error-response.ts';
export { getHeader, headerHasToken, parseStatus, validateHeaders } from './protocol/headers.ts';
