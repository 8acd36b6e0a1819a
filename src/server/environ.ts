/**
 * Building the environ from what a front-end parsed: the per-request error stream and id
 * (the target is split by `protocol/target.ts`). Shared by every protocol front-end so the environ
 * has the same shape on every path (SPEC §2).
 */
import type { ErrorStream } from '../gateway/types.ts';

/** Where a server's error lines go. */
export type LogFn = (line: string) => void;

/** The per-request error stream: each line prefixed with the request id. */
export class RequestErrors implements ErrorStream {
  readonly #id: string;
  readonly #log: LogFn;
  constructor(id: string, log: LogFn) {
    this.#id = id;
    this.#log = log;
  }
  write(message: string): void {
    const text = message.endsWith('\n') ? message.slice(0, -1) : message;
    this.#log(`[hatchway ${this.#id}] ${text.replace(/\n/g, `\n[hatchway ${this.#id}] `)}`);
  }
}
