/**
 * Plans a scan of `[start, end)` over many shards, page by page, in key order (issue 10: "scan stitches
 * the shards in key order, page by page, and returns every key in the range exactly once even while
 * shards split under it"). Pure and synchronous: `next()` says which page to ask for (from the cache), the
 * caller sends it and hands the answer to `accept()`, which returns the items to yield.
 *
 * The guarantee rests on one cursor, the resume key: the smallest key not yet returned. Each request asks
 * for `[cursor, min(end, shard end))` of the shard the cache says owns the cursor; an accepted page moves
 * the cursor strictly forward, past every key it returned (to the page's nextStart, or to the request's end
 * when the shard has nothing more there). Every item must lie in `[cursor, new cursor)`, in increasing
 * order, or the page is refused. So whatever the cache says, however shards split or move between pages
 * and whichever stale answers arrive, no key is returned twice or out of order; and as long as nodes serve
 * only ranges they own (refusing the rest with WRONG_SHARD), no key is skipped either.
 * After WRONG_SHARD, NOT_LEADER or a failure the caller updates the cache and calls `next()` again: the
 * cursor is unchanged, and the answer to the abandoned request is refused if it still arrives.
 */
import { compareKeys, isBeforeEnd } from '../shard';
import type { Key, KeyEnd, ShardDescriptor } from '../shard';
import type { LeaderHint, ShardCache } from './shard-cache';

export interface ScanPageRequest {
  readonly shard: ShardDescriptor;
  readonly leader: LeaderHint | null;
  /** Inclusive: the cursor. */
  readonly start: Key;
  /** Exclusive: the scan's end clipped to the shard's end. */
  readonly end: KeyEnd;
  readonly limit: number;
}

export type ScanStep =
  | { readonly kind: 'request'; readonly request: ScanPageRequest }
  /** No cached descriptor owns `key`: load it (meta shard), update the cache, call next() again. */
  | { readonly kind: 'miss'; readonly key: Key }
  | { readonly kind: 'done' };

/** A node's answer (ScanResponse): items in key order; when `more`, the next page starts at nextStart. */
export interface ScanPageAnswer<T extends { readonly key: Key }> {
  readonly items: readonly T[];
  readonly more: boolean;
  readonly nextStart: Key | null;
}

export type ScanAccept<T> =
  | { readonly kind: 'items'; readonly items: T[] }
  /** Nothing taken, the cursor unchanged: the answer breaks the rules (or is for an abandoned request). */
  | { readonly kind: 'refused'; readonly reason: string };

export interface ScanStitcherOptions {
  /** Items per page. */
  readonly pageLimit: number;
  /** Items in all; Infinity for no limit. */
  readonly limit: number;
}

export class ScanStitcher {
  private cursor: Key | null;
  private remaining: number;
  private pending: ScanPageRequest | null = null;

  constructor(
    start: Key,
    private readonly end: KeyEnd,
    private readonly options: ScanStitcherOptions,
  ) {
    if (!Number.isSafeInteger(options.pageLimit) || options.pageLimit < 1)
      throw new RangeError(`pageLimit must be a positive integer, got ${options.pageLimit}`);
    if (options.limit !== Infinity && !(Number.isSafeInteger(options.limit) && options.limit >= 1))
      throw new RangeError(`limit must be a positive integer or Infinity, got ${options.limit}`);
    this.cursor = isBeforeEnd(start, end) ? start : null;
    this.remaining = options.limit;
  }

  /** The resume key: where the next page starts (null when done). */
  get resumeKey(): Key | null {
    return this.cursor;
  }

  get done(): boolean {
    return this.cursor === null;
  }

  /** The next page to ask for; replaces any request not yet answered. */
  next(cache: ShardCache): ScanStep {
    this.pending = null;
    const cursor = this.cursor;
    if (cursor === null) return { kind: 'done' };
    const hit = cache.locate(cursor);
    if (hit.kind === 'miss') return { kind: 'miss', key: cursor };
    const shardEnd = hit.descriptor.end;
    const end = this.end !== null && (shardEnd === null || compareKeys(this.end, shardEnd) < 0) ? this.end : shardEnd;
    const limit = Math.min(this.options.pageLimit, this.remaining);
    this.pending = { shard: hit.descriptor, leader: hit.leader, start: cursor, end, limit };
    return { kind: 'request', request: this.pending };
  }

  /** Takes the answer to `request` (the last one next() gave); returns the items to yield. */
  accept<T extends { readonly key: Key }>(request: ScanPageRequest, answer: ScanPageAnswer<T>): ScanAccept<T> {
    if (request !== this.pending) return { kind: 'refused', reason: 'not the outstanding request' };
    const problem = checkPage(request, answer);
    if (problem !== null) return { kind: 'refused', reason: problem };
    this.pending = null;
    const items = answer.items.slice(0, Math.min(answer.items.length, this.remaining));
    this.remaining -= items.length;
    const nextStart = answer.more ? (answer.nextStart as Key) : null;
    // A nextStart at or past the request's end means the shard has nothing more below it.
    this.cursor = nextStart !== null && isBeforeEnd(nextStart, request.end) ? nextStart : request.end;
    if (this.remaining <= 0 || (this.cursor !== null && !isBeforeEnd(this.cursor, this.end))) this.cursor = null;
    return { kind: 'items', items };
  }
}

/** Why a page breaks the rules of the header (null when it is well-formed). */
function checkPage<T extends { readonly key: Key }>(
  request: ScanPageRequest,
  answer: ScanPageAnswer<T>,
): string | null {
  let previous: Key | null = null;
  if (answer.items.length > request.limit) return `${answer.items.length} items for a limit of ${request.limit}`;
  for (const item of answer.items) {
    if (!(item.key instanceof Uint8Array)) return 'an item without a byte key';
    if (compareKeys(item.key, previous ?? request.start) < (previous === null ? 0 : 1))
      return previous === null ? 'an item before the requested start' : 'items not in increasing key order';
    if (!isBeforeEnd(item.key, request.end)) return 'an item at or past the requested end';
    previous = item.key;
  }
  if (!answer.more) return null;
  const next = answer.nextStart;
  if (!(next instanceof Uint8Array)) return 'more without nextStart';
  if (compareKeys(next, previous ?? request.start) <= 0) return 'nextStart does not move past the page';
  return null;
}
