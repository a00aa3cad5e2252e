/**
 * A fake cluster for the placement driver's tests: shards as plain records (the truth a Raft group would
 * hold), nodes that report them over the real wire encoding (src/placement/wire.ts) unless dead, and
 * actions that change the records at once, or are held, or fail, as a test says.
 */
import { TesseraError, type Epoch, type NodeId, type ShardId } from '../../../src/base';
import { createNodeMetrics, silentLogger, type NodeMetrics } from '../../../src/obs';
import {
  PlacementDriver,
  decodeRequest,
  encodeActAnswer,
  encodeGcAnswer,
  encodeReport,
  type ActAnswer,
  type ActRequest,
  type NodeReport,
  type RegistryNode,
} from '../../../src/placement';
import type { MetaCommand, MetaResult } from '../../../src/meta';
import type { NodeState, ShardDescriptor } from '../../../src/shard';

export const CLUSTER_ID = 'a'.repeat(32);

export interface FakeShard {
  id: number;
  epoch: number;
  start: string;
  end: string | null;
  leader: NodeId;
  voters: Set<NodeId>;
  learners: Set<NodeId>;
  commit: number;
}

export interface ActCall {
  at: NodeId;
  request: ActRequest;
}

export class FakeCluster {
  readonly shards = new Map<number, FakeShard>();
  readonly registry = new Map<NodeId, RegistryNode>();
  readonly dead = new Set<NodeId>();
  readonly acts: ActCall[] = [];
  readonly reportCalls: NodeId[] = [];
  /** Stale-replica destructions asked for (stale-replicas.ts). */
  readonly gcCalls: { to: NodeId; shard: number; appliedMax: number }[] = [];
  /** Replicas a node still reports though the shard's leader removed it (shard ids by node). */
  readonly stale = new Map<NodeId, number[]>();
  /** The next N actions fail (UNAVAILABLE) without changing anything. */
  failNext = 0;
  /** While set, actions change nothing and stay pending until released. */
  hold = false;
  readonly held: (() => void)[] = [];
  /** Runs when a peer is asked for its report (before it answers). */
  onReportCall: ((to: NodeId) => void) | null = null;
  metaLeader = true;
  metaDescriptors: ShardDescriptor[] = [];
  /** Set: the driver records in the meta shard through this (each command is kept in `applied`). */
  applyMeta: ((c: MetaCommand) => MetaResult) | null = null;
  readonly applied: MetaCommand[] = [];
  nowMs = 1_000_000;
  /** Nodes whose learners never catch up (match 0: a snapshot that never lands). */
  readonly neverCatchUp = new Set<NodeId>();
  readonly metrics: NodeMetrics = createNodeMetrics();

  constructor(nodes: number[]) {
    for (const id of nodes) this.registry.set(id, { id, address: `127.0.0.1:${7000 + id}`, state: 'up' });
  }

  addShard(id: number, voters: NodeId[], leader: NodeId, start = '', end: string | null = null): void {
    this.shards.set(id, { id, epoch: 1, start, end, leader, voters: new Set(voters), learners: new Set(), commit: 50 });
  }

  setState(id: NodeId, state: NodeState): void {
    this.registry.set(id, { ...this.registry.get(id)!, state });
  }

  report(node: NodeId): NodeReport {
    const match = (s: FakeShard, n: NodeId) =>
      s.leader === node && !this.dead.has(n) && !this.neverCatchUp.has(n) ? s.commit : 0;
    const groups = [...this.shards.values()]
      .filter((s) => s.voters.has(node) || s.learners.has(node) || (this.stale.get(node) ?? []).includes(s.id))
      .map((s) => ({
        id: s.id as ShardId,
        epoch: s.epoch as Epoch,
        start: Buffer.from(s.start),
        end: s.end === null ? null : Buffer.from(s.end),
        leader: s.leader,
        term: 3,
        isLeader: s.leader === node,
        commit: s.leader === node ? s.commit : 0,
        applied: s.leader === node ? s.commit : 0,
        members: [
          ...[...s.voters].map((n) => ({ node: n, voter: true, match: match(s, n) })),
          ...[...s.learners].map((n) => ({ node: n, voter: false, match: match(s, n) })),
        ],
      }));
    return { nodeId: node, clusterId: CLUSTER_ID, sentAtMs: 1, client: `c${node}:1`, peer: `p${node}:1`, groups };
  }

  async act(at: NodeId, a: ActRequest): Promise<ActAnswer> {
    this.acts.push({ at, request: a });
    const s = this.shards.get(a.shard);
    if (s === undefined || s.leader !== at) throw new TesseraError('NOT_LEADER', `node ${at} does not lead ${a.shard}`);
    if (this.failNext > 0) {
      this.failNext--;
      throw new TesseraError('UNAVAILABLE', 'injected failure');
    }
    if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
    if (a.kind === 'addLearner') s.learners.add(a.node);
    if (a.kind === 'promoteLearner') {
      s.learners.delete(a.node);
      s.voters.add(a.node);
    }
    if (a.kind === 'removeReplica') {
      s.voters.delete(a.node);
      s.learners.delete(a.node);
    }
    if (a.kind === 'transferLeader' && this.dead.has(a.node))
      throw new TesseraError('UNAVAILABLE', `node ${a.node} did not take over`);
    if (a.kind === 'transferLeader') s.leader = a.node;
    else s.epoch++;
    return { epoch: s.epoch as Epoch, members: [...s.voters].map((node) => ({ node, voter: true })) };
  }

  /** A driver running on node `self` against this cluster (fake clock: nowMs). */
  driver(
    self: NodeId,
    opts: { replicas?: number; deadNodeTimeoutMs?: number; learnerStallMs?: number } = {},
  ): PlacementDriver {
    return new PlacementDriver({
      self,
      meta: {
        groupId: 2,
        isLeader: () => this.metaLeader,
        clusterId: () => CLUSTER_ID,
        registry: () => [...this.registry.values()],
        descriptors: () => this.metaDescriptors,
        ...(this.applyMeta !== null
          ? {
              apply: async (command: MetaCommand) => {
                this.applied.push(command);
                return this.applyMeta!(command);
              },
            }
          : {}),
      },
      local: { report: () => this.report(self), act: (a) => this.act(self, a) },
      call: async (to, body) => {
        if (this.dead.has(to)) throw new TesseraError('UNAVAILABLE', `node ${to} is down`);
        const request = decodeRequest(body);
        if (request.type === 'report') {
          this.reportCalls.push(to);
          this.onReportCall?.(to);
          await Promise.resolve();
          return encodeReport(this.report(to));
        }
        if (request.type === 'gc') {
          this.gcCalls.push({ to, shard: request.shard, appliedMax: request.appliedMax });
          return encodeGcAnswer('destroying');
        }
        return encodeActAnswer(await this.act(to, request));
      },
      ensurePeer: () => undefined,
      config: {
        replicas: opts.replicas ?? 3,
        deadNodeTimeoutMs: opts.deadNodeTimeoutMs ?? 60_000,
        intervalMs: 1000,
        ...(opts.learnerStallMs !== undefined ? { learnerStallMs: opts.learnerStallMs } : {}),
      },
      clock: { now: () => this.nowMs, wall: () => 42 },
      logger: silentLogger(),
      metrics: this.metrics,
    });
  }

  /** Rounds of `driver`, `stepMs` apart, each followed by its actions settling (unless held). */
  async rounds(driver: PlacementDriver, n: number, stepMs = 1000): Promise<void> {
    for (let i = 0; i < n; i++) {
      this.nowMs += stepMs;
      await driver.round();
      if (!this.hold) await driver.whenIdle();
    }
  }

  /** `placement actions` counter value for these labels. */
  async counted(labels: Record<string, string>): Promise<number> {
    const values = (await this.metrics.placementActions.get()).values;
    return values
      .filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x))
      .reduce((sum, v) => sum + v.value, 0);
  }

  replicasOf(shard: number): { voters: NodeId[]; learners: NodeId[] } {
    const s = this.shards.get(shard)!;
    return { voters: [...s.voters].sort(), learners: [...s.learners].sort() };
  }
}
