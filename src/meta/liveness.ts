/**
 * Node liveness on the meta leader: the last heartbeat of every registered node, in memory only.
 *
 * Why not in the log (CockroachDB keeps liveness records in a replicated range; TiKV's PD keeps store
 * heartbeats in the PD leader's memory): CockroachDB's liveness records fence range leases (a lease is
 * valid only while its holder's liveness epoch is), so they must be replicated and agreed. Here nothing
 * depends on liveness for correctness: Raft leaders keep their leadership by CheckQuorum and reads by
 * ReadIndex, so liveness only tells the placement driver when to re-create replicas. Putting heartbeats in
 * the meta log would cost one entry and one fsync per node per heartbeat interval on every meta replica,
 * forever, and grow the log that every meta snapshot carries, for data whose only reader is the leader.
 * So, like PD: heartbeats are recorded here on the meta leader; what must survive a leader change and be
 * agreed (a node's registration, its state up/down/draining/removed) goes through the log (MetaCommand).
 *
 * Failover rule (the price of memory-only liveness): a new meta leader has heard from nobody, so it starts
 * a fresh table with `sinceMs` = its own time of taking over, and a node it has not heard from yet counts
 * as last heard at `sinceMs`. A node is declared dead only after deadNodeTimeoutMs of silence observed by
 * this leader: a leader change delays repair by at most one timeout, never causes a false one.
 *
 * Times: `lastHeartbeatMs` is the receiver's clock (nowMs passed in; never the sender's clock, which may
 * be skewed or hostile) and never goes backwards. The sender's own time is kept for display only.
 * Heartbeats are hostile input: checkHeartbeat validates every field; a heartbeat from an unknown or
 * removed node or for another cluster is refused (typed error) and recorded nowhere, so the table holds
 * at most one entry per registered node (bounded by META_LIMITS.nodesMax).
 */
import { TesseraError } from '../base';
import type { NodeId } from '../base';
import { ShapeError, shapeUint } from '../codec';
import { checkClusterId, checkNodeId } from './validate';
import type { NodeRecord } from './types';

export interface Heartbeat {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  /** The sender's clock (ms); for display, never for liveness. */
  readonly sentAtMs: number;
  /** Replicas and leaders the node hosts, as it counts them. */
  readonly replicas: number;
  readonly leaders: number;
}

export interface NodeLiveness {
  /** On this table's clock. */
  readonly lastHeartbeatMs: number;
  /** False until the node's first heartbeat to this leader (lastHeartbeatMs is then sinceMs). */
  readonly heard: boolean;
  readonly report: Heartbeat | null;
}

/** The parts of the registry a heartbeat is checked against. */
export interface Registry {
  readonly clusterId: string | null;
  node(id: NodeId): NodeRecord | undefined;
}

/** Counts far above any node's; bounds what a hostile heartbeat can claim. */
const COUNT_MAX = 10_000_000;

/** Checks a heartbeat as it arrives from the network; throws TesseraError(INVALID_ARGUMENT) on any defect. */
export function checkHeartbeat(v: unknown): Heartbeat {
  try {
    if (v === null || typeof v !== 'object') throw new ShapeError('heartbeat: expected an object');
    const h = v as Record<string, unknown>;
    const count = (x: unknown, what: string): number => {
      const n = shapeUint(x, what);
      if (n > COUNT_MAX) throw new ShapeError(`${what}: ${n} is more than ${COUNT_MAX}`);
      return n;
    };
    return {
      nodeId: checkNodeId(h.nodeId, 'heartbeat node id'),
      clusterId: checkClusterId(h.clusterId, 'heartbeat cluster id'),
      sentAtMs: shapeUint(h.sentAtMs, 'heartbeat sentAtMs'),
      replicas: count(h.replicas, 'heartbeat replicas'),
      leaders: count(h.leaders, 'heartbeat leaders'),
    };
  } catch (e) {
    if (!(e instanceof ShapeError)) throw e;
    throw new TesseraError('INVALID_ARGUMENT', `invalid heartbeat: ${e.message}`, { rule: 'bad-heartbeat' });
  }
}

export class LivenessTable {
  private readonly last = new Map<NodeId, { atMs: number; report: Heartbeat }>();

  /** @param sinceMs when this replica became the meta leader, on the clock of every later nowMs. */
  constructor(readonly sinceMs: number) {
    if (!Number.isFinite(sinceMs)) throw new TesseraError('INVALID_ARGUMENT', `sinceMs ${sinceMs}`);
  }

  /**
   * Records a heartbeat received at `nowMs` (checkHeartbeat it first). Throws TesseraError: INVALID_ARGUMENT
   * (rule cluster-mismatch / node-removed, or no cluster yet), NOT_FOUND for an unregistered node.
   */
  record(hb: Heartbeat, nowMs: number, registry: Registry): NodeLiveness {
    if (registry.clusterId === null)
      throw new TesseraError('UNAVAILABLE', 'the cluster is not bootstrapped yet', { rule: 'not-bootstrapped' });
    if (hb.clusterId !== registry.clusterId)
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `heartbeat of node ${hb.nodeId} is for cluster ${hb.clusterId}, this is ${registry.clusterId}`,
        { rule: 'cluster-mismatch' },
      );
    const node = registry.node(hb.nodeId);
    if (node === undefined)
      throw new TesseraError('NOT_FOUND', `node ${hb.nodeId} is not registered`, { rule: 'unknown-node' });
    if (node.state === 'removed') {
      this.last.delete(hb.nodeId);
      throw new TesseraError('INVALID_ARGUMENT', `node ${hb.nodeId} was removed from the cluster`, {
        rule: 'node-removed',
      });
    }
    const previous = this.last.get(hb.nodeId)?.atMs ?? this.sinceMs;
    const atMs = Math.max(previous, nowMs);
    this.last.set(hb.nodeId, { atMs, report: hb });
    return { lastHeartbeatMs: atMs, heard: true, report: hb };
  }

  of(node: NodeId): NodeLiveness {
    const l = this.last.get(node);
    return l === undefined
      ? { lastHeartbeatMs: this.sinceMs, heard: false, report: null }
      : { lastHeartbeatMs: l.atMs, heard: true, report: l.report };
  }

  /** Drops nodes the registry no longer holds or has removed (call after applying meta entries). */
  prune(registry: Registry): void {
    for (const id of [...this.last.keys()]) {
      const n = registry.node(id);
      if (n === undefined || n.state === 'removed') this.last.delete(id);
    }
  }

  get size(): number {
    return this.last.size;
  }
}
