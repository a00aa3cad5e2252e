/**
 * The leader role: becoming leader, proposals, membership changes, ReadIndex, leadership transfer, and
 * the handling of append / heartbeat responses (etcd-io/raft stepLeader).
 *
 * Invariants: the leader counts its own log toward commit only once persisted (onPersisted), unless
 * unsafe.ackBeforePersist; at most one config change is pending (pendingConfIndex > applied); no
 * proposals while a transfer is in progress; reads are answered only after the leader committed an
 * entry of its term and a quorum confirmed its leadership after the read arrived.
 */
import type { NodeId } from '../base';
import { applyChange, isLearner, isMember, isVoter, members, validateChange } from './membership';
import { Progress } from './progress';
import { isSoleVoter } from './quorum';
import { IGNORED, OK, type RaftState, type RoleHandler } from './raft-state';
import { entryBytes } from './raft-log';
import { bcastAppend, bcastHeartbeat, maybeCommit, quorumActive, sendAppend, sendTimeoutNow } from './replication';
import type {
  Entry,
  MembershipChange,
  Message,
  ProposeOutcome,
  ReadIndexOutcome,
  StepOutcome,
  TransferOutcome,
} from './types';

const UNKNOWN_SENDER: StepOutcome = { ok: false, reason: 'unknownSender' };
const READ_OK: ReadIndexOutcome = { ok: true };

export function becomeLeader(s: RaftState): void {
  s.reset(s.term);
  s.role = 'leader';
  s.leader = s.id;
  s.progress.clear();
  const last = s.log.lastIndex();
  for (const id of members(s.config)) {
    const pr = new Progress(last + 1, s.cfg.inflightMessagesMax, isLearner(s.config, id), s.cfg.inflightBytesMax);
    pr.recentActive = true;
    s.progress.set(id, pr);
  }
  let self = s.progress.get(s.id);
  if (self === undefined) {
    self = new Progress(last + 1, s.cfg.inflightMessagesMax, false);
    s.progress.set(s.id, self);
  }
  self.becomeReplicate();
  self.match = s.ackBeforePersist ? last : s.log.persisted;
  self.recentActive = true;
  // No config change until the entries of earlier terms, including any config entry, are applied.
  s.pendingConfIndex = last + 1;
  appendEntry(s, { kind: 'empty', term: s.term, index: last + 1 });
  if (s.ackBeforePersist && maybeCommit(s)) onCommitAdvanced(s);
  else bcastAppend(s);
  // A removed node elected to pass on its log (term-rules.ts) hands over at once.
  if (!isVoter(s.config, s.id)) handOver(s);
}

function appendEntry(s: RaftState, e: Entry): void {
  s.log.append(e);
  s.uncommittedBytes += entryBytes(e);
  if (s.ackBeforePersist) (s.progress.get(s.id) as Progress).maybeUpdate(e.index);
}

/** After the commit index moved: start reads that waited for a commit in this term, tell followers. */
function onCommitAdvanced(s: RaftState): void {
  if (s.log.term(s.log.committed) === s.term) {
    const deferred = s.readOnly.takeDeferred();
    for (const context of deferred) startRead(s, context);
  }
  if (s.cfg.lazyCommit === true) {
    // Only followers with entries to send hear of the new commit now (appends always carry it).
    for (const id of s.progress.keys()) if (id !== s.id) sendAppend(s, id, false);
  } else {
    bcastAppend(s);
  }
}

function appendAndReplicate(s: RaftState, e: Entry): void {
  appendEntry(s, e);
  if (s.ackBeforePersist && maybeCommit(s)) onCommitAdvanced(s);
  else bcastAppend(s);
}

export function propose(s: RaftState, data: Uint8Array): ProposeOutcome {
  if (s.transferee !== 0) return { ok: false, reason: 'transferInProgress', leader: s.id };
  if (s.uncommittedBytes > 0 && s.uncommittedBytes + data.length > s.cfg.uncommittedBytesMax) {
    return { ok: false, reason: 'tooLarge', leader: s.id };
  }
  const index = s.log.lastIndex() + 1;
  appendAndReplicate(s, { kind: 'normal', term: s.term, index, data });
  return { ok: true, index, term: s.term };
}

/** propose() for each entry in order, with one round of appends to the followers at the end. */
export function proposeBatch(s: RaftState, data: readonly Uint8Array[]): ProposeOutcome[] {
  const out: ProposeOutcome[] = [];
  let appended = false;
  for (const d of data) {
    if (s.transferee !== 0) {
      out.push({ ok: false, reason: 'transferInProgress', leader: s.id });
      continue;
    }
    if (s.uncommittedBytes > 0 && s.uncommittedBytes + d.length > s.cfg.uncommittedBytesMax) {
      out.push({ ok: false, reason: 'tooLarge', leader: s.id });
      continue;
    }
    const index = s.log.lastIndex() + 1;
    appendEntry(s, { kind: 'normal', term: s.term, index, data: d });
    out.push({ ok: true, index, term: s.term });
    appended = true;
  }
  if (!appended) return out;
  if (s.ackBeforePersist && maybeCommit(s)) {
    onCommitAdvanced(s);
  } else {
    for (const id of s.progress.keys()) {
      if (id === s.id || !sendAppend(s, id, true)) continue;
      while (sendAppend(s, id, false)) {
        // Fill the in-flight window (a batch may exceed appendBytesMax).
      }
    }
  }
  return out;
}

export function proposeMembership(s: RaftState, change: MembershipChange): ProposeOutcome {
  if (s.transferee !== 0) return { ok: false, reason: 'transferInProgress', leader: s.id };
  if (s.pendingConfIndex > s.log.applied || s.log.term(s.log.committed) !== s.term) {
    return { ok: false, reason: 'configChangePending', leader: s.id };
  }
  const invalid = validateChange(s.config, change);
  if (invalid !== null) return { ok: false, reason: invalid, leader: s.id };
  const index = s.log.lastIndex() + 1;
  const config = applyChange(s.config, change);
  appendAndReplicate(s, { kind: 'config', term: s.term, index, change, config });
  s.pendingConfIndex = index;
  return { ok: true, index, term: s.term };
}

export function readIndex(s: RaftState, context: number): ReadIndexOutcome {
  if (s.transferee !== 0) return { ok: false, reason: 'transferInProgress', leader: s.id };
  if (s.readOnly.full()) return { ok: false, reason: 'tooLarge', leader: s.id };
  // A new leader does not know the commit index of the cluster until it commits an entry of its term.
  if (s.log.term(s.log.committed) !== s.term) s.readOnly.defer(context);
  else startRead(s, context);
  return READ_OK;
}

function startRead(s: RaftState, context: number): void {
  if (isSoleVoter(s.config, s.id)) {
    s.readStates.push({ context, index: s.log.committed });
    return;
  }
  const round = s.readOnly.add(context, s.log.committed, s.id);
  if (round > 0) bcastHeartbeat(s, round);
}

export function transferLeader(s: RaftState, to: NodeId): TransferOutcome {
  if (to === s.id) return { ok: false, reason: 'isSelf', leader: s.id };
  if (!isMember(s.config, to)) return { ok: false, reason: 'unknownNode', leader: s.id };
  if (!isVoter(s.config, to)) return { ok: false, reason: 'learner', leader: s.id };
  if (s.transferee === to) return { ok: true };
  startTransfer(s, to);
  return { ok: true };
}

function startTransfer(s: RaftState, to: NodeId): void {
  s.transferee = to;
  s.electionElapsed = 0;
  const pr = s.progress.get(to) as Progress;
  if (pr.match === s.log.lastIndex()) finishTransfer(s, to);
  else sendAppend(s, to, true);
}

/** The target is caught up: tell it to campaign now. We stay leader until its higher term reaches us. */
function finishTransfer(s: RaftState, to: NodeId): void {
  sendTimeoutNow(s, to);
}

/** The transfer timed out or its target left: accept proposals again, or (handing over) pick anew. */
function abortTransfer(s: RaftState): void {
  s.transferee = 0;
  if (s.handingOver) handOver(s);
}

/**
 * The leader is no longer a voter: hand leadership to the most up-to-date voter (TimeoutNow once it is
 * caught up). A voter receiving it campaigns and its higher term makes us step down.
 */
function handOver(s: RaftState): void {
  let best: NodeId = 0;
  let bestMatch = -1;
  for (const id of s.config.voters) {
    const pr = s.progress.get(id);
    if (id === s.id || pr === undefined) continue;
    if (pr.match > bestMatch || (pr.match === bestMatch && id < best)) {
      best = id;
      bestMatch = pr.match;
    }
  }
  if (best === 0) {
    s.becomeFollower(s.term, 0);
    return;
  }
  s.handingOver = true;
  startTransfer(s, best);
}

function handleAppendResp(s: RaftState, m: Message & { type: 'appendResp' }, pr: Progress): void {
  pr.recentActive = true;
  const log = s.log;
  if (m.reject) {
    if (m.index === 0) {
      // Index 0 always matches: only an uninitialized replica rejects it (receive.ts), asking for a snapshot.
      if (pr.state !== 'snapshot' && log.applied > 0) {
        pr.becomeSnapshot(log.applied);
        s.snapshotSends.push(m.from);
      }
      return;
    }
    let next = m.rejectHint;
    if (m.hintTerm > 0) next = log.findConflictByTerm(m.rejectHint, m.hintTerm);
    if (pr.maybeDecrTo(m.index, next)) {
      if (pr.state === 'replicate') pr.becomeProbe();
      sendAppend(s, m.from, true);
    }
    return;
  }
  // Index 0 acknowledges nothing: it is a reply to a stale append that only carries the sender's term (term-rules.ts).
  if (m.index === 0) return;
  if (!(pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === 'probe'))) return;
  switch (pr.state) {
    case 'probe':
      pr.becomeReplicate();
      break;
    case 'snapshot':
      if (pr.match + 1 >= log.firstIndex()) {
        pr.becomeProbe();
        pr.becomeReplicate();
      }
      break;
    case 'replicate':
      pr.inflights.freeLE(m.index);
      break;
  }
  if (maybeCommit(s)) onCommitAdvanced(s);
  else if (s.cfg.lazyCommit !== true && pr.canBumpCommit(log.committed)) sendAppend(s, m.from, true);
  while (sendAppend(s, m.from, false)) {
    // Fill the in-flight window.
  }
  if (m.from === s.transferee && pr.match === log.lastIndex()) finishTransfer(s, m.from);
}

function handleHeartbeatResp(s: RaftState, m: Message & { type: 'heartbeatResp' }, pr: Progress): void {
  pr.recentActive = true;
  pr.probeSent = false;
  if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
  if (pr.match < s.log.lastIndex() || pr.canBumpCommit(s.log.committed)) sendAppend(s, m.from, true);
  if (m.context > 0 && s.readOnly.hasPending()) {
    s.readOnly.ack(m.from, m.context);
    s.readOnly.release(s.config, s.readStates);
  }
}

export const leaderHandler: RoleHandler = {
  step(s: RaftState, m: Message): StepOutcome {
    if (m.type !== 'appendResp' && m.type !== 'heartbeatResp') return IGNORED;
    const pr = s.progress.get(m.from);
    if (pr === undefined || m.from === s.id) return UNKNOWN_SENDER;
    if (m.type === 'appendResp') handleAppendResp(s, m, pr);
    else handleHeartbeatResp(s, m, pr);
    return OK;
  },

  tick(s: RaftState): void {
    s.electionElapsed++;
    s.heartbeatElapsed++;
    if (s.electionElapsed >= s.cfg.electionTicks) {
      s.electionElapsed = 0;
      if (s.cfg.checkQuorum && !s.handingOver) {
        if (!quorumActive(s)) {
          s.becomeFollower(s.term, 0);
          return;
        }
        for (const [id, pr] of s.progress) if (id !== s.id) pr.recentActive = false;
      }
      if (s.transferee !== 0) {
        abortTransfer(s);
        if (s.role !== 'leader') return;
      }
    }
    const snapshotTimeoutTicks = s.cfg.snapshotTimeoutTicks ?? 20 * s.cfg.electionTicks;
    for (const pr of s.progress.values()) {
      if (pr.state === 'snapshot' && ++pr.snapshotElapsedTicks >= snapshotTimeoutTicks) {
        // The host never reported the outcome: treat the snapshot as failed and probe again.
        pr.pendingSnapshot = 0;
        pr.becomeProbe();
      }
    }
    if (s.heartbeatElapsed >= s.cfg.heartbeatTicks) {
      s.heartbeatElapsed = 0;
      bcastHeartbeat(s, s.readOnly.hasPending() ? s.readOnly.lastRound : 0);
    }
  },

  onPersisted(s: RaftState): void {
    const self = s.progress.get(s.id) as Progress;
    if (self.maybeUpdate(s.log.persisted) && maybeCommit(s)) onCommitAdvanced(s);
  },

  onConfigChanged(s: RaftState): void {
    const last = s.log.lastIndex();
    for (const id of members(s.config)) {
      const pr = s.progress.get(id);
      if (pr === undefined) {
        const fresh = new Progress(
          last + 1,
          s.cfg.inflightMessagesMax,
          isLearner(s.config, id),
          s.cfg.inflightBytesMax,
        );
        fresh.recentActive = true;
        s.progress.set(id, fresh);
      } else {
        pr.isLearner = isLearner(s.config, id);
      }
    }
    for (const id of [...s.progress.keys()]) if (id !== s.id && !isMember(s.config, id)) s.progress.delete(id);
    if (!isVoter(s.config, s.id)) {
      if (!s.handingOver || (s.transferee !== 0 && !isVoter(s.config, s.transferee))) handOver(s);
      if (s.role !== 'leader') return;
    } else {
      s.handingOver = false;
      if (s.transferee !== 0 && !isVoter(s.config, s.transferee)) abortTransfer(s);
    }
    if (maybeCommit(s)) onCommitAdvanced(s);
    else for (const id of s.progress.keys()) sendAppend(s, id, false);
    s.readOnly.release(s.config, s.readStates);
  },
};
