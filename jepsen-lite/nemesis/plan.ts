/**
 * The seeded nemesis schedule: a list of faults, one at a time, each with its start and end offset
 * from the start of the run (ms). Generated up front from the seed, so the same seed gives the same
 * schedule (which nodes a leader-targeted fault hits is decided when it starts).
 *
 * Invariants: entries do not overlap; every entry ends by `activeMs`; instant faults (transfer, split) have
 * endMs === startMs; a split's key is drawn here, from the seed.
 */
import type { Random } from '../../src/base';
import { nodeTargets, type NodeTarget } from './targets';
import { partitionShapes, type PartitionShape } from './partitions';
import type { PartitionMode } from '../net/grudge';
import type { CatchupVictim } from './catchup';
import { defaultSplitKeyPicker, type SplitKeyPicker } from './split-keys';
import type { MovePreference } from './move';

export const nemesisKinds = [
  'kill',
  'pause',
  'partition',
  'slow',
  'transfer',
  'membership',
  'catchup',
  'split',
  'move',
  'restart',
] as const;
/** Nemeses that `all` does not include: `hostile` (forged peer messages and client abuse, hostile/) and
 * `overload` (resource abuse at the leader, overload/) run their own attack schedules beside this plan and
 * are asked for by name. */
export const optInNemesisKinds = ['hostile', 'overload'] as const;
export type NemesisKind = (typeof nemesisKinds)[number] | (typeof optInNemesisKinds)[number];
/** The kinds this plan schedules (hostile and overload have their own schedules). */
type PlannedKind = (typeof nemesisKinds)[number];

export type FaultSpec =
  | { kind: 'kill'; target: NodeTarget }
  | { kind: 'pause'; target: NodeTarget }
  | { kind: 'partition'; shape: PartitionShape; mode: PartitionMode }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'transfer' }
  /** away: stop a node, change the membership and compact while it is away (membership-away.ts); else
   * remove a running node and re-add it. */
  | { kind: 'membership'; away: boolean }
  | { kind: 'catchup'; victim: CatchupVictim }
  /** Admin.SplitShard at `key` (a key of the workload), through the owning shard's leader (split.ts). */
  | { kind: 'split'; key: string }
  /** A replica move of a random data shard to a live node holding none (a leader move when every live node
   * holds one), or, `prefer: 'leader'`, a leader move (move.ts). */
  | { kind: 'move'; prefer: MovePreference }
  /** Graceful restarts (restart.ts): SIGTERM, exit 0, start again, caught up; every member in turn when
   * rolling, else one. */
  | { kind: 'restart'; rolling: boolean };

export interface PlannedFault {
  startMs: number;
  endMs: number;
  fault: FaultSpec;
}

export interface PlanOptions {
  kinds: readonly NemesisKind[];
  /** The fault phase: no fault starts or lasts past it. */
  activeMs: number;
  /** Quiet time before the first fault and between faults: [min, max] ms. */
  quietMs: readonly [number, number];
  /** How long a fault lasts: [min, max] ms. */
  faultMs: readonly [number, number];
  /** Restricts the partition shapes (default all). */
  partitionShapes?: readonly PartitionShape[];
  /** Restricts kill/pause targets (default all). */
  targets?: readonly NodeTarget[];
  /** Where splits cut (default: register keys; split-keys.ts). */
  splitKey?: SplitKeyPicker;
}

/** Parses `--nemesis` (comma list, `all`, or `none`). */
export function parseNemesisList(text: string): NemesisKind[] {
  const out = new Set<NemesisKind>();
  for (const raw of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (raw === 'all') nemesisKinds.forEach((k) => out.add(k));
    else if (raw === 'none') continue;
    else if ([...nemesisKinds, ...optInNemesisKinds].includes(raw as NemesisKind)) out.add(raw as NemesisKind);
    else
      throw new RangeError(
        `unknown nemesis '${raw}' (use ${[...nemesisKinds, ...optInNemesisKinds].join(', ')}, all or none)`,
      );
  }
  return [...out];
}

function faultFor(kind: PlannedKind, rng: Random, opts: PlanOptions): FaultSpec {
  const targets = opts.targets ?? nodeTargets;
  switch (kind) {
    case 'kill':
      return { kind, target: rng.pick(targets) };
    case 'pause':
      return { kind, target: rng.pick(targets) };
    case 'partition':
      return { kind, shape: rng.pick(opts.partitionShapes ?? partitionShapes), mode: rng.chance(0.5) ? 'cut' : 'hold' };
    case 'slow':
      return { kind, delayMs: rng.int(20, 200) };
    case 'transfer':
      return { kind };
    case 'membership':
      return { kind, away: rng.chance(0.5) };
    case 'catchup':
      return { kind, victim: rng.chance(0.5) ? 'follower' : 'leader' };
    case 'split':
      return { kind, key: (opts.splitKey ?? defaultSplitKeyPicker)(rng) };
    case 'move':
      return { kind, prefer: rng.chance(0.25) ? 'leader' : 'replica' };
    case 'restart':
      return { kind, rolling: rng.chance(0.5) };
  }
}

/** Faults that are one step, with nothing to undo. */
const instant = (f: FaultSpec): boolean => f.kind === 'transfer' || f.kind === 'split' || f.kind === 'move';

export function planFaults(rng: Random, opts: PlanOptions): PlannedFault[] {
  const out: PlannedFault[] = [];
  const kinds = opts.kinds.filter((k): k is PlannedKind => (nemesisKinds as readonly string[]).includes(k));
  if (kinds.length === 0) return out;
  let t = rng.int(opts.quietMs[0], opts.quietMs[1]);
  while (t < opts.activeMs) {
    const fault = faultFor(rng.pick(kinds), rng, opts);
    const dur = instant(fault) ? 0 : rng.int(opts.faultMs[0], opts.faultMs[1]);
    const end = Math.min(t + dur, opts.activeMs);
    if (!instant(fault) && end - t < opts.faultMs[0] / 2) break;
    out.push({ startMs: t, endMs: end, fault });
    t = end + rng.int(opts.quietMs[0], opts.quietMs[1]);
  }
  return out;
}

export function describeFault(f: FaultSpec): string {
  switch (f.kind) {
    case 'kill':
    case 'pause':
      return `${f.kind} ${f.target}`;
    case 'partition':
      return `partition ${f.shape} (${f.mode})`;
    case 'slow':
      return `slow +${f.delayMs}ms`;
    case 'transfer':
      return 'transfer leader';
    case 'membership':
      return f.away ? 'stop a node, remove it, compact, bring it back and re-add it' : 'remove and re-add a node';
    case 'catchup':
      return `catch-up by snapshot, then kill the ${f.victim} mid-stream`;
    case 'split':
      return `split at ${f.key}`;
    case 'move':
      return f.prefer === 'leader' ? "move a shard's leader" : "move a shard's replica";
    case 'restart':
      return f.rolling ? 'rolling restart of every node (SIGTERM)' : 'graceful restart of one node (SIGTERM)';
  }
}
