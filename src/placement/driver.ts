/**
 * The placement driver (issue 10, "The placement driver"): on the meta shard's leader only, every round
 * (placementIntervalMs) it
 * 1. polls every registered node that is not removed for its report (Raft.Placement `report`, in parallel,
 *    at most POLL_CONCURRENCY at once, each within a timeout shorter than the round), and records each
 *    answer as that node's heartbeat in a LivenessTable (meta/liveness.ts: the receiver's clock; a node
 *    that does not answer is not heard; a new meta leader starts a fresh table, so it declares a node dead
 *    only after a full deadNodeTimeoutMs of its own silence);
 * 2. builds the planner's ClusterSnapshot from the registry, the liveness table, the reports and the meta
 *    shard's descriptors (view.ts says which source wins), with the actions it has in flight, and marks
 *    the learners behind for longer than learnerStallMs as stalled (learner-stalls.ts: the planner removes
 *    them and places their replacement on another node when it can);
 * 3. runs the pure planner (shard/placement planPlacement) and issues each action to the shard's leader
 *    (Raft.Placement `act`; itself: directly), without waiting for it: an action stays in flight, and is
 *    given to the planner as such, until it settled AND a later round's reports were asked for after that
 *    (so a change that just finished is never planned twice from reports older than it). The planner
 *    allows one membership change per shard in flight; at most ACTIONS_IN_FLIGHT_MAX actions run at once, and
 *    at most ACTIONS_PER_LEADER_MAX at one node (well under the RPC's calls per peer, so a node busy with
 *    long promotions still answers its reports and is never taken for dead because of the driver's own load).
 *    Every action is logged with its reason and counted in tessera_placement_actions_total{kind,cause,outcome}
 *    (outcome ok, failed, timeout); a failed one is simply planned again from the next round's reports;
 * 4. brings the meta shard's descriptors up to date with the leaders' reports where that is safe
 *    (recordMembership): one changeReplicas step per shard per round, best effort.
 * lastView() is the last round's picture (Admin ListNodes / ListShards, `node remove` checks); null while
 * this node does not lead the meta shard.
 * Rounds stretch while the cluster is quiet (every node answered, nothing issued, in flight, collected or
 * recorded, the registry unchanged): each quiet round doubles the wait, up to QUIET_STRETCH_MAX times the
 * interval but never past a tenth of the dead-node timeout or a quarter of the suspect time (so a live
 * node's last answer stays far younger than either); any other round goes back to the interval. An idle
 * cluster of 1,000 shards then builds, sends and plans over its reports a few times less often.
 */
import { TesseraError, type NodeId, type ShardId } from '../base';
import { LivenessTable, checkHeartbeat, type MetaCommand, type MetaResult, type NodeRecord } from '../meta';
import type { Logger, NodeMetrics } from '../obs';
import { defaultPlacementConfig, planPlacement, type PlacementAction, type PlacementConfig } from '../shard';
import type { ShardDescriptor } from '../shard';
import { buildSnapshot, type DriverView, type RegistryNode } from './view';
import { findStaleReplicas } from './stale-replicas';
import {
  decodeActAnswer,
  decodeGcAnswer,
  decodeReport,
  encodeRequest,
  type ActAnswer,
  type ActRequest,
  type NodeReport,
} from './wire';
import { LearnerStalls } from './learner-stalls';
import { recordMembership } from './meta-record';

/** A quiet round's wait grows to at most this many intervals (see the header). */
export const QUIET_STRETCH_MAX = 4;
/** Reports asked for at once. */
export const POLL_CONCURRENCY = 32;
/** Actions running at once (all shards together). */
export const ACTIONS_IN_FLIGHT_MAX = 64;
/** Actions running at one shard leader at once (PLACEMENT_CONCURRENT_MAX calls per peer is the RPC's bound). */
export const ACTIONS_PER_LEADER_MAX = 16;
/** Longest an action may take: a promotion waits for the learner to catch up (a snapshot). */
export const ACTION_TIMEOUT_MS = 5 * 60_000;
/** Stale replicas asked to go per round, and how long before the same one is asked again. */
export const GC_PER_ROUND_MAX = 16;
export const GC_RETRY_MS = 10_000;

/** The meta shard as the driver reads and writes it (on the node that leads it). */
export interface DriverMeta {
  isLeader(): boolean;
  clusterId(): string | null;
  /** The node registry (removed nodes included); [] when not readable. */
  registry(): RegistryNode[];
  /** Data shards' descriptors and the meta group's; [] when not readable. */
  descriptors(): ShardDescriptor[];
  readonly groupId: number;
  /** Applies a command on this node as the meta leader; absent: the meta shard's descriptors are not kept current. */
  apply?(command: MetaCommand, timeoutMs: number): Promise<MetaResult>;
}

export interface PlacementDriverDeps {
  self: NodeId;
  meta: DriverMeta;
  /** This node's own report and actions (no call to itself). */
  local: {
    report(): NodeReport;
    act(a: ActRequest, timeoutMs: number): Promise<ActAnswer>;
    /** Destroys this node's stale replica (stale-replicas.ts); absent: not done here. */
    gc?(shard: ShardId, appliedMax: number): string;
  };
  /** Raft.Placement to a peer (Transport.placement). */
  call(to: NodeId, body: Buffer, timeoutMs: number): Promise<Buffer>;
  /** Makes sure the transport can dial `id` (a registered node it has no link to yet). */
  ensurePeer(id: NodeId, address: string): void;
  config: {
    replicas: number;
    deadNodeTimeoutMs: number;
    intervalMs: number;
    actionTimeoutMs?: number;
    /** A learner behind for longer is removed and replaced elsewhere (learner-stalls.ts; default 2 min). */
    learnerStallMs?: number;
    /** false (--balance-leaders false): no leadership moves for balance alone (drains and removals still move leaders). */
    balanceLeaders?: boolean;
  };
  /** Monotonic ms (liveness, timeouts) and wall ms (the view's time). */
  clock: { now(): number; wall(): number };
  logger: Logger;
  metrics: NodeMetrics;
}

interface Tracked {
  readonly action: PlacementAction;
  doneMs: number | null;
}

export class PlacementDriver {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** The wait before the next round (see the header) and the registry the last round saw. */
  private delayMs: number;
  private lastRegistry = '';
  private liveness: LivenessTable | null = null;
  private view: DriverView | null = null;
  private readonly inFlight = new Map<number, Tracked[]>();
  private readonly pending = new Set<Promise<void>>();
  /** Actions running, by the node carrying them out. */
  private readonly pendingAt = new Map<NodeId, number>();
  private readonly blockedLogged = new Map<number, string>();
  /** Stale replicas asked to go, by "shard@node", with when (collectGarbage asks again only after a while). */
  private readonly gcAsked = new Map<string, number>();
  private readonly plannerConfig: PlacementConfig;
  private readonly stalls: LearnerStalls;

  constructor(private readonly d: PlacementDriverDeps) {
    this.plannerConfig = {
      ...defaultPlacementConfig,
      replicas: d.config.replicas,
      deadNodeTimeoutMs: d.config.deadNodeTimeoutMs,
      suspectAfterMs: Math.min(10_000, d.config.deadNodeTimeoutMs),
      leaderBalanceIgnores: [d.meta.groupId],
    };
    this.stalls = new LearnerStalls(d.config.learnerStallMs);
    this.delayMs = d.config.intervalMs;
  }

  start(): void {
    if (this.timer !== null) return;
    this.delayMs = this.d.config.intervalMs;
    this.schedule();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** The wait before the next round now (tests, metrics). */
  nextRoundMs(): number {
    return this.delayMs;
  }

  private schedule(): void {
    const timer = setTimeout(() => {
      void this.round().finally(() => {
        // Only the current chain goes on: after stop() (and a start() while this round ran) it ends here.
        if (this.timer === timer) this.schedule();
      });
    }, this.delayMs);
    timer.unref();
    this.timer = timer;
  }

  /** After a round: back to the interval, or (quiet) double the wait up to its cap (see the header). */
  private pace(quiet: boolean): void {
    const base = this.d.config.intervalMs;
    const cap = Math.min(
      base * QUIET_STRETCH_MAX,
      this.plannerConfig.deadNodeTimeoutMs / 10,
      this.plannerConfig.suspectAfterMs / 4,
    );
    this.delayMs = quiet ? Math.max(base, Math.min(this.delayMs * 2, cap)) : base;
  }

  /** The last round's picture of the cluster; null while this node does not lead the meta shard. */
  lastView(): DriverView | null {
    return this.view;
  }

  /** Resolves when every action issued so far settled (tests). */
  async whenIdle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Actions issued and not yet dropped from the planner's in-flight list. */
  actionsInFlight(): PlacementAction[] {
    return [...this.inFlight.values()].flat().map((t) => t.action);
  }

  /** One round (see the header); the timer runs it, tests call it. Never throws. */
  async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      this.pace(await this.roundNow());
    } catch (e) {
      this.pace(false);
      this.d.logger.warn({ err: (e as Error).message }, 'placement: round failed');
    } finally {
      this.running = false;
    }
  }

  /** One round; true when it was quiet (see the header). */
  private async roundNow(): Promise<boolean> {
    const { meta, clock } = this.d;
    if (!meta.isLeader()) {
      if (this.liveness !== null) this.d.logger.info({}, 'placement: no longer the meta leader; driver idle');
      this.liveness = null;
      this.view = null;
      this.lastRegistry = '';
      return false;
    }
    if (this.liveness === null) {
      this.liveness = new LivenessTable(clock.now());
      this.d.logger.info({}, 'placement: leading the meta shard; driver active');
    }
    const liveness = this.liveness;
    const registry = meta.registry();
    const polledAt = clock.now();
    const reports = await this.poll(registry, liveness);
    // Polling takes a while: a node deposed meanwhile plans nothing (the new leader's driver does).
    if (!meta.isLeader()) return false;
    const registryNow = registry.map((n) => `${n.id}:${n.state}:${n.address}`).join(',');
    let quiet =
      registryNow === this.lastRegistry && reports.size === registry.filter((n) => n.state !== 'removed').length;
    this.lastRegistry = registryNow;
    const descriptors = meta.descriptors();
    const built = buildSnapshot(
      {
        nowMs: clock.now(),
        registry,
        heardMs: (id) => liveness.of(id).lastHeartbeatMs,
        heard: (id) => liveness.of(id).heard,
        reports,
        metaDescriptors: descriptors,
        metaGroupId: meta.groupId,
        metaEpoch: descriptors.find((x) => x.id === meta.groupId)?.epoch ?? null,
        inFlight: (shard) => this.tracked(shard, polledAt),
      },
      clock.wall(),
    );
    const view = built.view;
    const snapshot = this.stalls.mark(built.snapshot, clock.now(), this.plannerConfig.caughtUpLagEntriesMax);
    this.view = view;
    this.prune(polledAt);
    const plan = planPlacement(snapshot, this.plannerConfig);
    this.logBlocked(plan.blocked);
    const leaders = new Map(snapshot.status.map((s) => [s.shard as number, s.leader]));
    for (const a of plan.actions) {
      if (this.pending.size >= ACTIONS_IN_FLIGHT_MAX) break;
      if (a.cause === 'rebalance-leaders' && this.d.config.balanceLeaders === false) continue;
      quiet = false; // an action to take (now, or once its shard has a leader or its node a free slot)
      const leader = leaders.get(a.shard);
      if (leader === undefined || (this.pendingAt.get(leader) ?? 0) >= ACTIONS_PER_LEADER_MAX) continue;
      this.issue(a, leader, reports, registry);
    }
    if (this.collectGarbage(reports) > 0) quiet = false;
    if (meta.apply !== undefined) {
      const recorded = await recordMembership(meta.apply.bind(meta), snapshot.shards, descriptors, meta.groupId, {
        timeoutMs: this.d.config.intervalMs,
        logger: this.d.logger,
      });
      if (recorded > 0) quiet = false;
    }
    return quiet && this.pending.size === 0 && this.inFlight.size === 0;
  }

  /**
   * Asks the nodes holding stale replicas (stale-replicas.ts) to destroy them: at most GC_PER_ROUND_MAX a
   * round, each again only after GC_RETRY_MS; without waiting; every request and answer logged and counted.
   */
  private collectGarbage(reports: ReadonlyMap<NodeId, NodeReport>): number {
    const now = this.d.clock.now();
    for (const [k, at] of this.gcAsked) if (now - at > GC_RETRY_MS) this.gcAsked.delete(k);
    let asked = 0;
    for (const st of findStaleReplicas(reports)) {
      const key = `${st.shard}@${st.node}`;
      if (asked >= GC_PER_ROUND_MAX || this.gcAsked.has(key)) continue;
      this.gcAsked.set(key, now);
      asked++;
      const count = (outcome: string): void =>
        this.d.metrics.placementActions.inc({ kind: 'destroyStale', cause: 'stale-replica', outcome });
      const done = (answer: string): void => {
        count(answer === 'destroying' ? 'ok' : 'refused');
        this.d.logger.info(
          { shard: st.shard, node: st.node, appliedMax: st.appliedMax, answer },
          'placement: stale replica',
        );
      };
      const failed = (e: unknown): void => {
        count('failed');
        this.d.logger.warn({ shard: st.shard, node: st.node, err: (e as Error).message }, 'placement: stale replica');
      };
      if (st.node === this.d.self) {
        if (this.d.local.gc === undefined) continue;
        try {
          done(this.d.local.gc(st.shard, st.appliedMax));
        } catch (e) {
          failed(e);
        }
        continue;
      }
      const body = encodeRequest({ type: 'gc', shard: st.shard, appliedMax: st.appliedMax });
      this.d.call(st.node, body, Math.max(100, this.d.config.intervalMs)).then((b) => done(decodeGcAnswer(b)), failed);
    }
    return asked;
  }

  /** Asks every registered node that is not removed for its report; records each answer's heartbeat. */
  private async poll(registry: readonly RegistryNode[], liveness: LivenessTable): Promise<Map<NodeId, NodeReport>> {
    const reports = new Map<NodeId, NodeReport>();
    const queue = registry.filter((n) => n.state !== 'removed');
    const timeoutMs = Math.max(20, Math.floor(this.d.config.intervalMs * 0.8));
    const records = new Map(registry.map((n) => [n.id, n]));
    const lookup = {
      clusterId: this.d.meta.clusterId(),
      node: (id: NodeId): NodeRecord | undefined => {
        const n = records.get(id);
        return n && { ...n, peerAddress: n.peerAddress ?? null, registeredAtMs: null, stateSinceMs: null };
      },
    };
    const one = async (n: RegistryNode): Promise<void> => {
      try {
        const report = await this.reportOf(n, timeoutMs);
        if (report.nodeId !== n.id) throw new TesseraError('UNAVAILABLE', `node ${n.id} reported as ${report.nodeId}`);
        const heartbeat = checkHeartbeat({
          nodeId: report.nodeId,
          clusterId: report.clusterId,
          sentAtMs: report.sentAtMs,
          replicas: report.groups.length,
          leaders: report.groups.filter((g) => g.isLeader).length,
        });
        liveness.record(heartbeat, this.d.clock.now(), lookup);
        reports.set(n.id, report);
      } catch (e) {
        this.d.logger.debug({ node: n.id, err: (e as Error).message }, 'placement: no report');
      }
    };
    const workers = Array.from({ length: Math.min(POLL_CONCURRENCY, queue.length) }, async () => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift()) await one(n);
    });
    await Promise.all(workers);
    liveness.prune(lookup);
    return reports;
  }

  private async reportOf(n: RegistryNode, timeoutMs: number): Promise<NodeReport> {
    if (n.id === this.d.self) return this.d.local.report();
    this.d.ensurePeer(n.id, n.peerAddress ?? n.address);
    return decodeReport(await this.d.call(n.id, encodeRequest({ type: 'report' }), timeoutMs));
  }

  /** The actions of `shard` the planner must see as in flight (see the header, step 3). */
  private tracked(shard: ShardId, polledAt: number): PlacementAction[] {
    return (this.inFlight.get(shard) ?? [])
      .filter((t) => t.doneMs === null || t.doneMs >= polledAt)
      .map((t) => t.action);
  }

  private prune(polledAt: number): void {
    for (const [shard, list] of this.inFlight) {
      const left = list.filter((t) => t.doneMs === null || t.doneMs >= polledAt);
      if (left.length === 0) this.inFlight.delete(shard);
      else this.inFlight.set(shard, left);
    }
  }

  private logBlocked(blocked: readonly { shard: ShardId; reason: string }[]): void {
    const now = new Map(blocked.map((b) => [b.shard as number, b.reason]));
    for (const [shard, reason] of now)
      if (this.blockedLogged.get(shard) !== reason) this.d.logger.warn({ shard, reason }, 'placement: shard blocked');
    this.blockedLogged.clear();
    for (const [shard, reason] of now) this.blockedLogged.set(shard, reason);
  }

  /** Starts one action at the shard's leader (see the header, step 3). */
  private issue(
    a: PlacementAction,
    leader: NodeId,
    reports: ReadonlyMap<NodeId, NodeReport>,
    registry: readonly RegistryNode[],
  ): void {
    const node = a.kind === 'transferLeader' ? a.to : a.node;
    const target = reports.get(node);
    const record = registry.find((n) => n.id === node);
    const registered = record?.address ?? '';
    const request: ActRequest = {
      shard: a.shard,
      epoch: a.epoch,
      kind: a.kind,
      node,
      client: a.kind === 'addLearner' ? target?.client || registered : '',
      peer: a.kind === 'addLearner' ? target?.peer || record?.peerAddress || target?.client || registered : '',
    };
    if (a.cause === 'stalled-learner') this.stalls.noteRemoved(a.shard, node, this.d.clock.now());
    const t: Tracked = { action: a, doneMs: null };
    this.inFlight.set(a.shard, [...(this.inFlight.get(a.shard) ?? []), t]);
    const timeoutMs = this.d.config.actionTimeoutMs ?? ACTION_TIMEOUT_MS;
    this.d.logger.info({ shard: a.shard, kind: a.kind, node, at: leader, reason: a.reason }, 'placement: action');
    const started =
      leader === this.d.self
        ? this.d.local.act(request, timeoutMs)
        : this.d.call(leader, encodeRequest({ type: 'act', ...request }), timeoutMs).then(decodeActAnswer);
    const done: Promise<void> = withTimeout(started, timeoutMs + 1000)
      .then(
        () => this.settled(a, 'ok', null),
        (e: unknown) => this.settled(a, isTimeout(e) ? 'timeout' : 'failed', e),
      )
      .finally(() => {
        t.doneMs = this.d.clock.now();
        this.pending.delete(done);
        const left = (this.pendingAt.get(leader) ?? 1) - 1;
        if (left > 0) this.pendingAt.set(leader, left);
        else this.pendingAt.delete(leader);
      });
    this.pending.add(done);
    this.pendingAt.set(leader, (this.pendingAt.get(leader) ?? 0) + 1);
  }

  private settled(a: PlacementAction, outcome: 'ok' | 'failed' | 'timeout', e: unknown): void {
    this.d.metrics.placementActions.inc({ kind: a.kind, cause: a.cause, outcome });
    const fields = { shard: a.shard, kind: a.kind, cause: a.cause, reason: a.reason };
    if (outcome === 'ok') this.d.logger.info(fields, 'placement: action done');
    else this.d.logger.warn({ ...fields, outcome, err: (e as Error)?.message }, 'placement: action not done');
  }
}

function isTimeout(e: unknown): boolean {
  return e instanceof TesseraError && e.code === 'DEADLINE_EXCEEDED';
}

/** `p`, or DEADLINE_EXCEEDED after `ms` (a local action that hangs must not stay in flight forever). */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TesseraError('DEADLINE_EXCEEDED', `no outcome within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
