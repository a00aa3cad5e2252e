/**
 * What a follower (or a candidate that learns of the leader) does with the leader's AppendEntries,
 * heartbeats and snapshots. Acks go out only after persistence (RaftState.send routes them).
 * Invariants: never truncates a committed entry; commit never moves backwards; an accepted append is
 * acknowledged with the index of its last entry (which then matches the leader's log).
 */
import { cloneConfig } from './membership';
import type { RaftState } from './raft-state';
import { TERM_UNAVAILABLE } from './raft-log';
import type { Message } from './types';

export function handleAppend(s: RaftState, m: Message & { type: 'append' }): void {
  const log = s.log;
  if (m.prevLogIndex < log.committed) {
    s.send({
      type: 'appendResp',
      from: s.id,
      to: m.from,
      term: s.term,
      reject: false,
      index: log.committed,
      rejectHint: 0,
      hintTerm: 0,
    });
    return;
  }
  const lastNew = log.maybeAppend(m.prevLogIndex, m.prevLogTerm, m.entries);
  if (log.truncatedFrom > 0) dropStaleAcks(s, log.truncatedFrom);
  if (lastNew >= 0) {
    log.commitTo(Math.min(m.commit, lastNew));
    s.send({
      type: 'appendResp',
      from: s.id,
      to: m.from,
      term: s.term,
      reject: false,
      index: lastNew,
      rejectHint: 0,
      hintTerm: 0,
    });
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
    s.send({
      type: 'appendResp',
      from: s.id,
      to: m.from,
      term: s.term,
      reject: false,
      index: log.committed,
      rejectHint: 0,
      hintTerm: 0,
    });
    return;
  }
  if (log.matchTerm(meta.index, meta.term)) {
    // We already hold the snapshot's last entry: just fast-forward the commit index.
    log.commitTo(meta.index);
    s.send({
      type: 'appendResp',
      from: s.id,
      to: m.from,
      term: s.term,
      reject: false,
      index: log.committed,
      rejectHint: 0,
      hintTerm: 0,
    });
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
