/**
 * The server's per-request memberships (streams open on a session, clocks under a deadline)
 * as intrusive lists: each member carries its own links, so joining and leaving allocate
 * nothing and a member that left points at nothing.
 *
 * Not a `Set` or a `Map`: V8 rebuilds their hash table every few dozen deletions, and the
 * table it replaces keeps the entries it held and a link to its successor. Once one such table
 * sits in the old generation (any full GC puts the live one there), that chain holds every
 * later table, and so every request that was ever a member, through each young-generation
 * collection until the next full one: at 60 000 requests a second three such sets made ~2.4 KB
 * of every request's garbage survive and be promoted (`docs/BENCHMARKS.md`, "The set that kept
 * every request").
 *
 * @example
 * ```ts
 * class Clock implements Linked<Clock> { prev = undefined; next = undefined; listed = false; }
 * const clocks = new LiveList<Clock>();
 * clocks.add(clock);
 * for (const c of clocks) check(c); // a member may leave while it is visited
 * clocks.delete(clock);
 * ```
 */

/** What a member of a {@link LiveList} carries. */
export interface Linked<T> {
  prev: T | undefined;
  next: T | undefined;
  /** True while the member is in a list (a member is in at most one). */
  listed: boolean;
}

/** An intrusive doubly linked list, newest first. */
export class LiveList<T extends Linked<T>> {
  #head: T | undefined = undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Adds `item` (nothing if it is listed already). */
  add(item: T): void {
    if (item.listed) return;
    item.listed = true;
    item.prev = undefined;
    item.next = this.#head;
    if (this.#head !== undefined) this.#head.prev = item;
    this.#head = item;
    this.#size++;
  }

  /** Removes `item`; false if it was not listed. Its links are cleared. */
  delete(item: T): boolean {
    if (!item.listed) return false;
    const { prev, next } = item;
    if (prev !== undefined) prev.next = next;
    else this.#head = next;
    if (next !== undefined) next.prev = prev;
    item.prev = undefined;
    item.next = undefined;
    item.listed = false;
    this.#size--;
    return true;
  }

  /**
   * The members, newest first. The one being visited may leave (its successor was read
   * first); one that leaves because another was visited ends this pass early, and the
   * sweeps that iterate come round again.
   */
  *[Symbol.iterator](): IterableIterator<T> {
    let item = this.#head;
    while (item !== undefined) {
      const next = item.next;
      yield item;
      if (next !== undefined && !next.listed) return;
      item = next;
    }
  }
}
