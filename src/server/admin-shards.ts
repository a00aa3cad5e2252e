/**
 * Admin.ListShards and Admin.SplitShard (proto/admin.proto): the shards this node hosts (and, on the meta
 * leader, every other shard of the placement driver's view: admin-nodes.ts; a request with `cluster` is
 * answered there only, others redirect), and a manual split.
 * Invariants: the split key arrives from the network and is checked like any KV key (1..keyBytesMax bytes)
 * before the host sees it; the stats of ListShards are read one shard at a time and stop with
 * DEADLINE_EXCEEDED once the request's budget is spent (a node with 1,000 shards does bounded work per call);
 * a shard's unbounded end goes on the wire as empty bytes. Errors (NOT_LEADER with tessera-group, ...) are
 * the host's, mapped by the unary wrapper.
 */
import type * as grpc from '@grpc/grpc-js';
import { TesseraError, type NodeId } from '../base';
import type { LimitsConfig, NodeConfig } from '../config';
import type { LocalShardInfo, NodeHost } from '../node';
import type { NodeMetrics } from '../obs';
import { checkKey } from './requests';
import { unary } from './unary';

export type ShardStats = Awaited<ReturnType<NodeHost['shardStats']>>;

/** The NodeHost methods behind the two RPCs. */
export type ShardHost = Pick<NodeHost, 'listShards' | 'shardStats' | 'splitShard'>;

/** Shards known here but not hosted (the placement driver's view on the meta leader; admin-nodes.ts). */
export type OtherShards = () => LocalShardInfo[];

/** For a request of the whole cluster's shards: null on the meta leader, else the redirect to throw. */
export type ClusterListRedirect = () => TesseraError | null;

/** proto ShardInfo from the node's view of a shard (an unbounded end as empty bytes). */
export function shardInfoWire(s: LocalShardInfo, stats: ShardStats = { keys: 0, bytes: 0 }) {
  return {
    id: s.id,
    start: s.start,
    end: s.end ?? Buffer.alloc(0),
    epoch: s.epoch,
    replicas: s.replicas.map((r) => ({ id: r.id, voter: r.voter })),
    leader: s.leader,
    keys: stats.keys,
    bytes: stats.bytes,
    applied: s.applied,
  };
}

/**
 * ListShards: every hosted shard and every other one known here (`others`), ascending by start; with
 * stats, each hosted range read in turn within timeoutMs (the others have no stats here: 0).
 */
export async function listShardsResponse(
  host: ShardHost,
  nodeId: NodeId,
  req: { withStats?: unknown },
  timeoutMs: number,
  others: OtherShards = () => [],
) {
  const hosted = host.listShards();
  const ids = new Set(hosted.map((s) => s.id));
  const shards = [...hosted, ...others().filter((s) => !ids.has(s.id))].sort((a, b) => a.start.compare(b.start));
  if (req.withStats !== true) return { nodeId, shards: shards.map((s) => shardInfoWire(s)) };
  const deadline = Date.now() + timeoutMs;
  const out: ReturnType<typeof shardInfoWire>[] = [];
  for (const s of shards) {
    if (!ids.has(s.id)) {
      out.push(shardInfoWire(s));
      continue;
    }
    if (Date.now() >= deadline)
      throw new TesseraError(
        'DEADLINE_EXCEEDED',
        `shard stats: read ${out.length} of ${shards.length} shards before the deadline`,
      );
    out.push(shardInfoWire(s, await host.shardStats(s.id)));
  }
  return { nodeId, shards: out };
}

/** SplitShard: the key checked as hostile, then split by the host (which must lead the owning shard). */
export async function splitShardResponse(
  host: ShardHost,
  limits: LimitsConfig,
  req: { key?: unknown },
  timeoutMs: number,
) {
  const key = checkKey(req.key, limits, 'split key');
  const { left, right } = await host.splitShard(key, timeoutMs);
  return { left: shardInfoWire(left), right: shardInfoWire(right) };
}

/** The two gRPC handlers (keys as in adminServiceHandlers), over the host of the moment. */
export function adminShardHandlers(
  host: () => ShardHost,
  config: NodeConfig,
  metrics: NodeMetrics,
  others: OtherShards = () => [],
  clusterRedirect: ClusterListRedirect = () => null,
): grpc.UntypedServiceImplementation {
  return {
    listShards: unary(
      'Admin.ListShards',
      metrics,
      config.requestTimeoutMs,
      async (req: { withStats?: unknown; cluster?: unknown }, t) => {
        const redirect = req.cluster === true ? clusterRedirect() : null;
        if (redirect !== null) throw redirect;
        return listShardsResponse(host(), config.id, req, t, others);
      },
    ),
    splitShard: unary('Admin.SplitShard', metrics, config.requestTimeoutMs, (req: { key?: unknown }, t) =>
      splitShardResponse(host(), config.limits, req, t),
    ),
  };
}
