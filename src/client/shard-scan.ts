/**
 * Client.scan over shards (issue 10, "Routing"): the pages of `[start, end)` in key order, each asked of
 * the leader of the shard that owns the resume key and clipped to that shard (scan-stitcher.ts holds the
 * rules that make every key come back exactly once and in order, even while shards split under the scan).
 * A resume key with no cached owner loads the shard list first; when that does not help (a cluster before
 * sharding, or a node that does not report that shard) the page goes out unclipped, routed by its key, and
 * the node clips it to what it owns (more = true, next_start = its shard's end).
 * WRONG_SHARD and NOT_LEADER on a page are retried by the invoker within the page's deadline; a page that
 * breaks the stitcher's rules (items outside the asked range, out of order, a next_start that does not
 * advance) is an INTERNAL error, never a duplicate or a skipped key.
 */
import { TesseraError, epochOf, shardIdOf } from '../base';
import { makeDescriptor } from '../shard';
import type { KeyEnd } from '../shard';
import type { Invoker, Route } from './invoker';
import { ScanStitcher } from './scan-stitcher';
import type { ScanStep } from './scan-stitcher';
import { ShardCache } from './shard-cache';
import type { ShardRoutes } from './shard-routes';
import type { KeyValue, ScanPage } from './types';

export interface ScanPlan {
  readonly start: Buffer;
  /** null: to the end of the keyspace. */
  readonly end: Buffer | null;
  readonly pageLimit: number;
  readonly pageBytesMax: number;
  /** Items in all; Infinity for no limit. */
  readonly limit: number;
  readonly route: Route;
  readonly consistency: number;
  readonly deadlineMs: number | undefined;
  /** Budget of a load of the shard list for a resume key without a cached owner. */
  readonly loadMs: number;
}

interface WireScan {
  items: { key: Buffer; value: Buffer }[];
  more: boolean;
  nextStart: Buffer;
}

const EMPTY = Buffer.alloc(0);

/** One "shard" over the whole keyspace: where pages go when the real owner of a key is not known. */
function wholeKeyspace(): ShardCache {
  const cache = new ShardCache({ descriptorsMax: 1 });
  const d = makeDescriptor({
    id: shardIdOf(1),
    epoch: epochOf(0),
    start: EMPTY,
    end: null,
    replicas: [{ node: 1, role: 'voter' }],
  });
  cache.update(d);
  return cache;
}

/** The next page to ask for: from the routing cache, after a load when the resume key has no owner there. */
async function nextStep(stitcher: ScanStitcher, shards: ShardRoutes, loadMs: number): Promise<ScanStep> {
  const step = stitcher.next(shards.cache);
  if (step.kind !== 'miss') return step;
  await shards.ensure(Buffer.from(step.key), loadMs);
  const again = stitcher.next(shards.cache);
  return again.kind === 'miss' ? stitcher.next(wholeKeyspace()) : again;
}

/** The pages of a scan (see the header). */
export async function* scanPages(invoker: Invoker, shards: ShardRoutes, plan: ScanPlan): AsyncGenerator<ScanPage> {
  const end: KeyEnd = plan.end;
  const stitcher = new ScanStitcher(plan.start, end, { pageLimit: plan.pageLimit, limit: plan.limit });
  for (;;) {
    const step = await nextStep(stitcher, shards, plan.loadMs);
    if (step.kind !== 'request') return;
    const r = step.request;
    const start = Buffer.from(r.start);
    const request = {
      start,
      end: r.end === null ? EMPTY : Buffer.from(r.end),
      limit: r.limit,
      bytesMax: plan.pageBytesMax,
      consistency: plan.consistency,
    };
    const res = await invoker.call<WireScan>('kv', 'Scan', request, plan.route, plan.deadlineMs, { key: start });
    const answer = { items: res.items, more: res.more, nextStart: res.more ? res.nextStart : null };
    const accepted = stitcher.accept(r, answer);
    if (accepted.kind === 'refused')
      throw new TesseraError('INTERNAL', `Scan: the node sent a bad page (${accepted.reason})`);
    const items: KeyValue[] = accepted.items.map((kv) => ({ key: kv.key, value: kv.value }));
    if (items.length > 0) yield { items };
  }
}
