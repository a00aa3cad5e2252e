/**
 * A bounded FIFO of the AppendEntries messages in flight to one follower: the last log index of each and
 * its entry bytes (etcd-io/raft tracker/inflights.go, with MaxInflightBytes). Full when it holds `capacity`
 * messages or, with bytesMax > 0, at least bytesMax bytes (so a leader never buffers more than about
 * bytesMax + one message of appends to a follower that stopped reading; one message always fits).
 * Invariants: count <= capacity; indexes ascend from the front; bytes is the sum of the held messages'.
 */
import { assert } from '../base';
import type { Index } from './types';

export class Inflights {
  private readonly buffer: Index[];
  private readonly sizes: number[];
  private start = 0;
  private size = 0;
  private totalBytes = 0;

  constructor(
    readonly capacity: number,
    readonly bytesMax = 0,
  ) {
    assert(
      Number.isInteger(capacity) && capacity > 0,
      `inflights capacity must be a positive integer, got ${capacity}`,
    );
    assert(Number.isInteger(bytesMax) && bytesMax >= 0, `inflights bytesMax must be >= 0, got ${bytesMax}`);
    this.buffer = new Array<Index>(capacity).fill(0);
    this.sizes = new Array<number>(capacity).fill(0);
  }

  get count(): number {
    return this.size;
  }

  /** Entry bytes of the messages in flight. */
  get bytes(): number {
    return this.totalBytes;
  }

  full(): boolean {
    return this.size === this.capacity || (this.bytesMax > 0 && this.totalBytes >= this.bytesMax);
  }

  /** Records a message whose last entry is `index`, carrying `bytes` of entries. */
  add(index: Index, bytes = 0): void {
    assert(this.size < this.capacity, 'inflights: add to a full window');
    const last = this.size === 0 ? -1 : (this.buffer[(this.start + this.size - 1) % this.capacity] as Index);
    assert(index > last, () => `inflights: index ${index} not above the last in flight ${last}`);
    const slot = (this.start + this.size) % this.capacity;
    this.buffer[slot] = index;
    this.sizes[slot] = bytes;
    this.totalBytes += bytes;
    this.size++;
  }

  /** Frees every message whose last index is <= `index` (they were acknowledged). */
  freeLE(index: Index): void {
    while (this.size > 0 && (this.buffer[this.start] as Index) <= index) this.freeFirstOne();
  }

  /** Frees the oldest message (its ack was probably lost; lets a stuck full window make progress). */
  freeFirstOne(): void {
    if (this.size === 0) return;
    this.totalBytes -= this.sizes[this.start] as number;
    this.start = (this.start + 1) % this.capacity;
    this.size--;
    if (this.size === 0) {
      this.start = 0;
      this.totalBytes = 0;
    }
  }

  reset(): void {
    this.start = 0;
    this.size = 0;
    this.totalBytes = 0;
  }
}
