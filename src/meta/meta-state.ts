/**
 * MetaState: the meta shard's state in memory (cluster record, the meta group's descriptor, the data
 * shards' ShardMap, the node registry) and the deterministic application of one command to it.
 *
 * Invariants (checkCoherent; a state that breaks one is never built from storage or a snapshot):
 * - not bootstrapped: no cluster record, no descriptor, no node. Bootstrapped: all three exist;
 * - the data shards tile the user keyspace [empty, +inf) without gaps or overlaps (ShardMap), ids unique,
 *   the meta group's id is none of theirs, and every shard id is below cluster.nextShardId;
 * - every replica is on a registered node; node record ids are unique (a Map keyed by id);
 * - a descriptor's epoch only grows: a split gives both halves parent+1, a replica change +1, and both are
 *   refused unless the command was planned against the current epoch (so of two commands planned against
 *   the same descriptor, the second is refused: two splits of one parent cannot both apply).
 * apply() records which items it changed in `dirty` (the state machine writes exactly those) and returns a
 * result; a refused command changes nothing.
 *
 * How splits and moves stay safe here (the meta side; the data shard's own log cuts the range, issue 10):
 * every descriptor change is a compare-and-set on the epoch. A split or replica change carries the epoch
 * it was planned against and is recorded only if that is still the current one, so two actors that planned
 * against the same descriptor (an old and a new meta leader's drivers, a manual split racing an automatic
 * one, a retried action) can never both change it: the second is refused with the current descriptor
 * (refusalError: WRONG_SHARD with its epoch) and must re-plan. Right-hand ids come only from
 * reserveShardIds (like TiKV PD's AllocID) and are never reused, so two splits cannot create the same
 * shard, even of different parents. Because epochs only grow along every key's history, a client or node
 * that applies descriptors from here with ShardMap.apply never lets an older one overwrite a newer one.
 */
import { TesseraError, shardIdOf } from '../base';
import type { NodeId, ShardId } from '../base';
import {
  KEYSPACE_START,
  ShardMap,
  addLearner,
  describeShard,
  makeDescriptor,
  promoteLearner,
  removeReplica,
  replicaOn,
  splitDescriptor,
} from '../shard';
import type { ShardDescriptor } from '../shard';
import { isLegalTransition } from './node-transitions';
import { META_REPLICAS_MAX } from './records';
import type { ClusterRecord, MetaCommand, MetaResult, NodeRecord, RefusalReason } from './types';
import { INITIAL_EPOCH, META_LIMITS } from './types';

/** Items changed by an apply: what the state machine must write. */
export interface Dirty {
  cluster: boolean;
  metaGroup: boolean;
  shards: Set<ShardId>;
  nodes: Set<NodeId>;
}

export const newDirty = (): Dirty => ({ cluster: false, metaGroup: false, shards: new Set(), nodes: new Set() });

const refuse = (reason: RefusalReason, message: string, current?: ShardDescriptor): MetaResult =>
  current === undefined ? { type: 'refused', reason, message } : { type: 'refused', reason, message, current };

type Cmd<T extends MetaCommand['type']> = Extract<MetaCommand, { type: T }>;

export class MetaState {
  constructor(
    public cluster: ClusterRecord | null = null,
    public metaGroup: ShardDescriptor | null = null,
    public shards: ShardMap | null = null,
    readonly nodes: Map<NodeId, NodeRecord> = new Map(),
  ) {}

  /** A copy that apply() may change without touching this one (records and descriptors are frozen). */
  clone(): MetaState {
    return new MetaState(this.cluster, this.metaGroup, this.shards, new Map(this.nodes));
  }

  /** The descriptor with id `id`: the meta group's or a data shard's. */
  descriptor(id: ShardId): ShardDescriptor | undefined {
    if (this.metaGroup?.id === id) return this.metaGroup;
    return this.shards?.get(id);
  }

  /** Throws CORRUPTION when the state breaks an invariant of the module header (`where`: for the message). */
  checkCoherent(where: string): void {
    const bad = (problem: string): never => {
      throw new TesseraError('CORRUPTION', `meta state ${where}: ${problem}`, { key: where });
    };
    const parts = [this.cluster !== null, this.metaGroup !== null, this.shards !== null];
    if (parts.some((p) => p !== parts[0])) bad('cluster record, meta descriptor and shards exist only together');
    if (this.cluster === null) {
      if (this.nodes.size > 0) bad('nodes registered before the bootstrap');
      return;
    }
    if (this.nodes.size > META_LIMITS.nodesMax) bad(`more than ${META_LIMITS.nodesMax} nodes`);
    const all = [this.metaGroup as ShardDescriptor, ...(this.shards as ShardMap).descriptors()];
    if ((this.shards as ShardMap).get((this.metaGroup as ShardDescriptor).id)) bad('the meta group id is a data shard');
    for (const d of all) {
      if (d.id >= this.cluster.nextShardId) bad(`${describeShard(d)} is not below nextShardId`);
      for (const r of d.replicas)
        if (!this.nodes.has(r.node)) bad(`${describeShard(d)} on unregistered node ${r.node}`);
    }
    for (const [id, n] of this.nodes) if (n.id !== id) bad(`node record ${n.id} stored as node ${id}`);
  }

  apply(c: MetaCommand, dirty: Dirty): MetaResult {
    if (c.type === 'bootstrap') return this.bootstrap(c, dirty);
    if (this.cluster === null) return refuse('not-bootstrapped', 'the cluster is not bootstrapped');
    switch (c.type) {
      case 'registerNode':
        return this.registerNode(c, this.cluster, dirty);
      case 'setNodeState':
        return this.setNodeState(c, dirty);
      case 'reserveShardIds':
        return this.reserveShardIds(c, this.cluster, dirty);
      case 'split':
        return this.split(c, this.cluster, dirty);
      case 'changeReplicas':
        return this.changeReplicas(c, dirty);
      case 'setReplicas':
        return this.setReplicas(c, dirty);
    }
  }

  private bootstrap(c: Cmd<'bootstrap'>, dirty: Dirty): MetaResult {
    if (this.cluster !== null)
      return refuse('already-bootstrapped', `the cluster ${this.cluster.clusterId} is bootstrapped already`);
    const at = c.atMs ?? null;
    const replicas = c.nodes.map((n) => ({ node: n.id, role: 'voter' as const }));
    const whole = { start: KEYSPACE_START, end: null, replicas, epoch: INITIAL_EPOCH };
    const meta = makeDescriptor({ ...whole, id: c.metaShardId });
    const data = makeDescriptor({ ...whole, id: c.dataShardId });
    this.cluster = {
      clusterId: c.clusterId,
      nextShardId: Math.max(c.metaShardId, c.dataShardId) + 1,
      bootstrappedAtMs: at,
    };
    this.metaGroup = meta;
    this.shards = ShardMap.create([data]);
    for (const n of c.nodes) {
      this.nodes.set(n.id, {
        id: n.id,
        address: n.address,
        peerAddress: null,
        state: 'up',
        registeredAtMs: at,
        stateSinceMs: at,
      });
      dirty.nodes.add(n.id);
    }
    dirty.cluster = dirty.metaGroup = true;
    dirty.shards.add(data.id);
    return { type: 'bootstrapped', meta, data };
  }

  private registerNode(c: Cmd<'registerNode'>, cluster: ClusterRecord, dirty: Dirty): MetaResult {
    if (c.clusterId !== cluster.clusterId)
      return refuse(
        'cluster-mismatch',
        `node ${c.nodeId} belongs to cluster ${c.clusterId}, this is ${cluster.clusterId}`,
      );
    const known = this.nodes.get(c.nodeId);
    if (known?.state === 'removed')
      return refuse('node-removed', `node id ${c.nodeId} was removed from the cluster; ids are never reused`);
    if (known !== undefined && known.address !== c.address)
      return refuse('node-id-taken', `node id ${c.nodeId} is registered at ${known.address}, not ${c.address}`);
    if (known !== undefined) return { type: 'registered', node: known, created: false };
    for (const n of this.nodes.values())
      if (n.address === c.address && n.state !== 'removed')
        return refuse('address-taken', `address ${c.address} is registered to node ${n.id}`);
    if (this.nodes.size >= META_LIMITS.nodesMax)
      return refuse('limit', `the registry holds ${META_LIMITS.nodesMax} nodes already`);
    const at = c.atMs ?? null;
    const node: NodeRecord = {
      id: c.nodeId,
      address: c.address,
      peerAddress: c.peerAddress ?? null,
      state: 'up',
      registeredAtMs: at,
      stateSinceMs: at,
    };
    this.nodes.set(node.id, node);
    dirty.nodes.add(node.id);
    return { type: 'registered', node, created: true };
  }

  private setNodeState(c: Cmd<'setNodeState'>, dirty: Dirty): MetaResult {
    const known = this.nodes.get(c.nodeId);
    if (known === undefined) return refuse('unknown-node', `node ${c.nodeId} is not registered`);
    if (!isLegalTransition(known.state, c.state))
      return refuse('illegal-transition', `node ${c.nodeId} cannot go from ${known.state} to ${c.state}`);
    if (known.state === c.state) return { type: 'nodeState', node: known, previous: known.state };
    const node: NodeRecord = { ...known, state: c.state, stateSinceMs: c.atMs ?? null };
    this.nodes.set(node.id, node);
    dirty.nodes.add(node.id);
    return { type: 'nodeState', node, previous: known.state };
  }

  private reserveShardIds(c: Cmd<'reserveShardIds'>, cluster: ClusterRecord, dirty: Dirty): MetaResult {
    const first = cluster.nextShardId;
    if (first + c.count - 1 > 0xffff_ffff) return refuse('limit', 'the shard id space is exhausted');
    this.cluster = { ...cluster, nextShardId: first + c.count };
    dirty.cluster = true;
    return { type: 'shardIdsReserved', first: shardIdOf(first), count: c.count };
  }

  /** The descriptor the command names, if its epoch is the current one; else the refusal. */
  private planned(c: Cmd<'split' | 'changeReplicas' | 'setReplicas'>): ShardDescriptor | MetaResult {
    const d = this.descriptor(c.shard);
    if (d === undefined) return refuse('unknown-shard', `shard ${c.shard} does not exist`);
    if (c.epoch !== d.epoch) {
      const how = c.epoch < d.epoch ? 'stale' : 'ahead of the meta shard';
      return refuse(
        'epoch-mismatch',
        `planned against epoch ${c.epoch} of shard ${c.shard} (${how}); ${describeShard(d)}`,
        d,
      );
    }
    return d;
  }

  private split(c: Cmd<'split'>, cluster: ClusterRecord, dirty: Dirty): MetaResult {
    const parent = this.planned(c);
    if ('type' in parent) return parent;
    if (parent.id === this.metaGroup?.id) return refuse('bad-split', 'the meta group does not split', parent);
    const shards = this.shards as ShardMap;
    if (c.rightId >= cluster.nextShardId || this.descriptor(c.rightId) !== undefined)
      return refuse('shard-id-not-reserved', `shard id ${c.rightId} is not a reserved, unused id`, parent);
    if (shards.size >= META_LIMITS.shardsMax) return refuse('limit', `${META_LIMITS.shardsMax} shards exist`, parent);
    let halves: { left: ShardDescriptor; right: ShardDescriptor };
    try {
      halves = splitDescriptor(parent, c.key, c.rightId);
    } catch (e) {
      return refuse('bad-split', (e as Error).message, parent);
    }
    const outcome = shards.apply([halves.left, halves.right]);
    if (outcome.kind !== 'applied')
      return refuse('bad-split', `the shard map refused the split (${outcome.kind})`, parent);
    this.shards = outcome.map;
    dirty.shards.add(halves.left.id).add(halves.right.id);
    return { type: 'split', left: halves.left, right: halves.right };
  }

  private changeReplicas(c: Cmd<'changeReplicas'>, dirty: Dirty): MetaResult {
    const d = this.planned(c);
    if ('type' in d) return d;
    const node = this.nodes.get(c.node);
    if (c.change !== 'removeReplica' || replicaOn(d, c.node) === undefined) {
      if (node === undefined) return refuse('unknown-node', `node ${c.node} is not registered`, d);
      if (node.state === 'removed') return refuse('node-removed', `node ${c.node} was removed`, d);
    }
    if (c.change === 'addLearner' && d.replicas.length >= META_REPLICAS_MAX)
      return refuse('limit', `${describeShard(d)} has ${META_REPLICAS_MAX} replicas already`, d);
    let next: ShardDescriptor;
    try {
      const step =
        c.change === 'addLearner' ? addLearner : c.change === 'promoteLearner' ? promoteLearner : removeReplica;
      next = step(d, c.node);
    } catch (e) {
      return refuse('bad-replica-change', (e as Error).message, d);
    }
    return this.storeReplicas(d, next, dirty);
  }

  /** The catch-up record (see MetaCommand): every node registered, the range kept, the epoch later. */
  private setReplicas(c: Cmd<'setReplicas'>, dirty: Dirty): MetaResult {
    const d = this.planned(c);
    if ('type' in d) return d;
    const unknown = c.replicas.find((r) => !this.nodes.has(r.node));
    if (unknown !== undefined) return refuse('unknown-node', `node ${unknown.node} is not registered`, d);
    let next: ShardDescriptor;
    try {
      next = makeDescriptor({ ...d, epoch: c.newEpoch, replicas: c.replicas });
    } catch (e) {
      return refuse('bad-replica-change', (e as Error).message, d);
    }
    return this.storeReplicas(d, next, dirty);
  }

  private storeReplicas(d: ShardDescriptor, next: ShardDescriptor, dirty: Dirty): MetaResult {
    if (d.id === this.metaGroup?.id) {
      this.metaGroup = next;
      dirty.metaGroup = true;
    } else {
      const outcome = (this.shards as ShardMap).apply(next);
      if (outcome.kind !== 'applied')
        return refuse('bad-replica-change', `the shard map refused the change (${outcome.kind})`, d);
      this.shards = outcome.map;
      dirty.shards.add(next.id);
    }
    return { type: 'replicasChanged', descriptor: next };
  }
}
