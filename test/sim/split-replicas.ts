/**
 * The node's side of a split in the simulator (the `splits` fault mix), as NodeHost.createSplitGroup and
 * split-groups.ts do it: after the parent's replica applied a split (its state machine narrowed, split-state.ts),
 * the right-hand group's replica on that node gets the real Raft start (splitGroupRaftStart: snapshot meta
 * (SPLIT_INITIAL_INDEX, SPLIT_INITIAL_INDEX) with the parent's configuration at the split entry, hard state
 * at that term, commit there), written durably with the right-hand state as the snapshot's data, unless it has
 * state of its own already (rule 1 of kv/split-apply.ts: a snapshot reached it first). It then starts with
 * its own core and real ready loop; on the parent's leader it campaigns at once (ticked 2 x electionTicks,
 * as NodeHost does). A crash point 'beforeSplitStart' falls between the apply and the start record: the
 * restarted node re-applies the split from its log and writes the start then (the simulated state machine
 * is rebuilt from the Raft snapshot and log, where the real node finds the shard record: kvGroupsToOpen).
 * A leader's message for a group the node does not host opens an uninitialized replica (no configuration,
 * no range) that waits for a snapshot; rule 2: a snapshot whose range overlaps another initialized replica
 * on the node is refused (sim-host.ts) until that one narrowed.
 */
import type { ConfigState } from '../../src/raft';
import { splitGroupRaftStart } from '../../src/node/split-groups';
import { KvState } from './kv-model';
import { SimFailure } from './sim-failure';
import type { SimNode } from './sim-node';
import { formatRange, rangesOverlap, type SimRange } from './split-state';

const noConfig = (): ConfigState => ({ voters: [], learners: [], votersOutgoing: [] });

/** A new (not started) replica of `group` on the node of `primary`. */
function newReplica(primary: SimNode, group: number): SimNode {
  const Ctor = primary.constructor as typeof SimNode;
  const r = new Ctor(
    primary.id,
    noConfig(),
    primary.raftConfig,
    primary.random.fork(),
    primary.factory,
    primary.env,
    group,
    primary,
  );
  primary.replicas.set(group, r);
  return r;
}

/**
 * After `parent` applied a split whose right-hand state is `right` (config: the parent's configuration at
 * the split entry, configAtSplit). Returns false when the node crashed in the window before the start record.
 */
export function createSplitReplica(parent: SimNode, right: KvState, config: ConfigState): boolean {
  const primary = parent.primary;
  const env = parent.env;
  let r = primary.replicas.get(right.group);
  if (r && r.fence > 0) r.refence(); // NodeHost.createSplitGroup: a fenced replica goes back to its tombstone
  if (r?.tombstone) {
    // Destroyed here (removed, or collected) before this copy of the parent applied the split: the split
    // does not bring it back (NodeHost.createSplitGroup); only a leader that adds the node again does.
    env.trace(`n${parent.id} split: g${right.group} was destroyed here, not re-created`);
    return true;
  }
  if (r && (r.disk.snapshotIndex() > 0 || r.disk.pendingBatches > 0 || r.host?.staging)) {
    env.trace(`n${parent.id} split: g${right.group} has state of its own here, kept`);
    return true;
  }
  if (parent.crashHere('beforeSplitStart', true)) return false;
  r ??= newReplica(primary, right.group);
  const hs = r.disk.hardState();
  const stored = hs.term === 0 && hs.vote === 0 ? null : hs;
  const start = splitGroupRaftStart(right.group, config, stored);
  const state = KvState.deserialize(right.serialize());
  r.disk.write({
    hardState: start.hardState,
    entries: [],
    snapshot: { meta: start.snapshot!, data: state.serialize() },
  });
  env.onSynced(r, r.disk.sync());
  if (r.alive) r.retire();
  r.boot();
  env.trace(
    `n${parent.id} split: g${right.group} starts ${formatRange(right.range)} members ${JSON.stringify(config.voters)}`,
  );
  if (parent.role === 'leader' && r.core) for (let i = 0; i < 2 * parent.raftConfig.electionTicks; i++) r.core.tick();
  r.turn();
  return true;
}

/** A leader's message for a group this (live) node does not host: an uninitialized replica to receive it. */
export function openUninitialized(primary: SimNode, group: number): SimNode {
  const r = newReplica(primary, group);
  r.boot();
  primary.env.trace(`n${primary.id} opens an uninitialized replica of g${group}`);
  r.turn();
  return r;
}

/** The ranges of the node's initialized replicas other than `node`. */
function otherRanges(node: SimNode): { group: number; range: SimRange }[] {
  const out: { group: number; range: SimRange }[] = [];
  for (const r of node.primary.allReplicas()) {
    if (r === node || !r.sm || r.sm.range === null) continue;
    out.push({ group: r.group, range: r.sm.range });
  }
  return out;
}

/** Rule 2 of kv/split-apply.ts: the group that a snapshot with `range` would overlap on this node, if any. */
export function overlappingGroup(node: SimNode, range: SimRange | null): number | null {
  if (range === null || node.primary.replicas.size === 0) return null;
  for (const o of otherRanges(node)) if (rangesOverlap(o.range, range)) return o.group;
  return null;
}

/** The group of another replica on the node whose completely staged snapshot overlaps `range`, if any. */
export function overlappingStaged(node: SimNode, range: SimRange | null): number | null {
  if (range === null) return null;
  for (const r of node.primary.allReplicas()) {
    if (r === node) continue;
    const staged = r.host?.stagedRange() ?? null;
    if (staged !== null && rangesOverlap(staged, range)) return r.group;
  }
  return null;
}

/** Checker (after a snapshot install): no key is owned by two groups on one node. */
export function checkOwnership(node: SimNode): void {
  const range = node.sm?.range ?? null;
  const other = overlappingGroup(node, range);
  if (other === null) return;
  const theirs = node.primary.allReplicas().find((r) => r.group === other)!.sm!.range;
  throw new SimFailure(
    'split-ownership',
    `node ${node.id}: group ${node.group} ${formatRange(range)} and group ${other} ${formatRange(theirs)} own the same keys`,
  );
}
