/**
 * Routing by shard (issue 10, "Routing"): which endpoint a request for a key goes to. Holds the ShardCache
 * (descriptors, and a leader hint per shard: the per-group leader cache) and keeps it fresh:
 * - loaded lazily from a node's Admin.ListShards when a key has no cached owner (one load in flight,
 *   shared; at most one every LOAD_SPACING_MS unless forced by a WRONG_SHARD without a usable
 *   descriptor or a SESSION_EXPIRED from a shard thought to be open; a node that predates ListShards is not asked again for
 *   UNSUPPORTED_RETRY_MS, and routing falls back to the cluster-wide leader, as before sharding);
 * - a shard's leader is learned from successes (the answering node leads the group the header names),
 *   from NOT_LEADER (tessera-group + leader hint), from WRONG_SHARD (the owner's descriptor and leader,
 *   wrong-shard.ts) and from ListShards; it is forgotten when that node fails or says it does not lead.
 * Trust: descriptors are checked (shard-info.ts, wrong-shard.ts); a leader hint is only kept for a voter of
 * the cached descriptor, and resolved to an endpoint only through Router.resolveHint (never an address the
 * cluster did not report). Every method that is not async never throws.
 */
import { isNodeId, isShardId } from '../base';
import type { ErrorDetails, ShardId, TesseraError } from '../base';
import type { Endpoint } from './endpoint';
import type { Router } from './router';
import { ShardCache } from './shard-cache';
import type { CachedShard } from './shard-cache';
import { crossShardBatchError, planBatch } from './shard-batch-plan';
import { descriptorOf } from './shard-info';
import type { ShardInfo } from './types';
import { learnWrongShard, wrongShardOf } from './wrong-shard';

/** Loads the shard list from some node (one attempt at `endpoint`, or any when null); throws on failure. */
export type ShardLoader = (timeoutMs: number) => Promise<ShardInfo[]>;

/** What a response header says (proto Header). */
export interface WireHeader {
  groupId?: number;
  leaderId?: number;
}

/** The least time between two loads. */
const LOAD_SPACING_MS = 200;
/** How long a cluster that does not know ListShards is not asked again. */
const UNSUPPORTED_RETRY_MS = 30_000;

export class ShardRoutes {
  readonly cache = new ShardCache();
  private loading: Promise<void> | null = null;
  /** Rotation cursor of replicaFor. */
  private spread = 0;
  /** Loads for keys without a cached owner wait until then (forced ones, after WRONG_SHARD, do not). */
  private nextLoadMs = 0;
  /** Until then the cluster is taken not to know ListShards: no loads at all. */
  private unsupportedUntilMs = 0;

  constructor(
    private readonly router: Router,
    private readonly loader: ShardLoader,
    private readonly isUnsupported: (e: unknown) => boolean,
  ) {}

  /** The cached shard owning `key`, if any (no load). */
  locate(key: Buffer): CachedShard | null {
    const hit = this.cache.locate(key);
    return hit.kind === 'hit' ? hit : null;
  }

  /**
   * Makes the owner of `key` known when it can: loads the shard list when the key has no cached owner (or
   * always when `force`), within timeoutMs. Never throws; a failed load leaves routing to the fallback.
   */
  async ensure(key: Buffer, timeoutMs: number, force = false): Promise<void> {
    if (!force && this.locate(key) !== null) return;
    if (this.loading !== null) return this.loading;
    const now = Date.now();
    if ((!force && now < this.nextLoadMs) || now < this.unsupportedUntilMs || timeoutMs <= 0) return;
    const loading = this.load(timeoutMs).finally(() => {
      this.loading = null;
    });
    this.loading = loading;
    return loading;
  }

  private async load(timeoutMs: number): Promise<void> {
    this.nextLoadMs = Date.now() + LOAD_SPACING_MS;
    let shards: ShardInfo[];
    try {
      shards = await this.loader(timeoutMs);
    } catch (e) {
      if (this.isUnsupported(e)) this.unsupportedUntilMs = Date.now() + UNSUPPORTED_RETRY_MS;
      return;
    }
    for (const info of shards) this.learnInfo(info);
  }

  /** Caches a shard a node reported (when newer than what the cache holds), with its leader. */
  learnInfo(info: ShardInfo): void {
    try {
      const d = descriptorOf(info);
      this.cache.update(d, isNodeId(info.leader) ? { node: info.leader, address: null } : null);
    } catch {
      // Checked by shardInfoOf already; a descriptor that still breaks a rule is not cached.
    }
  }

  /** The endpoint of the cached leader of the shard owning `key`, when known and healthy. */
  leaderFor(key: Buffer, nowMs: number): Endpoint | null {
    const hit = this.locate(key);
    if (hit === null || hit.leader === null) return null;
    const resolved = this.router.resolveHint(hintDetails(hit.leader.node, hit.leader.address));
    if (resolved.kind !== 'endpoint' || !resolved.endpoint.isHealthy(nowMs)) return null;
    return resolved.endpoint;
  }

  /**
   * For a read from any replica (stale): an endpoint known to answer as a replica of the key's shard
   * (healthy, not `avoid`), in rotation; else its leader; null when neither is known.
   */
  replicaFor(key: Buffer, nowMs: number, avoid: Endpoint | null): Endpoint | null {
    const hit = this.locate(key);
    if (hit === null) return null;
    const nodes = new Set(hit.descriptor.replicas.map((r) => r.node));
    const eps = this.router
      .endpoints()
      .filter((ep) => ep !== avoid && ep.nodeId !== null && nodes.has(ep.nodeId) && ep.isHealthy(nowMs));
    if (eps.length === 0) return this.leaderFor(key, nowMs);
    this.spread = (this.spread + 1) % eps.length;
    return eps[this.spread] ?? null;
  }

  /** `ep` answered a leader-routed request for `key`: it leads the group its header names (or the key's shard). */
  noteLeaderReply(key: Buffer, ep: Endpoint, header: WireHeader | undefined): void {
    const leaderId = header?.leaderId;
    const node = ep.nodeId ?? (isNodeId(leaderId) ? leaderId : null);
    // (A node's identity is learned from its own Status only, never from a header: hence no identify here.)
    if (node === null || (isNodeId(leaderId) && leaderId !== node)) return;
    const groupId = header?.groupId;
    const id = isShardId(groupId) ? groupId : this.locate(key)?.descriptor.id;
    if (id !== undefined) this.cache.noteLeader(id, { node, address: ep.address });
  }

  /** `ep` failed or said it does not lead: no shard's leader hint points to it any more. */
  forgetEndpoint(ep: Endpoint): void {
    if (ep.nodeId !== null) this.cache.forgetNode(ep.nodeId);
  }

  /**
   * `ep` answered NOT_LEADER to a request for `key`: it no longer leads the key's shard; the answer's group
   * (tessera-group) is led by the hinted node, when one is named.
   */
  noteNotLeader(key: Buffer, ep: Endpoint, details: ErrorDetails): void {
    const hit = this.locate(key);
    if (hit !== null && hit.leader !== null && (hit.leader.node === ep.nodeId || hit.leader.address === ep.address))
      this.cache.forgetLeader(hit.descriptor.id);
    const g = details.groupId;
    const id = details.leaderId;
    if (!isShardId(g)) return;
    if (isNodeId(id)) this.cache.noteLeader(g as ShardId, { node: id, address: details.leaderAddress ?? null });
    else this.cache.forgetLeader(g as ShardId);
  }

  /**
   * A WRONG_SHARD answer to a request for `key`: learns the owner's descriptor and leader from it, or (when
   * it carries none usable) reloads the shard list within timeoutMs. Resolves to whether the cache now
   * names an owner for the key.
   */
  async learnWrongShard(key: Buffer, e: TesseraError, timeoutMs: number): Promise<boolean> {
    const hint = wrongShardOf(e);
    if (hint !== null && learnWrongShard(this.cache, key, hint).kind === 'updated') return true;
    await this.ensure(key, timeoutMs, true);
    return this.locate(key) !== null;
  }
}

/**
 * The key an atomic batch over `keys` is routed by (its first; null without keys), after checking with the
 * cache (loaded first when a key has no cached owner) that the keys lie in one shard. Throws
 * INVALID_ARGUMENT naming the shards when they span several (crossShardBatchError).
 */
export async function batchRouteKey(
  routes: ShardRoutes,
  keys: readonly Buffer[],
  timeoutMs: number,
): Promise<Buffer | null> {
  let plan = planBatch(routes.cache, keys);
  if (plan.kind === 'miss') {
    await routes.ensure(plan.keys[0] as Buffer, timeoutMs);
    plan = planBatch(routes.cache, keys);
  }
  if (plan.kind === 'spans') throw crossShardBatchError(plan.shards);
  return keys[0] ?? null;
}

function hintDetails(node: number, address: string | null): ErrorDetails {
  return address === null ? { leaderId: node } : { leaderId: node, leaderAddress: address };
}
