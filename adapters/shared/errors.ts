/**
 * The adapters' errors: one table of codes, in the manner of `src/gateway/errors.ts`. Assert
 * on the code, not the message.
 */

const table = {
  ERR_HATCHWAY_ADAPTER_SOCKET_WRITE: 'a handler wrote to the socket of an adapted request: its socket belongs to the gateway (use the response object, or an escape)',
  ERR_HATCHWAY_ADAPTER_DESTROYED: 'the handler destroyed the response before it finished',
  ERR_HATCHWAY_ADAPTER_ABORTED: 'the request was aborted',
  ERR_HATCHWAY_ADAPTER_INVALID_RESPONSE: 'the fetch handler resolved to %s: it must return a Response (or a Promise of one)',
  ERR_HATCHWAY_ADAPTER_NEXT_TWICE: 'next() was called more than once by one middleware',
  ERR_HATCHWAY_ADAPTER_INVALID_ARGUMENT: 'invalid argument %s',
} as const;

/** Every error code the adapters throw. */
export type AdapterErrorCode = keyof typeof table;

/** An adapter error with a stable `code`. */
export class AdapterError extends Error {
  readonly code: AdapterErrorCode;
  constructor(code: AdapterErrorCode, ...args: unknown[]) {
    let i = 0;
    super(table[code].replace(/%s/g, () => describe(args[i++])));
    this.code = code;
    this.name = 'AdapterError';
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
}
