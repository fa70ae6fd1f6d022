// The ordered collections that list endpoints page over. Keys are strictly ascending numbers (an id, or the
// sequence number of a change); a slot may be a gap (undefined) left by a removal.

export interface KeyedSequence<T> {
  readonly length: number;
  key(index: number): number;
  item(index: number): T | undefined;
}

/** First index whose key is greater than `key`. */
export function upperBound(seq: KeyedSequence<unknown>, key: number): number {
  let lo = 0;
  let hi = seq.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (seq.key(mid) <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose key is greater than or equal to `key`. */
export function lowerBound(seq: KeyedSequence<unknown>, key: number): number {
  let lo = 0;
  let hi = seq.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (seq.key(mid) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A plain array already sorted by a numeric key (tags, custom fields, one subscriber's tags). */
export class SortedArraySequence<T> implements KeyedSequence<T> {
  constructor(
    private readonly items: readonly T[],
    private readonly keyOf: (item: T) => number,
  ) {}
  get length(): number {
    return this.items.length;
  }
  key(index: number): number {
    return this.keyOf(this.items[index]);
  }
  item(index: number): T | undefined {
    return this.items[index];
  }
}

/**
 * An append-only log ordered by a sequence number, used where Kit sorts by something that changes: updated_at
 * (a subscriber moves to the end on every change), cancelled_at, and a tag's taggings. Moving an entry leaves a
 * gap; gaps are compacted away once they outnumber live entries, which keeps appends and removals amortised
 * O(1)/O(log n) and never needs a sort per request. Cursors hold the sequence number, which compaction keeps.
 */
export class ChangeLog<T> implements KeyedSequence<T> {
  private seqs: number[] = [];
  private items: Array<T | undefined> = [];
  private nextSeq = 1;
  private gaps = 0;

  get length(): number {
    return this.seqs.length;
  }
  get size(): number {
    return this.seqs.length - this.gaps;
  }
  key(index: number): number {
    return this.seqs[index];
  }
  item(index: number): T | undefined {
    return this.items[index];
  }
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  append(item: T): number {
    const seq = this.nextSeq++;
    this.seqs.push(seq);
    this.items.push(item);
    return seq;
  }

  /** Re-inserts an entry read from a snapshot; entries must be restored in ascending seq order. */
  restore(seq: number, item: T): void {
    if (this.seqs.length > 0 && seq <= this.seqs[this.seqs.length - 1]) {
      throw new Error(`ChangeLog.restore: seq ${seq} is not ascending`);
    }
    this.seqs.push(seq);
    this.items.push(item);
    this.nextSeq = Math.max(this.nextSeq, seq + 1);
  }

  remove(seq: number): void {
    const i = lowerBound(this, seq);
    if (i >= this.seqs.length || this.seqs[i] !== seq || this.items[i] === undefined) return;
    this.items[i] = undefined;
    this.gaps++;
    if (this.gaps > 1024 && this.gaps > this.size) this.compact();
  }

  *values(): IterableIterator<T> {
    for (const item of this.items) if (item !== undefined) yield item;
  }

  clear(): void {
    this.seqs = [];
    this.items = [];
    this.gaps = 0;
    this.nextSeq = 1;
  }

  private compact(): void {
    const seqs: number[] = [];
    const items: T[] = [];
    for (let i = 0; i < this.seqs.length; i++) {
      const item = this.items[i];
      if (item === undefined) continue;
      seqs.push(this.seqs[i]);
      items.push(item);
    }
    this.seqs = seqs;
    this.items = items;
    this.gaps = 0;
  }
}
