/**
 * The per-seed fault mix: cluster size, Raft timing, network misbehaviour, which partition shapes,
 * crash points and membership/transfer actions are enabled, and the workload size. Drawn from the
 * seed's own sub-generator, so the mix is a pure function of the seed (and the profile).
 * Profiles: 'standard' for CI seeds; 'aggressive' maximizes crashes that lose unsynced data and leader
 * churn (used by the tests that prove the checkers catch the core's unsafe switches).
 */
import type { Random } from '../../src/base';
import type { CrashLossMode } from './disk';
import type { NetworkParams } from './network';

export type PartitionKind = 'halves' | 'isolateOne' | 'isolateLeader' | 'oneWay' | 'clog';
/** beforeSplitStart: after a split applied, before the right-hand group's Raft start is written (splits only). */
export type CrashPoint =
  'beforeWrite' | 'afterWrite' | 'afterSync' | 'afterSend' | 'midApply' | 'beforeAdvance' | 'idle' | 'beforeSplitStart';
export type Profile = 'standard' | 'aggressive';

export interface FaultMix {
  profile: Profile;
  nodeCount: 3 | 5;
  preVote: boolean;
  checkQuorum: boolean;
  /** RaftConfig.lazyCommit: followers learn a new commit index only from the next append or heartbeat. */
  lazyCommit: boolean;
  electionTicks: number;
  heartbeatTicks: number;
  inflightMessagesMax: number;
  appendBytesMax: number;
  uncommittedBytesMax: number;
  net: NetworkParams;
  /** Ticks between fault actions, drawn uniformly in this range. */
  faultEveryTicks: [number, number];
  partitions: PartitionKind[];
  crashes: boolean;
  crashPoints: CrashPoint[];
  crashLossMode: CrashLossMode;
  restartAfterTicks: [number, number];
  /** Probability that a crash or an isolation targets the current leader. */
  leaderBias: number;
  membership: boolean;
  transfers: boolean;
  /**
   * Unused since the simulator runs the real ready loop (it always sends messagesNow before the persist,
   * as NodeHost does); still drawn so that older seeds keep their mixes.
   */
  sendNowFirstRate: number;
  /**
   * Probability that a Ready is held after its write until the node's next tick (sim-node.ts), so steps
   * (snapshots included), proposals and reports reach the core between ready() and advance().
   */
  holdReadyRate: number;
  /**
   * The host's compaction thresholds (compaction.ts, as NodeConfig.snapshotEntries and logRetainEntries):
   * compact once the log holds more than compactEveryEntries entries, at a point logRetainEntries behind
   * the applied index.
   */
  compactEveryEntries: number;
  logRetainEntries: number;
  /**
   * Never drawn (so every seed keeps its schedule); set with --mix to simulate the byte bounds of issue 9:
   * compaction once the applied entries hold this many bytes (compaction.ts snapshotBytes; default
   * unbounded), and the leader's bound on entry bytes in flight to one follower (RaftConfig.inflightBytesMax).
   */
  snapshotBytes?: number;
  inflightBytesMax?: number;
  /** A received snapshot streams for this many ticks (drawn per stream) before the core is stepped. */
  snapshotStreamTicks: [number, number];
  /** Per tick of a snapshot stream: probability that it is cut (the sender's send fails). */
  snapshotCutRate: number;
  safetyTicks: number;
  livenessTicks: number;
  clients: number;
  opsPerClient: number;
  keys: number;
  /**
   * The nemesis proposes splits at keys of the workload's keyspace (split-replicas.ts); membership changes
   * are off meanwhile (README). Drawn last (a fifth of the standard seeds), so older seeds keep their mixes.
   */
  splits?: boolean;
  /**
   * With splits: replica moves, the membership cycle (a voter removed, re-added as a learner that catches
   * up by snapshot, promoted once caught up) on any group's leader; a replica that applies its own removal
   * is destroyed (sim-node.ts destroyReplica, with a tombstone), and one that never learns it is collected
   * (stale-replicas.ts), as the node and the placement driver do. Drawn in half of the split seeds.
   */
  moves?: boolean;
}

const allPartitions: PartitionKind[] = ['halves', 'isolateOne', 'isolateLeader', 'oneWay', 'clog'];
const allCrashPoints: CrashPoint[] = [
  'beforeWrite',
  'afterWrite',
  'afterSync',
  'afterSend',
  'midApply',
  'beforeAdvance',
  'idle',
];

function subset<T>(random: Random, items: readonly T[], p: number): T[] {
  const out = items.filter(() => random.chance(p));
  return out.length > 0 ? out : [random.pick(items)];
}

export function drawFaultMix(random: Random, profile: Profile): FaultMix {
  if (profile === 'aggressive') {
    return {
      profile,
      nodeCount: random.chance(0.5) ? 3 : 5,
      preVote: random.chance(0.5),
      checkQuorum: random.chance(0.5),
      electionTicks: 10,
      heartbeatTicks: random.int(1, 3),
      inflightMessagesMax: random.int(1, 2),
      appendBytesMax: 1,
      uncommittedBytesMax: 1 << 20,
      net: {
        dropRate: random.chance(0.5) ? 0 : 0.05,
        dupRate: 0.02,
        delayMinTicks: 1,
        delayMaxTicks: random.int(2, 6),
      },
      faultEveryTicks: [3, 25],
      partitions: subset(random, ['isolateLeader', 'halves'], 0.6),
      crashes: true,
      crashPoints: subset(random, ['beforeWrite', 'afterWrite', 'afterSend', 'idle'], 0.7),
      crashLossMode: random.chance(0.7) ? 'all' : 'prefix',
      restartAfterTicks: [1, 20],
      leaderBias: 0.8,
      membership: false,
      transfers: random.chance(0.5),
      sendNowFirstRate: 1,
      compactEveryEntries: random.int(20, 200),
      safetyTicks: 1200,
      livenessTicks: 1500,
      clients: 5,
      opsPerClient: 12,
      keys: 2,
      lazyCommit: random.chance(0.5), // drawn last: the draws above (and so older seeds' mixes) are unchanged
      holdReadyRate: random.chance(0.5) ? 0 : random.float() * 0.5, // after lazyCommit, for the same reason
      ...drawSnapshotFaults(random), // last, for the same reason
    };
  }
  const calm = random.chance(0.15);
  return {
    profile,
    nodeCount: random.chance(0.6) ? 3 : 5,
    preVote: random.chance(0.7),
    checkQuorum: random.chance(0.6),
    electionTicks: random.int(8, 14),
    heartbeatTicks: random.int(1, 3),
    inflightMessagesMax: random.int(1, 8),
    appendBytesMax: random.int(1, 4096),
    uncommittedBytesMax: random.chance(0.3) ? random.int(100, 1000) : 1 << 20,
    net: {
      dropRate: calm || random.chance(0.3) ? 0 : random.float() * 0.15,
      dupRate: random.chance(0.5) ? 0 : random.float() * 0.08,
      delayMinTicks: 1,
      delayMaxTicks: random.int(1, calm ? 2 : 6),
    },
    faultEveryTicks: calm ? [150, 300] : [15, 90],
    partitions: subset(random, allPartitions, 0.5),
    crashes: random.chance(0.8),
    crashPoints: subset(random, allCrashPoints, 0.5),
    crashLossMode: random.chance(0.5) ? 'all' : 'prefix',
    restartAfterTicks: [5, 150],
    leaderBias: 0.4,
    membership: random.chance(0.5),
    transfers: random.chance(0.5),
    sendNowFirstRate: random.float(),
    compactEveryEntries: random.int(4, 40),
    safetyTicks: random.int(500, 900),
    livenessTicks: 1500,
    clients: random.int(2, 4),
    opsPerClient: random.int(6, 16),
    keys: random.int(1, 4),
    lazyCommit: random.chance(0.5), // drawn last: the draws above (and so older seeds' mixes) are unchanged
    holdReadyRate: random.chance(0.5) ? 0 : random.float() * 0.5, // after lazyCommit, for the same reason
    ...drawSnapshotFaults(random), // last, for the same reason
    ...drawSplits(random), // after the snapshot faults, for the same reason
  };
}

/**
 * Splits in a fifth of the standard seeds, with a few more keys to split between; replica moves in half of
 * those (drawn last, so the other draws of a split seed are unchanged).
 */
function drawSplits(random: Random): Partial<FaultMix> {
  if (!random.chance(0.2)) return {};
  const keys = random.int(2, 6);
  return { splits: true, keys, moves: random.chance(0.5) };
}

/**
 * Snapshot stream faults and tiny compaction thresholds (a quarter of the seeds compact once the log holds
 * more than 1..3 entries): drawn after everything older seeds drew.
 */
function drawSnapshotFaults(
  random: Random,
): Pick<FaultMix, 'logRetainEntries' | 'snapshotStreamTicks' | 'snapshotCutRate'> & Partial<FaultMix> {
  const slow = random.chance(0.5);
  const faults = {
    logRetainEntries: random.chance(0.5) ? 0 : random.int(1, 8),
    snapshotStreamTicks: (slow ? [0, random.int(1, 6)] : [0, 0]) as [number, number],
    snapshotCutRate: slow && random.chance(0.5) ? random.float() * 0.3 : 0,
  };
  return random.chance(0.25) ? { ...faults, compactEveryEntries: random.int(1, 3) } : faults;
}

export function describeFaultMix(m: FaultMix): string {
  const net = `drop=${m.net.dropRate.toFixed(3)} dup=${m.net.dupRate.toFixed(3)} delay=${m.net.delayMinTicks}..${m.net.delayMaxTicks}`;
  const crash = m.crashes ? `crashes@${m.crashPoints.join('|')} loss=${m.crashLossMode}` : 'no-crashes';
  return [
    `profile=${m.profile} nodes=${m.nodeCount} preVote=${m.preVote} checkQuorum=${m.checkQuorum} lazyCommit=${m.lazyCommit}`,
    `election=${m.electionTicks} heartbeat=${m.heartbeatTicks} inflight=${m.inflightMessagesMax} appendBytes=${m.appendBytesMax} uncommittedBytes=${m.uncommittedBytesMax}`,
    net,
    `faults every ${m.faultEveryTicks[0]}..${m.faultEveryTicks[1]} leaderBias=${m.leaderBias} partitions=${m.partitions.join('|')}`,
    crash,
    `membership=${m.membership} transfers=${m.transfers} sendNowFirst=${m.sendNowFirstRate.toFixed(2)} holdReady=${m.holdReadyRate.toFixed(2)} compactEvery=${m.compactEveryEntries} retain=${m.logRetainEntries}`,
    `snapshotStream=${m.snapshotStreamTicks[0]}..${m.snapshotStreamTicks[1]} cut=${m.snapshotCutRate.toFixed(2)}`,
    `safety=${m.safetyTicks} liveness=${m.livenessTicks} clients=${m.clients}x${m.opsPerClient} keys=${m.keys}${m.splits ? ' splits' : ''}${m.moves ? ' moves' : ''}`,
  ].join('; ');
}
