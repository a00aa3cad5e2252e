/**
 * The shard map: an immutable, ordered set of descriptors that covers the user keyspace `[empty, +inf)`
 * exactly, without gaps or overlaps, with unique shard ids. Both the SDK's routing cache and a node's view
 * are ShardMaps.
 *
 * - `locate(key)`: the owning descriptor, by binary search over the sorted starts (O(log n)).
 * - `apply(update)`: a set of descriptors (one, or both halves of a split) replaces every descriptor it
 *   overlaps or shares an id with, but only when each of them is strictly newer (larger epoch) than every
 *   existing descriptor it touches. Epochs only grow along a key's history (descriptor.ts), so a stale
 *   descriptor can never overwrite a newer one. An update that would leave part of the keyspace uncovered
 *   is refused as `gap` (with the missing ranges: the caller fetches them, e.g. from the meta shard, and
 *   applies them together). Nothing is applied unless everything is (all or nothing).
 * - `staleness(id, epoch)` and `checkKey(id, epoch, key)`: the answers behind WRONG_SHARD.
 * - `shardsIn(start, end)`: the descriptors overlapping `[start, end)` in key order, for scans.
 */
import { TesseraError } from '../base';
import type { Epoch, ShardId } from '../base';
import { containsKey, describeShard, makeDescriptor, sameDescriptor } from './descriptor';
import type { DescriptorInput, ShardDescriptor } from './descriptor';
import { KEYSPACE_START, compareKeys, isBeforeEnd, printableKey, rangesOverlap } from './key';
import type { Key, KeyEnd } from './key';

export interface KeyRange {
  readonly start: Key;
  readonly end: KeyEnd;
}

export type ApplyOutcome =
  | { readonly kind: 'applied'; readonly map: ShardMap; readonly replaced: readonly ShardDescriptor[] }
  | { readonly kind: 'unchanged'; readonly map: ShardMap }
  /** Some descriptor the update touches is as new or newer: nothing applied. */
  | { readonly kind: 'stale'; readonly map: ShardMap; readonly newer: readonly ShardDescriptor[] }
  /** Applying would uncover these ranges: nothing applied. */
  | { readonly kind: 'gap'; readonly map: ShardMap; readonly missing: readonly KeyRange[] };

export type Staleness =
  | { readonly kind: 'current'; readonly descriptor: ShardDescriptor }
  /** The asker's epoch is older: answer WRONG_SHARD with `descriptor`. */
  | { readonly kind: 'stale'; readonly descriptor: ShardDescriptor }
  /** The asker knows a newer epoch than this map: this view is behind (refresh it; retryable). */
  | { readonly kind: 'ahead'; readonly descriptor: ShardDescriptor }
  | { readonly kind: 'unknown' };

export type KeyCheck =
  | { readonly kind: 'ok'; readonly descriptor: ShardDescriptor; readonly askerStale: boolean }
  /** The key is not in that shard (or the shard is unknown here): WRONG_SHARD, `owner` owns the key. */
  | { readonly kind: 'wrongShard'; readonly owner: ShardDescriptor; readonly descriptor: ShardDescriptor | null }
  /** The asker's epoch is newer than this view: refresh the view before answering. */
  | { readonly kind: 'behind'; readonly descriptor: ShardDescriptor };

function invalid(rule: string, message: string): never {
  throw new TesseraError('INVALID_ARGUMENT', `shard map: ${message}`, { rule });
}

/** Gaps between consecutive descriptors sorted by start (and before the first, after the last). */
function gapsOf(sorted: readonly ShardDescriptor[]): KeyRange[] {
  const gaps: KeyRange[] = [];
  let cursor: KeyEnd = KEYSPACE_START;
  for (const d of sorted) {
    if (cursor === null) break;
    if (compareKeys(cursor, d.start) < 0) gaps.push({ start: cursor, end: d.start });
    cursor = d.end;
  }
  if (cursor !== null) gaps.push({ start: cursor, end: null });
  return gaps;
}

/** Throws when two of the descriptors (sorted by start) overlap or share an id. */
function checkDisjoint(sorted: readonly ShardDescriptor[]): void {
  const ids = new Set<number>();
  for (let i = 0; i < sorted.length; i++) {
    const d = sorted[i] as ShardDescriptor;
    if (ids.has(d.id)) invalid('duplicate-shard-id', `shard id ${d.id} appears twice`);
    ids.add(d.id);
    const next = sorted[i + 1];
    if (next && isBeforeEnd(next.start, d.end))
      invalid('overlap', `${describeShard(d)} overlaps ${describeShard(next)}`);
  }
}

function sortByStart(ds: readonly ShardDescriptor[]): ShardDescriptor[] {
  return [...ds].sort((a, b) => compareKeys(a.start, b.start));
}

export class ShardMap {
  private readonly byId: ReadonlyMap<number, ShardDescriptor>;

  private constructor(private readonly sorted: readonly ShardDescriptor[]) {
    this.byId = new Map(sorted.map((d) => [d.id, d]));
  }

  /** A map of exactly these descriptors; throws TesseraError (rule gap/overlap/duplicate-shard-id...). */
  static create(inputs: readonly DescriptorInput[]): ShardMap {
    const sorted = sortByStart(inputs.map(makeDescriptor));
    checkDisjoint(sorted);
    const gaps = gapsOf(sorted);
    if (gaps.length > 0) {
      const g = gaps[0] as KeyRange;
      invalid('gap', `no shard covers [${printableKey(g.start)}, ${printableKey(g.end)})`);
    }
    return new ShardMap(Object.freeze(sorted));
  }

  get size(): number {
    return this.sorted.length;
  }

  /** All descriptors in key order. */
  descriptors(): readonly ShardDescriptor[] {
    return this.sorted;
  }

  get(id: ShardId): ShardDescriptor | undefined {
    return this.byId.get(id);
  }

  /** The descriptor owning `key` (always one: the map covers the keyspace). */
  locate(key: Key): ShardDescriptor {
    return this.sorted[this.indexOf(key)] as ShardDescriptor;
  }

  /** Descriptors overlapping `[start, end)` in key order (empty when start >= end). */
  shardsIn(start: Key, end: KeyEnd): ShardDescriptor[] {
    const out: ShardDescriptor[] = [];
    if (!isBeforeEnd(start, end)) return out;
    for (let i = this.indexOf(start); i < this.sorted.length; i++) {
      const d = this.sorted[i] as ShardDescriptor;
      if (!isBeforeEnd(d.start, end)) break;
      out.push(d);
    }
    return out;
  }

  staleness(id: ShardId, epoch: Epoch): Staleness {
    const d = this.byId.get(id);
    if (!d) return { kind: 'unknown' };
    if (epoch === d.epoch) return { kind: 'current', descriptor: d };
    return epoch < d.epoch ? { kind: 'stale', descriptor: d } : { kind: 'ahead', descriptor: d };
  }

  /** May a request for `key`, sent by someone who thinks it is in shard `id` at `epoch`, be served here? */
  checkKey(id: ShardId, epoch: Epoch, key: Key): KeyCheck {
    const d = this.byId.get(id);
    if (d && epoch > d.epoch) return { kind: 'behind', descriptor: d };
    if (!d || !containsKey(d, key)) return { kind: 'wrongShard', owner: this.locate(key), descriptor: d ?? null };
    return { kind: 'ok', descriptor: d, askerStale: epoch < d.epoch };
  }

  apply(update: DescriptorInput | readonly DescriptorInput[]): ApplyOutcome {
    const list = Array.isArray(update) ? (update as readonly DescriptorInput[]) : [update as DescriptorInput];
    const incoming = sortByStart(list.map(makeDescriptor));
    checkDisjoint(incoming);
    const changed = incoming.filter((u) => !this.holds(u));
    if (changed.length === 0) return { kind: 'unchanged', map: this };
    const touched = this.sorted.filter((e) => changed.some((u) => touches(u, e)));
    const newer = touched.filter((e) => changed.some((u) => touches(u, e) && u.epoch <= e.epoch));
    if (newer.length > 0) return { kind: 'stale', map: this, newer };
    const next = sortByStart([...this.sorted.filter((e) => !touched.includes(e)), ...changed]);
    checkDisjoint(next);
    const missing = gapsOf(next);
    if (missing.length > 0) return { kind: 'gap', map: this, missing };
    return { kind: 'applied', map: new ShardMap(Object.freeze(next)), replaced: touched };
  }

  private holds(d: ShardDescriptor): boolean {
    const e = this.byId.get(d.id);
    return e !== undefined && sameDescriptor(e, d);
  }

  /** Index of the last descriptor whose start <= key. */
  private indexOf(key: Key): number {
    let lo = 0;
    let hi = this.sorted.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (compareKeys((this.sorted[mid] as ShardDescriptor).start, key) <= 0) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** An update descriptor replaces an existing one when their ranges overlap or they share an id. */
function touches(u: ShardDescriptor, e: ShardDescriptor): boolean {
  return u.id === e.id || rangesOverlap(u.start, u.end, e.start, e.end);
}
