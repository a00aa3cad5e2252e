/**
 * A split of a simulated group's state (the `splits` fault mix; kv/split-apply.ts is the real one): the
 * real refuseSplit decides (epoch, range, right-hand id), the parent keeps [start, splitKey) at the new
 * epoch, and the right-hand state gets [splitKey, end) at the new epoch, the parent's keys in that range,
 * a copy of the remembered results (the session table travels with the data) and the applied index
 * SPLIT_INITIAL_INDEX, where the right-hand group's Raft log starts (split-groups.ts splitGroupRaftStart).
 * Unlike the real node, the simulated parent's keys move to the right-hand state (each state is its own
 * map; the real node shares one d/ keyspace and only narrows the range).
 */
import { SPLIT_INITIAL_INDEX, refuseSplit } from '../../src/kv/split-apply';
import type { SimCommand } from './command-codec';
import type { KvState } from './kv-model';

/** A group's range [start, end) (end null: unbounded) at an epoch. */
export interface SimRange {
  start: string;
  end: string | null;
  epoch: number;
}

export { SPLIT_INITIAL_INDEX };

type SplitCmd = Extract<SimCommand, { t: 'split' }>;

export function rangeContains(r: SimRange | null, key: string): boolean {
  return r !== null && key >= r.start && (r.end === null || key < r.end);
}

export function rangesOverlap(a: SimRange, b: SimRange): boolean {
  const aBeforeB = a.end !== null && a.end <= b.start;
  const bBeforeA = b.end !== null && b.end <= a.start;
  return !aBeforeB && !bBeforeA;
}

export function formatRange(r: SimRange | null): string {
  return r === null ? '[uninitialized]' : `[${r.start || '-inf'}, ${r.end ?? '+inf'})@${r.epoch}`;
}

/** Whether the real state machine would refuse this split of a state at `range` (refuseSplit). */
export function splitRefused(group: number, range: SimRange | null, cmd: SplitCmd): boolean {
  if (range === null) return true;
  const shard = {
    start: Buffer.from(range.start),
    end: range.end === null ? null : Buffer.from(range.end),
    epoch: range.epoch,
  };
  const real = {
    type: 'split' as const,
    splitKey: Buffer.from(cmd.k),
    epoch: cmd.epoch,
    rightGroupId: cmd.right,
    newEpoch: cmd.newEpoch,
    session: null,
  };
  return refuseSplit(group, shard, real) !== null;
}

/** Splits `parent` in place (narrowed, its right-hand keys removed); returns the right-hand state, or null if refused. */
export function splitState(parent: KvState, cmd: SplitCmd): KvState | null {
  const range = parent.range;
  if (range === null || splitRefused(parent.group, range, cmd)) return null;
  const Ctor = parent.constructor as new () => KvState;
  const right = new Ctor();
  right.group = cmd.right;
  right.applied = SPLIT_INITIAL_INDEX;
  right.range = { start: cmd.k, end: range.end, epoch: cmd.newEpoch };
  parent.range = { start: range.start, end: cmd.k, epoch: cmd.newEpoch };
  for (const [k, v] of [...parent.kv]) {
    if (k < cmd.k) continue;
    right.kv.set(k, v);
    parent.kv.delete(k);
  }
  for (const [op, r] of parent.results) right.results.set(op, r);
  return right;
}
