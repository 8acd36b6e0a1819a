/**
 * The one source of request ids (`environ.requestId`, SPEC §2): every server instance, front-end
 * and adapter in a process draws from it, so ids are unique within the process whichever host
 * made the environ.
 */

// A random prefix (and the pid, where the runtime has processes) tells apart the ids of
// processes that share a log.
const pid = (globalThis as { process?: { pid?: number } }).process?.pid;
const prefix = Math.floor(Math.random() * 0x10000).toString(16).padStart(4, '0') + (pid === undefined ? '' : (pid % 0x10000).toString(16));
let counter = 0;

/** The next request id: `<prefix>-<counter in base 36>`. */
export function nextRequestId(): string {
  return `${prefix}-${(++counter).toString(36)}`;
}
