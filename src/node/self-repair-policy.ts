/**
 * Self-repair decisions, pure (no I/O, no clock of their own): whom to ask for a copy, when to start an
 * attempt, whether to serve a peer's request, and whether a staged copy may be installed now.
 *
 * Why a copy at index A is safe to install on a replica that applied `applied` (A <= applied): the state
 * machine is a deterministic function of the committed log prefix, and every replica's log agrees up to its
 * commit index (Log Matching), so a peer's state at A is the correct state at A. The replica installs it
 * and re-applies its own entries (A, applied] from its log, ending where it was, with good data. So it
 * needs A <= applied (the copy is not ahead of what this replica knows is committed: a copy ahead waits
 * until this replica applied that far) and A >= firstIndex - 1 (its log still holds the entries after A).
 * A leader never installs: it hands leadership over first (its waiters, reads and outgoing snapshots must
 * not see the swap), then repairs as a follower.
 */
import { NO_NODE, type NodeId } from '../base';
import type { Role } from '../raft';

export interface RepairMembers {
  self: NodeId;
  leader: NodeId;
  voters: readonly NodeId[];
  learners: readonly NodeId[];
}

/** Peers to ask, in order: the leader (its state is the newest), then the other voters, then learners. */
export function repairSources(m: RepairMembers): NodeId[] {
  const out: NodeId[] = [];
  if (m.leader !== NO_NODE && m.leader !== m.self) out.push(m.leader);
  for (const list of [m.voters, m.learners])
    for (const id of [...list].sort((a, b) => a - b)) if (id !== m.self && !out.includes(id)) out.push(id);
  return out;
}

/** The peer for attempt number `attempt` (0-based; rotates through the sources), or null if none. */
export function sourceFor(m: RepairMembers, attempt: number): NodeId | null {
  const sources = repairSources(m);
  return sources.length === 0 ? null : (sources[attempt % sources.length] as NodeId);
}

export type StartDecision = 'idle' | 'wait' | 'stepDown' | 'fetch';

/** What to do on a poll of a group: nothing, wait (backoff, a staging in the way), hand over leadership, or fetch. */
export function decideStart(s: {
  needsRepair: boolean;
  inProgress: boolean;
  role: Role;
  stagingBusy: boolean;
  nowMs: number;
  retryAtMs: number;
}): StartDecision {
  if (!s.needsRepair || s.inProgress) return 'idle';
  if (s.nowMs < s.retryAtMs) return 'wait';
  if (s.role === 'leader') return 'stepDown';
  if (s.stagingBusy) return 'wait';
  return 'fetch';
}

export type InstallDecision = { kind: 'install' } | { kind: 'wait' } | { kind: 'discard'; reason: string };

/** Whether a fully staged copy at `stagedIndex` may be installed now (see the header). */
export function decideInstall(s: {
  stagedIndex: number;
  applied: number;
  firstIndex: number;
  role: Role;
  nowMs: number;
  deadlineMs: number;
}): InstallDecision {
  if (s.stagedIndex < s.firstIndex - 1)
    return { kind: 'discard', reason: `the log starts at ${s.firstIndex}, after the copy's index ${s.stagedIndex}` };
  if (s.role !== 'leader' && s.stagedIndex <= s.applied) return { kind: 'install' };
  if (s.nowMs >= s.deadlineMs) {
    const why = s.role === 'leader' ? 'this replica is the leader' : `this replica applied only ${s.applied}`;
    return { kind: 'discard', reason: `${why}, the copy is at ${s.stagedIndex}, and its wait ran out` };
  }
  return { kind: 'wait' };
}

export type ServeDecision = { ok: true } | { ok: false; reason: string };

/** Whether this node serves `requester` a copy of its state machine. */
export function decideServe(s: {
  requester: NodeId;
  self: NodeId;
  voters: readonly NodeId[];
  learners: readonly NodeId[];
  selfNeedsRepair: boolean;
  serving: number;
  servingMax: number;
}): ServeDecision {
  if (s.requester === s.self) return { ok: false, reason: 'a repair request from this node itself' };
  if (!s.voters.includes(s.requester) && !s.learners.includes(s.requester))
    return { ok: false, reason: `node ${s.requester} is not a member of the group` };
  if (s.selfNeedsRepair) return { ok: false, reason: 'this replica needs repair itself' };
  if (s.serving >= s.servingMax) return { ok: false, reason: `already serving ${s.servingMax} repair copies` };
  return { ok: true };
}

/** Delay before the next attempt after `failures` consecutive failures: initialMs doubling, at most maxMs. */
export function retryDelayMs(failures: number, backoff: { initialMs: number; maxMs: number }): number {
  if (failures <= 0) return 0;
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(failures - 1, 30));
}
