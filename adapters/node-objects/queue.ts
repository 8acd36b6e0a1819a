/**
 * The one push-to-pull queue of the Node-object emulation: a Node response *pushes* chunks
 * (`write()`, `end(data)`), the hatchway runner *pulls* them as a body. What Node's socket
 * would do is kept: a chunk's write() callback runs once the runner has taken it (the next
 * pull), the queued bytes are the socket's `writableLength`, and `onEmpty` runs when the runner
 * has taken everything (where Node emits `'drain'`).
 */
import type { Chunk } from '../../src/index.ts';

export type Callback = (err?: Error | null) => void;

interface Entry {
  /** `undefined` for a write of nothing: its callback is due as soon as the runner pulls. */
  chunk: Chunk | undefined;
  length: number;
  callback: Callback | null | undefined;
}

export class ChunkQueue {
  #entries: Entry[] = [];
  #queued = 0;
  #inflight: Entry | undefined = undefined;
  #wake: (() => void) | null = null;
  readonly #onEmpty: () => void;

  constructor(onEmpty: () => void) {
    this.#onEmpty = onEmpty;
  }

  /** Bytes written and not yet taken by the runner (the chunk it holds counts until its next pull). */
  get pending(): number {
    return this.#queued + (this.#inflight?.length ?? 0);
  }

  /** Bytes queued behind the chunk the runner holds. */
  get queued(): number {
    return this.#queued;
  }

  push(chunk: Chunk | undefined, length: number, callback?: Callback | null): void {
    this.#entries.push({ chunk, length, callback });
    this.#queued += length;
    this.wakeUp();
  }

  /**
   * The next chunk for the runner, or `undefined` when none is queued. Taking it settles the
   * one handed out before (its callback runs) and the callbacks of empty writes in between.
   */
  shift(): Chunk | undefined {
    this.settle();
    for (;;) {
      const entry = this.#entries.shift();
      if (entry === undefined) break;
      this.#queued -= entry.length;
      if (entry.chunk === undefined) {
        entry.callback?.(null);
        continue;
      }
      this.#inflight = entry;
      if (this.#queued === 0) this.#onEmpty();
      return entry.chunk;
    }
    this.#onEmpty();
    return undefined;
  }

  /** The chunk handed out last has been taken: its write() callback is due. */
  settle(): void {
    const entry = this.#inflight;
    if (entry === undefined) return;
    this.#inflight = undefined;
    entry.callback?.(null);
  }

  /** Resolves at the next push() or wakeUp(). */
  wait(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
  }

  wakeUp(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Forgets what is queued (the response is gone: nobody will take it). */
  clear(): void {
    this.#entries.length = 0;
    this.#queued = 0;
    this.wakeUp();
  }
}
