/**
 * Runs one seed: draw the fault mix, build the cluster, run the safety phase (faults on, checkers after
 * every event), then the liveness phase (heal everything, restart crashed nodes, finish the pending
 * client operations, converge every member) within a tick budget, then the final state checks.
 * Returns a SeedResult; never throws for a failure of the system under test.
 */
import { InvariantError, Random } from '../../src/base';
import type { RaftConfig } from '../../src/raft';
import { sessionsOf } from './checkers/canonical-model';
import { Cluster } from './cluster';
import type { CoreFactory } from './core-factory';
import { defaultConfig, raftCoreFactory } from './core-factory';
import type { FaultMix, Profile } from './fault-mix';
import { describeFaultMix, drawFaultMix } from './fault-mix';
import { SimFailure } from './sim-failure';
import type { SimNode } from './sim-node';
import { checkNodeRanges } from './split-cluster';
import { Trace } from './trace';

/** The state machine's unsafe switches (kv-model.ts), canaries of the split checkers. */
export type KvUnsafeSwitch = 'splitWrongSide' | 'splitSkipSessions';
export const kvUnsafeSwitches: readonly string[] = ['splitWrongSide', 'splitSkipSessions'];
export type UnsafeSwitch = keyof NonNullable<RaftConfig['unsafe']> | KvUnsafeSwitch;

export interface SeedOptions {
  seed: number;
  profile?: Profile;
  unsafe?: UnsafeSwitch;
  /** Keep every trace event (for --trace replays) instead of the last traceTail. */
  traceAll?: boolean;
  traceEcho?: (line: string) => void;
  traceTail?: number;
  factory?: CoreFactory;
  /** Fields that replace the drawn fault mix (regressions pin the mix they failed with). */
  mixOverride?: Partial<FaultMix>;
  /** Default true; false leaves catching early acks to the end-to-end checkers (see CheckerSuite). */
  checkAckOrder?: boolean;
  baseConfig?: (id: number) => RaftConfig;
}

export interface SeedStats {
  ticks: number;
  messages: number;
  opsCompleted: number;
  readsChecked: number;
  acked: number;
  applied: number;
  leaders: number;
  crashes: number;
  partitions: number;
  membershipChanges: number;
  transfers: number;
  /** Groups at the end (1 without splits) and split commands proposed. */
  groups: number;
  splits: number;
  /** Replicas destroyed (moves: removed ones, and stale ones collected, stale-replicas.ts). */
  destroys: number;
}

export interface SeedResult {
  seed: number;
  ok: boolean;
  failure: { checker: string; message: string; stack?: string } | null;
  mix: FaultMix;
  mixText: string;
  trace: string[];
  stats: SeedStats;
  replay: string;
}

export function replayCommand(
  o: Pick<SeedOptions, 'seed' | 'profile' | 'unsafe' | 'checkAckOrder' | 'mixOverride'>,
): string {
  const mix = o.mixOverride && Object.keys(o.mixOverride).length > 0 ? ` --mix '${JSON.stringify(o.mixOverride)}'` : '';
  const extra =
    `${o.profile && o.profile !== 'standard' ? ` --profile ${o.profile}` : ''}${o.unsafe ? ` --unsafe ${o.unsafe}` : ''}` +
    `${o.checkAckOrder === false ? ' --no-ack-order-check' : ''}${mix}`;
  return `npm run sim -- --seeds 1 --from ${o.seed}${extra} --trace`;
}

export function runSeed(opts: SeedOptions): SeedResult {
  const profile = opts.profile ?? 'standard';
  const mix: FaultMix = { ...drawFaultMix(new Random(opts.seed).fork(), profile), ...opts.mixOverride };
  const trace = new Trace(opts.traceTail ?? 50, opts.traceAll ?? false, opts.traceEcho ?? null);
  let cluster: Cluster | null = null;
  let failure: SeedResult['failure'] = null;
  let ticks = 0;
  try {
    cluster = new Cluster({
      seed: opts.seed,
      mix,
      factory: opts.factory ?? raftCoreFactory,
      baseConfig: opts.baseConfig ?? defaultConfig,
      unsafe: opts.unsafe && !kvUnsafeSwitches.includes(opts.unsafe) ? { [opts.unsafe]: true } : undefined,
      kvUnsafe: opts.unsafe && kvUnsafeSwitches.includes(opts.unsafe) ? { [opts.unsafe]: true } : {},
      trace,
      checkAckOrder: opts.checkAckOrder ?? true,
    });
    for (; ticks < mix.safetyTicks; ticks++) cluster.runTick(true);
    cluster.heal();
    cluster.workload.draining = true;
    let converged = false;
    for (let t = 0; t < mix.livenessTicks; t++, ticks++) {
      cluster.runTick(false);
      if (t % 5 === 0 && livenessReached(cluster)) {
        converged = true;
        break;
      }
    }
    if (!converged) throw new SimFailure('liveness', livenessReport(cluster));
    finalChecks(cluster);
  } catch (e) {
    if (e instanceof SimFailure) failure = { checker: e.checker, message: e.message, stack: e.stack };
    else if (e instanceof InvariantError) failure = { checker: 'core-assert', message: e.message, stack: e.stack };
    else
      failure = {
        checker: 'exception',
        message: e instanceof Error ? e.message : String(e),
        stack: e instanceof Error ? e.stack : undefined,
      };
    trace.add(cluster?.now() ?? 0, `FAILURE ${failure.message}`);
  }
  return {
    seed: opts.seed,
    ok: failure === null,
    failure,
    mix,
    mixText: describeFaultMix(mix),
    trace: trace.lines(),
    stats: stats(cluster, ticks),
    replay: replayCommand({
      seed: opts.seed,
      profile,
      unsafe: opts.unsafe,
      checkAckOrder: opts.checkAckOrder,
      mixOverride: opts.mixOverride,
    }),
  };
}

/** The members a converged group must include: its leader's voters and learners. */
function membersOf(cluster: Cluster, group = 1): number[] | null {
  const leader = cluster.leaderOf(group);
  if (!leader?.core) return null;
  const cfg = leader.core.status().config;
  return [...cfg.voters, ...cfg.learners, ...cfg.votersOutgoing];
}

function livenessReached(cluster: Cluster): boolean {
  if (cluster.workload.pendingOps() > 0) return false;
  for (const g of cluster.suites.groups()) if (!groupConverged(cluster, g)) return false;
  return true;
}

function groupConverged(cluster: Cluster, group: number): boolean {
  const leader = cluster.leaderOf(group);
  const members = membersOf(cluster, group);
  if (!leader?.sm || !members) return false;
  const target = leader.commit;
  if (leader.sm.applied !== target || target === 0) return false;
  // A new leader's commit index may still lag what an earlier leader committed (and acknowledged): it catches
  // up only once an entry of its own term commits. Until then the cluster has not converged (seed 20133309).
  if (target < cluster.suites.get(group).globalCommit) return false;
  for (const id of members) {
    const n = cluster.replicaAt(id, group);
    if (!n?.sm || n.sm.applied !== target) return false;
  }
  return true;
}

function livenessReport(cluster: Cluster): string {
  const parts: string[] = [];
  for (const g of cluster.suites.groups()) {
    const leader = cluster.leaderOf(g);
    const nodes = cluster
      .replicasOf(g)
      .map((n) => `n${n.id}:${n.alive ? n.role : 'down'}/t${n.term}/c${n.commit}/a${n.sm?.applied ?? '-'}`)
      .join(' ');
    const name = g === 1 ? '' : `group ${g}: `;
    parts.push(
      `${name}leader ${leader ? `n${leader.id}` : 'none'}, members ${JSON.stringify(membersOf(cluster, g))}, pending client ops ${cluster.workload.pendingOps()}; ${nodes}`,
    );
  }
  return `not converged after the liveness budget: ${parts.join(' | ')}`;
}

/**
 * After convergence: every member's state of every group equals its canonical model and holds every write
 * acknowledged in it; with splits, the groups' ranges cover the keyspace once, and on every node the
 * replicas own disjoint ranges.
 */
function finalChecks(cluster: Cluster): void {
  for (const g of cluster.suites.groups()) {
    for (const id of membersOf(cluster, g) ?? []) finalCheckReplica(cluster, g, cluster.replicaAt(id, g)!);
  }
  if (cluster.suites.groups().length === 1) return;
  cluster.suites.checkCover();
  checkNodeRanges(cluster.members, (node, group) => membersOf(cluster, group)?.includes(node) ?? true);
}

function finalCheckReplica(cluster: Cluster, group: number, n: SimNode): void {
  const suite = cluster.suites.get(group);
  const model = suite.model;
  const sm = n.sm!;
  const id = group === 1 ? `n${n.id}` : `n${n.id} g${group}`;
  if (sm.applied > model.length)
    throw new SimFailure('final-state', `${id} applied ${sm.applied} beyond canonical ${model.length}`);
  const want = model.fingerprintAt(sm.applied);
  const got = sm.fingerprint();
  if (want !== got)
    throw new SimFailure('final-state', `${id} state ${got} differs from the model ${want} at ${sm.applied}`);
  // The session table is replicated state too (a split copies it to the right-hand group).
  if (sm.applied === model.length && sessionsOf(sm) !== model.sessionsFingerprint())
    throw new SimFailure(
      'final-state',
      `${id} session table {${sessionsOf(sm)}} differs from the model's {${model.sessionsFingerprint()}}`,
    );
  for (const a of suite.linearizability.acked) {
    if (!sm.results.has(a.op))
      throw new SimFailure('acked-write-lost', `${id} does not hold acknowledged write #${a.op} (index ${a.index})`);
  }
}

function stats(cluster: Cluster | null, ticks: number): SeedStats {
  return {
    ticks,
    messages: cluster?.network.sent ?? 0,
    opsCompleted: cluster?.workload.completed ?? 0,
    readsChecked: cluster?.checkers.linearizability.readsChecked ?? 0,
    acked: cluster?.checkers.linearizability.acked.length ?? 0,
    applied: cluster?.checkers.model.length ?? 0,
    leaders: cluster?.checkers.election.leaders() ?? 0,
    crashes: cluster?.members.reduce((s, n) => s + n.crashes, 0) ?? 0,
    partitions: cluster?.faults.partitions ?? 0,
    membershipChanges: cluster?.faults.membershipChanges ?? 0,
    transfers: cluster?.faults.transfers ?? 0,
    groups: cluster?.suites.groups().length ?? 1,
    splits: cluster?.faults.splits ?? 0,
    destroys: cluster?.members.reduce((s, p) => s + p.allReplicas().reduce((t, r) => t + r.destroys, 0), 0) ?? 0,
  };
}
