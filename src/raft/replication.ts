/**
 * Leader-side replication: sending AppendEntries / heartbeats / snapshots according to each follower's
 * Progress, and advancing the commit index (only entries of the current term are committed by counting,
 * Raft 5.4.2 / figure 8). Called only while role === 'leader'.
 */
import { assert } from '../base';
import type { NodeId } from '../base';
import { committedIndex, voteResult, type IndexSource } from './quorum';
import type { RaftState } from './raft-state';
import { TERM_UNAVAILABLE, entryBytes } from './raft-log';
import type { Index } from './types';

/**
 * Sends the next append to `to` if its progress allows; a follower whose next entries were compacted
 * gets a snapshot instead. Returns true when something was sent (or a snapshot was queued).
 */
export function sendAppend(s: RaftState, to: NodeId, sendIfEmpty: boolean): boolean {
  const pr = s.progress.get(to);
  if (pr === undefined || to === s.id || pr.isPaused()) return false;
  const log = s.log;
  const prevIndex = pr.next - 1;
  const prevTerm = log.term(prevIndex);
  if (prevTerm === TERM_UNAVAILABLE) {
    assert(
      prevIndex < log.snapshotIndex,
      () => `replication: next ${pr.next} beyond last ${log.lastIndex()} for ${to}`,
    );
    // The entries this follower needs are compacted. Don't waste a snapshot on an unreachable peer.
    if (!pr.recentActive) return false;
    pr.becomeSnapshot(log.applied);
    s.snapshotSends.push(to);
    return true;
  }
  const last = log.lastIndex();
  const entries = log.slice(pr.next, last + 1, s.cfg.appendBytesMax);
  if (entries.length === 0 && !sendIfEmpty) return false;
  const commit = log.committed;
  s.send({
    type: 'append',
    from: s.id,
    to,
    term: s.term,
    prevLogIndex: prevIndex,
    prevLogTerm: prevTerm,
    entries,
    commit,
  });
  let bytes = 0;
  for (const e of entries) bytes += entryBytes(e);
  pr.sentEntries(entries.length, prevIndex + entries.length, bytes);
  if (commit > pr.sentCommit) pr.sentCommit = commit;
  return true;
}

/** Sends appends (possibly empty, to carry the commit index) to every follower. */
export function bcastAppend(s: RaftState): void {
  for (const id of s.progress.keys()) if (id !== s.id) sendAppend(s, id, true);
}

/** Heartbeats to every follower; `context` is a ReadIndex round (0 = none). */
export function bcastHeartbeat(s: RaftState, context: number): void {
  const committed = s.log.committed;
  for (const [id, pr] of s.progress) {
    if (id === s.id) continue;
    // Never tell a follower to commit beyond what it is known to hold.
    const commit = pr.match < committed ? pr.match : committed;
    s.send({ type: 'heartbeat', from: s.id, to: id, term: s.term, commit, context });
    if (commit > pr.sentCommit) pr.sentCommit = commit;
  }
}

const matchSource = {
  s: null as RaftState | null,
  indexOf(id: NodeId): Index {
    const pr = (this.s as RaftState).progress.get(id);
    return pr === undefined ? 0 : pr.match;
  },
} satisfies IndexSource & { s: RaftState | null };

/** The index a quorum of voters has persisted. */
export function quorumMatch(s: RaftState): Index {
  matchSource.s = s;
  const mci = committedIndex(s.config, matchSource);
  matchSource.s = null;
  return mci === Infinity ? 0 : mci;
}

/**
 * Advances the commit index to what a quorum has persisted, if that entry is of the current term.
 * Returns true when the commit index moved.
 */
export function maybeCommit(s: RaftState): boolean {
  const mci = quorumMatch(s);
  const log = s.log;
  if (mci <= log.committed) return false;
  if (!s.commitOldTermByCount && log.term(mci) !== s.term) return false;
  log.commitTo(mci);
  return true;
}

/** Is a quorum of voters recently active? (CheckQuorum; the leader counts itself.) */
export function quorumActive(s: RaftState): boolean {
  const active = new Map<NodeId, boolean>();
  for (const [id, pr] of s.progress) active.set(id, id === s.id || pr.recentActive);
  return voteResult(s.config, active) === 'won';
}

export function sendTimeoutNow(s: RaftState, to: NodeId): void {
  s.send({ type: 'timeoutNow', from: s.id, to, term: s.term });
}
