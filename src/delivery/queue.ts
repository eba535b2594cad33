/** The FIFO behind each delivery target of the outbox. */

/**
 * A FIFO with O(1) `shift` (a moving head, compacted now and then) and sorted insertion, so
 * that replayed messages go back in id order behind the message being sent.
 */
export class Queue<T> {
  private items: T[] = [];
  private head = 0;

  /** How many items wait. */
  get size(): number {
    return this.items.length - this.head;
  }

  /** The first item, left in place; undefined when empty. */
  peek(): T | undefined {
    return this.items[this.head];
  }

  /** The item `i` places behind the first (0: the first), left in place; undefined past the end. */
  at(i: number): T | undefined {
    return i < this.size ? this.items[this.head + i] : undefined;
  }

  /** Removes and returns the first item; undefined when empty. */
  shift(): T | undefined {
    const item = this.items[this.head];
    this.items[this.head++] = undefined as T;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Inserts by `keyOf` order, never before position `from` (a head that is being sent). */
  insertSorted(item: T, keyOf: (t: T) => number, from: number): void {
    const key = keyOf(item);
    const last = this.items[this.items.length - 1];
    if (this.size === 0 || (last !== undefined && keyOf(last) < key)) {
      this.items.push(item);
      return;
    }
    let i = this.items.length;
    const floor = this.head + Math.min(from, this.size);
    while (i > floor && keyOf(this.items[i - 1]!) > key) i--;
    this.items.splice(i, 0, item);
  }
}
