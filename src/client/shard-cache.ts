/**
 * The SDK's routing cache (issue 10, "Routing"): shard descriptors the client has learned (from the meta
 * shard, or from WRONG_SHARD answers), each with a leader hint, looked up by key. Unlike a ShardMap it may
 * have holes (a key no cached descriptor owns is a miss: load its descriptor and update).
 *
 * Invariants:
 * - cached descriptors are pairwise disjoint and have distinct ids (sorted by start for binary search);
 * - `update(d)` is accepted only when d's epoch is strictly greater than that of every cached descriptor it
 *   overlaps or shares an id with; those are evicted (after a split, each half evicts the parent; the other
 *   half is then a miss until learned). Epochs only grow along a key's history (src/shard/descriptor.ts), so
 *   an older descriptor can never replace a newer one, whatever order answers arrive in;
 * - a leader hint names a voter of its descriptor (anything else is refused: the descriptor is stale);
 * - bounded: at most `descriptorsMax` descriptors and `keyBytesMax` bytes of keys; past either, the least
 *   recently used descriptors are evicted (LRU: a lookup or an update makes a descriptor the most recent).
 * Pure: no I/O and no clock; the caller reports failures (forgetLeader, forgetNode, invalidate).
 */
import { isNodeId } from '../base';
import type { NodeId, ShardId } from '../base';
import { compareKeys, containsKey, isBeforeEnd, sameDescriptor } from '../shard';
import type { Key, KeyEnd, KeyRange, ShardDescriptor } from '../shard';

export interface LeaderHint {
  readonly node: NodeId;
  /** The address the node gave for it; null when only the id is known (the Router resolves ids). */
  readonly address: string | null;
}

export interface CachedShard {
  readonly descriptor: ShardDescriptor;
  readonly leader: LeaderHint | null;
}

export type CacheLookup = ({ readonly kind: 'hit' } & CachedShard) | { readonly kind: 'miss' };

export type CacheUpdate =
  /** Stored; `evicted` are the older descriptors it replaced. */
  | { readonly kind: 'added'; readonly evicted: readonly ShardDescriptor[] }
  /** The same descriptor was cached already (its leader hint is updated when one is given). */
  | { readonly kind: 'unchanged' }
  /** Not stored: these cached descriptors it touches are as new or newer. */
  | { readonly kind: 'stale'; readonly newer: readonly ShardDescriptor[] }
  /** Not stored: its keys alone pass keyBytesMax (only a hostile or broken source sends such keys). */
  | { readonly kind: 'too-large' };

export type LeaderUpdate = 'set' | 'unknown-shard' | 'not-a-voter';

export interface ShardCacheOptions {
  /** Most descriptors held. Default 10,000. */
  readonly descriptorsMax?: number;
  /** Most key bytes (starts + ends) held. Default 32 MiB; at least 256 KiB (two 64 KiB keys, twice). */
  readonly keyBytesMax?: number;
}

interface Entry {
  descriptor: ShardDescriptor;
  leader: LeaderHint | null;
  readonly keyBytes: number;
}

const DESCRIPTORS_MAX_DEFAULT = 10_000;
const KEY_BYTES_MAX_DEFAULT = 32 * 1024 * 1024;
const KEY_BYTES_MAX_LEAST = 256 * 1024;

function touches(a: ShardDescriptor, b: ShardDescriptor): boolean {
  return a.id === b.id || (isBeforeEnd(a.start, b.end) && isBeforeEnd(b.start, a.end));
}

function keyBytesOf(d: ShardDescriptor): number {
  return d.start.length + (d.end?.length ?? 0);
}

function isVoter(d: ShardDescriptor, node: NodeId): boolean {
  return d.replicas.some((r) => r.node === node && r.role === 'voter');
}

export class ShardCache {
  readonly descriptorsMax: number;
  readonly keyBytesMax: number;
  /** Sorted by start; pairwise disjoint. */
  private readonly sorted: Entry[] = [];
  /** By shard id, least recently used first (Map order). */
  private readonly lru = new Map<ShardId, Entry>();
  private bytes = 0;

  constructor(options: ShardCacheOptions = {}) {
    this.descriptorsMax = options.descriptorsMax ?? DESCRIPTORS_MAX_DEFAULT;
    this.keyBytesMax = options.keyBytesMax ?? KEY_BYTES_MAX_DEFAULT;
    if (!Number.isSafeInteger(this.descriptorsMax) || this.descriptorsMax < 1)
      throw new RangeError(`descriptorsMax must be a positive integer, got ${this.descriptorsMax}`);
    if (!Number.isSafeInteger(this.keyBytesMax) || this.keyBytesMax < KEY_BYTES_MAX_LEAST)
      throw new RangeError(`keyBytesMax must be an integer >= ${KEY_BYTES_MAX_LEAST}, got ${this.keyBytesMax}`);
  }

  get size(): number {
    return this.sorted.length;
  }

  /** Bytes of keys held (starts and ends). */
  get keyBytes(): number {
    return this.bytes;
  }

  /** The cached descriptors in key order (no LRU effect). */
  descriptors(): ShardDescriptor[] {
    return this.sorted.map((e) => e.descriptor);
  }

  /** The cached descriptor owning `key`, with its leader hint; a hit becomes the most recently used. */
  locate(key: Key): CacheLookup {
    const e = this.entryAt(key);
    if (e === undefined) return { kind: 'miss' };
    this.touch(e);
    return { kind: 'hit', descriptor: e.descriptor, leader: e.leader };
  }

  /** The entry for shard `id` (no LRU effect). */
  get(id: ShardId): CachedShard | undefined {
    const e = this.lru.get(id);
    return e === undefined ? undefined : { descriptor: e.descriptor, leader: e.leader };
  }

  /**
   * The cached shards overlapping `[start, end)` in key order, and the parts of it no cached descriptor
   * covers (to load). Hits become the most recently used.
   */
  cover(start: Key, end: KeyEnd): { shards: CachedShard[]; missing: KeyRange[] } {
    const shards: CachedShard[] = [];
    const missing: KeyRange[] = [];
    if (!isBeforeEnd(start, end)) return { shards, missing };
    let cursor: KeyEnd = start;
    for (let i = Math.max(0, this.indexBefore(start)); i < this.sorted.length && cursor !== null; i++) {
      const e = this.sorted[i] as Entry;
      if (!isBeforeEnd(e.descriptor.start, end)) break;
      if (!isBeforeEnd(cursor, e.descriptor.end)) continue;
      if (compareKeys(cursor, e.descriptor.start) < 0) missing.push({ start: cursor, end: e.descriptor.start });
      this.touch(e);
      shards.push({ descriptor: e.descriptor, leader: e.leader });
      cursor = e.descriptor.end;
    }
    if (cursor !== null && isBeforeEnd(cursor, end)) missing.push({ start: cursor, end });
    return { shards, missing };
  }

  /**
   * Learns a descriptor (and optionally its leader). Accepted only when newer than everything it touches;
   * without a leader of its own it inherits the hint of an evicted descriptor whose leader is one of its
   * voters (the halves of a split start with the parent's members, and the parent's leader campaigns first).
   */
  update(descriptor: ShardDescriptor, leader: LeaderHint | null = null): CacheUpdate {
    const same = this.lru.get(descriptor.id);
    if (same !== undefined && sameDescriptor(same.descriptor, descriptor)) {
      if (leader !== null) this.noteLeader(descriptor.id, leader);
      this.touch(same);
      return { kind: 'unchanged' };
    }
    if (keyBytesOf(descriptor) > this.keyBytesMax) return { kind: 'too-large' };
    const touched = this.touching(descriptor);
    const newer = touched.filter((e) => e.descriptor.epoch >= descriptor.epoch).map((e) => e.descriptor);
    if (newer.length > 0) return { kind: 'stale', newer };
    for (const e of touched) this.remove(e);
    const inherited = touched.find((e) => e.leader !== null && isVoter(descriptor, e.leader.node))?.leader ?? null;
    const hint = leader !== null && isVoter(descriptor, leader.node) ? leader : inherited;
    this.insert(descriptor, hint);
    return { kind: 'added', evicted: touched.map((e) => e.descriptor) };
  }

  /** A NOT_LEADER (or WRONG_SHARD) hint for shard `id`. 'not-a-voter': the cached descriptor is stale. */
  noteLeader(id: ShardId, leader: LeaderHint): LeaderUpdate {
    const e = this.lru.get(id);
    if (e === undefined) return 'unknown-shard';
    if (!isNodeId(leader.node) || !isVoter(e.descriptor, leader.node)) return 'not-a-voter';
    e.leader = { node: leader.node, address: leader.address };
    return 'set';
  }

  /** The hinted leader of `id` did not answer (timeout, connection failure, NOT_LEADER without a hint). */
  forgetLeader(id: ShardId): void {
    const e = this.lru.get(id);
    if (e !== undefined) e.leader = null;
  }

  /** A node is unreachable: no hint points to it any more. */
  forgetNode(node: NodeId): void {
    for (const e of this.sorted) if (e.leader?.node === node) e.leader = null;
  }

  /** Drops shard `id` (its descriptor proved wrong or the shard failed): the next lookup misses. */
  invalidate(id: ShardId): boolean {
    const e = this.lru.get(id);
    if (e === undefined) return false;
    this.remove(e);
    return true;
  }

  /** Drops whatever cached descriptor owns `key`. */
  invalidateKey(key: Key): ShardDescriptor | null {
    const e = this.entryAt(key);
    if (e === undefined) return null;
    this.remove(e);
    return e.descriptor;
  }

  private entryAt(key: Key): Entry | undefined {
    const e = this.sorted[this.indexBefore(key)];
    return e !== undefined && containsKey(e.descriptor, key) ? e : undefined;
  }

  /** Cached entries that overlap `d` or share its id. */
  private touching(d: ShardDescriptor): Entry[] {
    const out: Entry[] = [];
    for (let i = Math.max(0, this.indexBefore(d.start)); i < this.sorted.length; i++) {
      const e = this.sorted[i] as Entry;
      if (!isBeforeEnd(e.descriptor.start, d.end)) break;
      if (touches(e.descriptor, d)) out.push(e);
    }
    const same = this.lru.get(d.id);
    if (same !== undefined && !out.includes(same)) out.push(same);
    return out;
  }

  private insert(descriptor: ShardDescriptor, leader: LeaderHint | null): void {
    const e: Entry = { descriptor, leader, keyBytes: keyBytesOf(descriptor) };
    this.sorted.splice(this.indexBefore(descriptor.start) + 1, 0, e);
    this.lru.set(descriptor.id, e);
    this.bytes += e.keyBytes;
    while (this.sorted.length > this.descriptorsMax || this.bytes > this.keyBytesMax) {
      this.remove(this.lru.values().next().value as Entry); // never e: it is the most recent, and fits alone
    }
  }

  private remove(e: Entry): void {
    const i = this.indexBefore(e.descriptor.start);
    if (this.sorted[i] === e) this.sorted.splice(i, 1);
    this.lru.delete(e.descriptor.id);
    this.bytes -= e.keyBytes;
  }

  private touch(e: Entry): void {
    this.lru.delete(e.descriptor.id);
    this.lru.set(e.descriptor.id, e);
  }

  /** Index of the last entry whose start <= key, or -1. */
  private indexBefore(key: Key): number {
    let lo = -1;
    let hi = this.sorted.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (compareKeys((this.sorted[mid] as Entry).descriptor.start, key) <= 0) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
