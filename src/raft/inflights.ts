/**
 * A bounded FIFO of the last log indexes of AppendEntries messages in flight to one follower
 * (etcd-io/raft tracker/inflights.go). Invariants: count <= capacity; indexes ascend from the front.
 */
import { assert } from '../base';
import type { Index } from './types';

export class Inflights {
  private readonly buffer: Index[];
  private start = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    assert(
      Number.isInteger(capacity) && capacity > 0,
      `inflights capacity must be a positive integer, got ${capacity}`,
    );
    this.buffer = new Array<Index>(capacity).fill(0);
  }

  get count(): number {
    return this.size;
  }

  full(): boolean {
    return this.size === this.capacity;
  }

  /** Records a message whose last entry is `index`. */
  add(index: Index): void {
    assert(this.size < this.capacity, 'inflights: add to a full window');
    const last = this.size === 0 ? -1 : (this.buffer[(this.start + this.size - 1) % this.capacity] as Index);
    assert(index > last, () => `inflights: index ${index} not above the last in flight ${last}`);
    this.buffer[(this.start + this.size) % this.capacity] = index;
    this.size++;
  }

  /** Frees every message whose last index is <= `index` (they were acknowledged). */
  freeLE(index: Index): void {
    while (this.size > 0 && (this.buffer[this.start] as Index) <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.size--;
    }
    if (this.size === 0) this.start = 0;
  }

  /** Frees the oldest message (its ack was probably lost; lets a stuck full window make progress). */
  freeFirstOne(): void {
    if (this.size === 0) return;
    this.start = (this.start + 1) % this.capacity;
    this.size--;
    if (this.size === 0) this.start = 0;
  }

  reset(): void {
    this.start = 0;
    this.size = 0;
  }
}
