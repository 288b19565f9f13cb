/**
 * A FIFO that drops from and takes off its front in amortised O(1): while the database is down the
 * recorder drops the oldest row for nearly every new one, and Array#shift on 100 000 rows would
 * cost a copy of the whole buffer each time.
 */
export class RowQueue<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** Removes and returns up to `count` items from the front. */
  take(count: number): T[] {
    const end = Math.min(this.#items.length, this.#head + count);
    const taken = this.#items.slice(this.#head, end) as T[];
    this.#advance(end);
    return taken;
  }

  /** Puts items taken earlier back in front, in their order. */
  putBack(items: readonly T[]): void {
    if (items.length === 0) return;
    this.#items = [...items, ...this.#items.slice(this.#head)];
    this.#head = 0;
  }

  /** Drops up to `count` items from the front; returns how many went. */
  drop(count: number): number {
    const end = Math.min(this.#items.length, this.#head + count);
    const dropped = end - this.#head;
    this.#advance(end);
    return dropped;
  }

  #advance(to: number): void {
    // Cleared, not just skipped, so the dropped rows can be collected before the next compaction.
    this.#items.fill(undefined, this.#head, to);
    this.#head = to;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
