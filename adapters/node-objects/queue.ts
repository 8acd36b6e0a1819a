/**
 * The one push-to-pull queue of the Node-object emulation: a Node response *pushes* chunks
 * (`write()`, `end(data)`), the hatchway runner *pulls* them as a body. What Node's socket
 * would do is kept: a chunk's write() callback runs once the runner has taken it (the next
 * pull), the queued bytes are the socket's `writableLength`, and `onEmpty` runs when the runner
 * has taken everything (where Node emits `'drain'`).
 */
import { FLUSH, type Chunk } from '../../src/index.ts';

export type Callback = (err?: Error | null) => void;

// Entries are class instances in a linked list, not object literals in an array: V8 may
// allocate a literal (or an array literal's elements) straight in the old generation once most
// of its kind outlived a scavenge, and an old entry pointing at a write callback (which holds
// the response) would keep the whole request alive until the next full collection.
class Entry {
  /** `undefined` for a write of nothing: its callback is due as soon as the runner pulls. */
  readonly chunk: Chunk | undefined;
  readonly length: number;
  readonly callback: Callback | null | undefined;
  next: Entry | undefined = undefined;
  constructor(chunk: Chunk | undefined, length: number, callback: Callback | null | undefined) {
    this.chunk = chunk;
    this.length = length;
    this.callback = callback;
  }
}

export class ChunkQueue {
  #head: Entry | undefined = undefined;
  #tail: Entry | undefined = undefined;
  #queued = 0;
  /** The entries handed out last (one chunk, or all of them): their callbacks are due at the next pull. */
  #inflight: Entry | undefined = undefined;
  #inflightEnd: Entry | undefined = undefined;
  #inflightLength = 0;
  #wake: (() => void) | null = null;
  readonly #onEmpty: () => void;

  constructor(onEmpty: () => void) {
    this.#onEmpty = onEmpty;
  }

  /** Bytes written and not yet taken by the runner (what it holds counts until its next pull). */
  get pending(): number {
    return this.#queued + this.#inflightLength;
  }

  /** Bytes queued behind what the runner holds. */
  get queued(): number {
    return this.#queued;
  }

  push(chunk: Chunk | undefined, length: number, callback?: Callback | null): void {
    const entry = new Entry(chunk, length, callback);
    if (this.#tail === undefined) this.#head = entry;
    else this.#tail.next = entry;
    this.#tail = entry;
    this.#queued += length;
    this.wakeUp();
  }

  /**
   * The next chunk for the runner, or `undefined` when none is queued. Taking it settles what
   * was handed out before (its callbacks run) and the callbacks of empty writes in between.
   */
  shift(): Chunk | undefined {
    this.settle();
    for (;;) {
      const entry = this.#head;
      if (entry === undefined) break;
      this.#head = entry.next;
      if (this.#head === undefined) this.#tail = undefined;
      entry.next = undefined;
      this.#queued -= entry.length;
      if (entry.chunk === undefined) {
        entry.callback?.(null);
        continue;
      }
      this.#inflight = entry;
      this.#inflightEnd = entry;
      this.#inflightLength = entry.length;
      if (this.#queued === 0) this.#onEmpty();
      return entry.chunk;
    }
    this.#onEmpty();
    return undefined;
  }

  /**
   * Every queued chunk at once (empty writes and FLUSH left out), for a response that is
   * complete: the runner takes them all; their callbacks run at the next {@link settle}.
   */
  takeAll(into: Chunk[]): void {
    this.settle();
    const first = this.#head;
    if (first === undefined) return;
    for (let entry: Entry | undefined = first; entry !== undefined; entry = entry.next) {
      const chunk = entry.chunk;
      if (chunk !== undefined && chunk !== FLUSH) into[into.length] = chunk; // not push(): slow on an Array subclass
    }
    this.#inflight = first;
    this.#inflightEnd = this.#tail;
    this.#inflightLength = this.#queued;
    this.#head = this.#tail = undefined;
    this.#queued = 0;
  }

  /** What was handed out last has been taken: its write() callbacks are due, in order. */
  settle(): void {
    let entry = this.#inflight;
    if (entry === undefined) return;
    const end = this.#inflightEnd;
    this.#inflight = this.#inflightEnd = undefined;
    this.#inflightLength = 0;
    for (;;) {
      const next: Entry | undefined = entry.next;
      entry.next = undefined;
      entry.callback?.(null);
      if (entry === end || next === undefined) return;
      entry = next;
    }
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
    this.#head = this.#tail = undefined;
    this.#queued = 0;
    this.wakeUp();
  }
}
