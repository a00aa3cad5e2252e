/**
 * RaftCore: the RawNode (etcd-io/raft rawnode.go). Inputs (tick, step, propose, ...) change memory only;
 * ready() hands out the resulting work and advance() acknowledges it (see the host contract in types.ts).
 *
 * Invariants: at most one Ready is outstanding; the hard state handed out never regresses (term and commit
 * never decrease, the vote of a term never changes); committed entries are handed out exactly once, in
 * order; entries are handed out for persistence before or together with anything that depends on them.
 */
import { TesseraError, assert } from '../base';
import type { NodeId, Random } from '../base';
import { candidateHandler, preCandidateHandler } from './candidate';
import { validateRaftConfig } from './config';
import { followerHandler } from './follower';
import * as leader from './leader';
import { TERM_MAX } from './limits';
import { cloneConfig, isMember } from './membership';
import { RaftState, type RoleHandler } from './raft-state';
import { TERM_UNAVAILABLE, entryBytes } from './raft-log';
import { stepWithTermRules } from './term-rules';
import { messageProblem } from './validate-message';
import type {
  Entry,
  HardState,
  Index,
  MembershipChange,
  Message,
  ProgressStatus,
  ProposeOutcome,
  RaftConfig,
  RawNode,
  ReadIndexOutcome,
  Ready,
  RestoreState,
  Role,
  Snapshot,
  Status,
  StepOutcome,
  Term,
  TransferOutcome,
} from './types';

const HANDLERS: Readonly<Record<Role, RoleHandler>> = {
  follower: followerHandler,
  preCandidate: preCandidateHandler,
  candidate: candidateHandler,
  leader: leader.leaderHandler,
};

const EMPTY_ENTRIES: Entry[] = [];
const EMPTY_DATA = new Uint8Array(0);

export class RaftCore implements RawNode {
  private readonly s: RaftState;
  private outstanding: Ready | null = null;
  /** The hard state handed out last (persisted, or being persisted). */
  private prevHardState: HardState;
  private prevLeader: NodeId;
  private prevRole: Role;

  constructor(config: RaftConfig, restore: RestoreState, random: Random) {
    validateRaftConfig(config);
    this.s = new RaftState(config, restore, random, HANDLERS);
    this.prevHardState = { ...this.s.persistedHardState };
    this.prevLeader = this.s.leader;
    this.prevRole = this.s.role;
  }

  tick(): void {
    this.s.handlers[this.s.role].tick(this.s);
  }

  step(message: Message): StepOutcome {
    const s = this.s;
    const problem = messageProblem(s, message);
    if (problem !== null) return { ok: false, reason: 'invalidMessage', detail: problem };
    return stepWithTermRules(s, message);
  }

  propose(data: Uint8Array): ProposeOutcome {
    const s = this.s;
    if (s.role !== 'leader') return { ok: false, reason: s.leader === 0 ? 'noLeader' : 'notLeader', leader: s.leader };
    return leader.propose(s, data);
  }

  proposeBatch(data: readonly Uint8Array[]): ProposeOutcome[] {
    const s = this.s;
    if (s.role !== 'leader') {
      const refused: ProposeOutcome = {
        ok: false,
        reason: s.leader === 0 ? 'noLeader' : 'notLeader',
        leader: s.leader,
      };
      return data.map(() => refused);
    }
    return leader.proposeBatch(s, data);
  }

  proposeMembership(change: MembershipChange): ProposeOutcome {
    const s = this.s;
    if (s.role !== 'leader') return { ok: false, reason: s.leader === 0 ? 'noLeader' : 'notLeader', leader: s.leader };
    return leader.proposeMembership(s, change);
  }

  readIndex(context: number): ReadIndexOutcome {
    const s = this.s;
    if (s.role !== 'leader') return { ok: false, reason: s.leader === 0 ? 'noLeader' : 'notLeader', leader: s.leader };
    return leader.readIndex(s, context);
  }

  transferLeader(to: NodeId): TransferOutcome {
    const s = this.s;
    if (s.role !== 'leader') return { ok: false, reason: 'notLeader', leader: s.leader };
    return leader.transferLeader(s, to);
  }

  reportUnreachable(peer: NodeId): void {
    const s = this.s;
    if (s.role !== 'leader') return;
    const pr = s.progress.get(peer);
    if (pr !== undefined && peer !== s.id && pr.state === 'replicate') pr.becomeProbe();
  }

  reportSnapshot(peer: NodeId, ok: boolean): void {
    const s = this.s;
    if (s.role !== 'leader') return;
    const pr = s.progress.get(peer);
    if (pr === undefined || pr.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    // Success: wait for the follower's append response; failure: retry after a heartbeat round.
    pr.becomeProbe();
    pr.probeSent = true;
    // After a failure, probe from our last entry as a new leader does, not from match + 1: a follower may
    // refuse a snapshot it does not need (a host rule, e.g. the split/snapshot race's rule 2, when it applied
    // a split we have not), and with match 0 (new in this term) every retry from index 1 would be that
    // same snapshot; its rejection hint leads the probe to where our logs agree, or back to a snapshot.
    if (!ok) pr.next = Math.max(pr.next, s.log.lastIndex() + 1);
  }

  compact(index: Index): void {
    const log = this.s.log;
    if (!Number.isInteger(index) || index > log.applied) {
      throw new TesseraError('INVALID_ARGUMENT', `raft: compact(${index}) beyond the applied index ${log.applied}`);
    }
    log.compact(index);
  }

  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    const s = this.s;
    const log = s.log;
    return (
      s.msgs.length > 0 ||
      s.msgsAfterPersist.length > 0 ||
      s.snapshotSends.length > 0 ||
      s.readStates.length > 0 ||
      s.readsFailed.length > 0 ||
      log.handed < log.lastIndex() ||
      (log.pendingSnapshot !== null && !log.pendingSnapshotHanded) ||
      log.applyFrom() <= log.committed ||
      s.hardStateChanged(this.prevHardState) ||
      s.leader !== this.prevLeader ||
      s.role !== this.prevRole
    );
  }

  takeMessagesNow(): Message[] {
    const s = this.s;
    // Reads arriving from now on must not join a round whose heartbeats may already be on the wire.
    s.readOnly.closeRound();
    const queued = s.msgs;
    if (queued.length === 0) return [];
    const now: Message[] = [];
    const kept: Message[] = [];
    for (const m of queued) {
      if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'heartbeatResp') now.push(m);
      else kept.push(m);
    }
    s.msgs = kept;
    return now;
  }

  ready(): Ready {
    assert(this.outstanding === null, 'ready() called again before advance() of the previous Ready');
    const s = this.s;
    const log = s.log;

    const entries = log.handed < log.lastIndex() ? log.entries.slice(log.handed - log.snapshotIndex) : EMPTY_ENTRIES;
    const snapshot = log.pendingSnapshot !== null && !log.pendingSnapshotHanded ? log.pendingSnapshot : null;

    let hardState: HardState | null = null;
    if (s.hardStateChanged(this.prevHardState)) {
      hardState = s.hardState();
      const prev = this.prevHardState;
      assert(hardState.term >= prev.term, () => `hard state term regressed ${prev.term} -> ${hardState?.term}`);
      assert(
        hardState.commit >= prev.commit,
        () => `hard state commit regressed ${prev.commit} -> ${hardState?.commit}`,
      );
      assert(
        hardState.term > prev.term || prev.vote === 0 || hardState.vote === prev.vote,
        () => `vote changed within term ${prev.term}: ${prev.vote} -> ${hardState?.vote}`,
      );
      this.prevHardState = hardState;
    }

    const from = log.applyFrom();
    const committedEntries =
      from <= log.committed
        ? log.entries.slice(from - log.snapshotIndex - 1, log.committed - log.snapshotIndex)
        : EMPTY_ENTRIES;

    let messagesNow = s.msgs;
    if (s.snapshotSends.length > 0) messagesNow = this.snapshotMessages().concat(messagesNow);

    let softState: Ready['softState'] = null;
    if (s.leader !== this.prevLeader || s.role !== this.prevRole) {
      softState = { leader: s.leader, role: s.role };
      this.prevLeader = s.leader;
      this.prevRole = s.role;
    }

    const rd: Ready = {
      hardState,
      entries,
      snapshot,
      messagesNow,
      messagesAfterPersist: s.msgsAfterPersist,
      committedEntries,
      readStates: s.readStates,
      readsFailed: s.readsFailed,
      softState,
    };
    s.msgs = [];
    s.msgsAfterPersist = [];
    s.readStates = [];
    s.readsFailed = [];
    s.readOnly.closeRound();
    log.handed = log.lastIndex();
    if (snapshot !== null) log.pendingSnapshotHanded = true;
    this.outstanding = rd;
    return rd;
  }

  /** Snapshot messages for followers in snapshot state, with meta at the applied index as of now. */
  private snapshotMessages(): Message[] {
    const s = this.s;
    const log = s.log;
    const out: Message[] = [];
    const applied = log.applied;
    for (const to of s.snapshotSends) {
      const pr = s.progress.get(to);
      if (s.role !== 'leader' || pr === undefined || pr.state !== 'snapshot') continue;
      pr.pendingSnapshot = applied;
      const snapshot: Snapshot = {
        meta: { index: applied, term: log.term(applied), config: cloneConfig(s.config) },
        data: EMPTY_DATA,
      };
      out.push({ type: 'snapshot', from: s.id, to, term: s.term, snapshot });
    }
    s.snapshotSends = [];
    return out;
  }

  advance(ready: Ready): void {
    assert(ready === this.outstanding, 'advance() of a Ready that is not the outstanding one');
    this.outstanding = null;
    const s = this.s;
    const log = s.log;
    if (ready.hardState !== null) s.persistedHardState = ready.hardState;
    if (ready.snapshot !== null) log.stableSnapshot(ready.snapshot);
    const n = ready.entries.length;
    if (n > 0) {
      const last = ready.entries[n - 1] as Entry;
      log.stableTo(last.index, last.term);
    }
    for (const e of ready.committedEntries) {
      log.appliedTo(e.index);
      if (s.role === 'leader') s.uncommittedBytes = Math.max(0, s.uncommittedBytes - entryBytes(e));
      if (e.kind === 'config') s.applyConfigEntry(e);
    }
    s.handlers[s.role].onPersisted(s);
  }

  /**
   * Whether a peer message from `m.from` may be stepped: its sender is in the current configuration (voter,
   * outgoing voter or learner), or the configuration is empty (a node started to join, not added yet), or
   * it is a leader's append, heartbeat or snapshot in a term above ours, or in our term from the leader we
   * already follow. That keeps a member whose configuration is behind (it missed the entries that added the
   * current leader, or they were compacted away) from refusing that leader forever; Raft itself accepts a
   * leader's messages whoever sends them, and the transport has authenticated the sender as a node of this
   * cluster. A TimeoutNow is let in only from the leader we follow in our term (a leader that removed itself
   * hands over with it). Votes and acks from non-members are never accepted, nor a leader's message in a
   * term that is not newer than ours while another leader holds it. Read-only and allocation-free: the host
   * filters every peer message.
   */
  acceptsPeer(m: Message): boolean {
    const s = this.s;
    const c = s.config;
    if ((c.voters.length === 0 && c.learners.length === 0 && c.votersOutgoing.length === 0) || isMember(c, m.from))
      return true;
    // A leader that removed itself hands over with TimeoutNow (leader.ts handOver) while it still leads its
    // term: the node it follows in this term is let in, or the handover never arrives and the group stays
    // without a leader for good (jepsen-lite membership seed 6).
    if (m.type === 'timeoutNow') return m.term === s.term && s.leader === m.from;
    if (m.type !== 'append' && m.type !== 'heartbeat' && m.type !== 'snapshot') return false;
    return m.term > s.term || (m.term === s.term && s.leader === m.from);
  }

  /**
   * Committed entries after `prevIndex` through at most `throughIndex` (one append's worth: at most
   * `bytesMax` bytes and APPEND_ENTRIES_MAX entries, at least one), with the term at prevIndex; null when
   * throughIndex is not committed here or prevIndex is compacted away. Read-only: a host uses it to hand a
   * removed replica the entries through its removal (node/farewells.ts).
   */
  committedAfter(prevIndex: Index, throughIndex: Index, bytesMax: number): { prevTerm: Term; entries: Entry[] } | null {
    const log = this.s.log;
    if (prevIndex < 0 || prevIndex >= throughIndex || throughIndex > log.committed) return null;
    const prevTerm = log.term(prevIndex);
    if (prevTerm === TERM_UNAVAILABLE) return null;
    return { prevTerm, entries: log.slice(prevIndex + 1, throughIndex + 1, bytesMax) };
  }

  status(): Status {
    const s = this.s;
    const log = s.log;
    let progress: Map<NodeId, ProgressStatus> | null = null;
    if (s.role === 'leader') {
      progress = new Map();
      for (const [id, pr] of s.progress) progress.set(id, pr.toStatus());
    }
    return {
      id: s.id,
      role: s.role,
      term: s.term,
      vote: s.vote,
      leader: s.leader,
      commit: log.committed,
      applied: log.applied,
      firstIndex: log.firstIndex(),
      lastIndex: log.lastIndex(),
      config: cloneConfig(s.config),
      progress,
      transferee: s.transferee,
      termExhausted: s.term >= TERM_MAX,
    };
  }
}
