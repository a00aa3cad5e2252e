/**
 * Runs one seed: draw the fault mix, build the cluster, run the safety phase (faults on, checkers after
 * every event), then the liveness phase (heal everything, restart crashed nodes, finish the pending
 * client operations, converge every member) within a tick budget, then the final state checks.
 * Returns a SeedResult; never throws for a failure of the system under test.
 */
import { InvariantError, Random } from '../../src/base';
import type { RaftConfig } from '../../src/raft';
import { Cluster } from './cluster';
import type { CoreFactory } from './core-factory';
import { defaultConfig, raftCoreFactory } from './core-factory';
import type { FaultMix, Profile } from './fault-mix';
import { describeFaultMix, drawFaultMix } from './fault-mix';
import { SimFailure } from './sim-failure';
import { Trace } from './trace';

export type UnsafeSwitch = keyof NonNullable<RaftConfig['unsafe']>;

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
      unsafe: opts.unsafe ? { [opts.unsafe]: true } : undefined,
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

/** The members a converged cluster must include: the leader's voters and learners. */
function membersOf(cluster: Cluster): number[] | null {
  const leader = cluster.leader();
  if (!leader?.core) return null;
  const cfg = leader.core.status().config;
  return [...cfg.voters, ...cfg.learners, ...cfg.votersOutgoing];
}

function livenessReached(cluster: Cluster): boolean {
  if (cluster.workload.pendingOps() > 0) return false;
  const leader = cluster.leader();
  const members = membersOf(cluster);
  if (!leader?.sm || !members) return false;
  const target = leader.commit;
  if (leader.sm.applied !== target || target === 0) return false;
  // A new leader's commit index may still lag what an earlier leader committed (and acknowledged): it catches
  // up only once an entry of its own term commits. Until then the cluster has not converged (seed 20133309).
  if (target < cluster.checkers.globalCommit) return false;
  for (const id of members) {
    const n = cluster.members[id - 1];
    if (!n?.sm || n.sm.applied !== target) return false;
  }
  return true;
}

function livenessReport(cluster: Cluster): string {
  const leader = cluster.leader();
  const nodes = cluster.members
    .map((n) => `n${n.id}:${n.alive ? n.role : 'down'}/t${n.term}/c${n.commit}/a${n.sm?.applied ?? '-'}`)
    .join(' ');
  return `not converged after the liveness budget: leader ${leader ? `n${leader.id}` : 'none'}, members ${JSON.stringify(membersOf(cluster))}, pending client ops ${cluster.workload.pendingOps()}; ${nodes}`;
}

/** After convergence: every member's state equals the canonical model, and holds every acknowledged write. */
function finalChecks(cluster: Cluster): void {
  const model = cluster.checkers.model;
  for (const id of membersOf(cluster) ?? []) {
    const n = cluster.members[id - 1]!;
    const sm = n.sm!;
    if (sm.applied > model.length)
      throw new SimFailure('final-state', `n${id} applied ${sm.applied} beyond canonical ${model.length}`);
    const want = model.fingerprintAt(sm.applied);
    const got = sm.fingerprint();
    if (want !== got)
      throw new SimFailure('final-state', `n${id} state ${got} differs from the model ${want} at ${sm.applied}`);
    for (const a of cluster.checkers.linearizability.acked) {
      if (!sm.results.has(a.op))
        throw new SimFailure('acked-write-lost', `n${id} does not hold acknowledged write #${a.op} (index ${a.index})`);
    }
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
  };
}
