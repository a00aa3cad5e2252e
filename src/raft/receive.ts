/**
 * What a follower (or a candidate that learns of the leader) does with the leader's AppendEntries,
 * heartbeats and snapshots. Acks go out only after persistence (RaftState.send routes them).
 * Invariants: never truncates a committed entry; commit never moves backwards; an accepted append is
 * acknowledged with the index of its last entry (which then matches the leader's log).
 *
 * An uninitialized replica (no configuration, empty log, no snapshot: a node that joined, or one destroyed
 * and added to its group again) accepts no entries: it starts from a snapshot only. Replaying a group's log
 * from index 1 would rebuild neither the bootstrap configuration (not in the log) nor, on a node that also
 * hosts the groups split off this one, its keys: the parent's old writes to the right-hand range would land
 * on the right-hand replica's data. It rejects with index 0, which no initialized follower ever does (index 0
 * always matches), and the leader answers that with a snapshot (leader.ts handleAppendResp); TiKV gets the
 * same by starting every region's log at index 5.
 */
import { cloneConfig } from './membership';
import type { RaftState } from './raft-state';
import { TERM_UNAVAILABLE } from './raft-log';
import type { Message } from './types';

export function handleAppend(s: RaftState, m: Message & { type: 'append' }): void {
  const log = s.log;
  if (isUninitialized(s) && s.cfg.unsafe?.uninitializedTakesEntries !== true) {
    sendAppendResp(s, m.from, true, 0);
    return;
  }
  if (m.prevLogIndex < log.committed) {
    sendAppendResp(s, m.from, false, log.committed);
    return;
  }
  const lastNew = log.maybeAppend(m.prevLogIndex, m.prevLogTerm, m.entries);
  if (log.truncatedFrom > 0) dropStaleAcks(s, log.truncatedFrom);
  if (lastNew >= 0) {
    log.commitTo(Math.min(m.commit, lastNew));
    sendAppendResp(s, m.from, false, lastNew);
    return;
  }
  // Fast back-off (etcd-io/raft): point the leader at the last index whose term could still match.
  const hintIndex = log.findConflictByTerm(Math.min(m.prevLogIndex, log.lastIndex()), m.prevLogTerm);
  const t = log.term(hintIndex);
  s.send({
    type: 'appendResp',
    from: s.id,
    to: m.from,
    term: s.term,
    reject: true,
    index: m.prevLogIndex,
    rejectHint: hintIndex,
    hintTerm: t === TERM_UNAVAILABLE ? 0 : t,
  });
}

function sendAppendResp(s: RaftState, to: number, reject: boolean, index: number, rejectHint = 0, hintTerm = 0): void {
  s.send({ type: 'appendResp', from: s.id, to, term: s.term, reject, index, rejectHint, hintTerm });
}

/** No configuration, no log, no snapshot: a replica that must start from a snapshot (see the header). */
export function isUninitialized(s: RaftState): boolean {
  const c = s.config;
  return (
    c.voters.length === 0 &&
    c.learners.length === 0 &&
    c.votersOutgoing.length === 0 &&
    s.log.lastIndex() === 0 &&
    s.log.snapshotIndex === 0
  );
}

/**
 * Entries from `index` on were just replaced (a conflicting suffix, or the log by a snapshot): an append ack
 * still queued for persistence that covers them would claim entries this node no longer holds, and the
 * leader of that term could count it toward a commit. Drop it (a lost ack is always safe; the leader retries).
 * Only reachable when several steps land between two Readys (a host that steps while a Ready is in flight).
 */
function dropStaleAcks(s: RaftState, index: number): void {
  const queued = s.msgsAfterPersist;
  if (queued.length === 0) return;
  s.msgsAfterPersist = queued.filter((q) => q.type !== 'appendResp' || q.reject || q.index < index);
}

export function handleHeartbeat(s: RaftState, m: Message & { type: 'heartbeat' }): void {
  const log = s.log;
  log.commitTo(Math.min(m.commit, log.lastIndex()));
  s.send({ type: 'heartbeatResp', from: s.id, to: m.from, term: s.term, context: m.context });
}

export function handleSnapshot(s: RaftState, m: Message & { type: 'snapshot' }): void {
  const log = s.log;
  const meta = m.snapshot.meta;
  if (meta.index <= log.committed) {
    sendAppendResp(s, m.from, false, log.committed);
    return;
  }
  if (log.matchTerm(meta.index, meta.term)) {
    // We already hold the snapshot's last entry: just fast-forward the commit index.
    log.commitTo(meta.index);
    sendAppendResp(s, m.from, false, log.committed);
    return;
  }
  dropStaleAcks(s, log.committed + 1);
  log.restore(m.snapshot);
  s.setConfig(cloneConfig(meta.config), meta.index);
  s.send({
    type: 'appendResp',
    from: s.id,
    to: m.from,
    term: s.term,
    reject: false,
    index: log.lastIndex(),
    rejectHint: 0,
    hintTerm: 0,
  });
}
