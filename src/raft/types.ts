/**
 * The public contract of the Raft core (DESIGN.md section 2). The core is pure, synchronous and
 * deterministic: inputs are ticks, messages and proposals; outputs come out of ready().
 *
 * Contract for the host (node/ or the simulator), in this order for every Ready:
 *   0. at most one Ready is outstanding: call ready() only after advance() of the previous one
 *      (hasReady() is false while one is outstanding). tick/step/propose/... may be called between
 *      ready() and advance(); what they produce goes into the next Ready.
 *   1. persist `hardState`, `entries` (replacing the stored log from entries[0].index on: delete stored
 *      entries >= entries[0].index, then write these) and `snapshot` (replacing the whole stored log
 *      and the previous snapshot) durably (fsync), all in one atomic write;
 *   2. send `messagesNow` (may also be sent before step 1) and `messagesAfterPersist` (only after 1);
 *   3. if `snapshot` is set, install its data into the state machine;
 *   4. apply `committedEntries` in order; serve `readStates` once applied >= their index;
 *   5. call advance(ready). The core then considers committedEntries applied.
 * A snapshot message from a leader carries meta at the leader's applied index at the time ready() was
 * produced and empty `data`: the host must capture its state machine as of exactly meta.index (i.e.
 * before applying this Ready's committedEntries), put it in `data` (or stream it), and later call
 * reportSnapshot(to, ok) with the outcome of the send.
 */
import type { NodeId } from '../base';

export type Term = number;
export type Index = number;

/** A membership configuration. Voters decide; learners receive the log but never vote or count. */
export interface ConfigState {
  voters: NodeId[];
  learners: NodeId[];
  /** During joint consensus: the outgoing voter set (both majorities are needed). Empty otherwise. */
  votersOutgoing: NodeId[];
}

/** `context` is opaque to the core (node/ puts the member's address there). */
export type MembershipChange =
  | { type: 'addVoter'; node: NodeId; context?: Uint8Array }
  | { type: 'addLearner'; node: NodeId; context?: Uint8Array }
  | { type: 'removeNode'; node: NodeId; context?: Uint8Array };

/** Log entries. `data` of normal entries is opaque to the core. */
export type Entry =
  | { kind: 'normal'; term: Term; index: Index; data: Uint8Array }
  /** Appended by a new leader at the start of its term; nothing to apply. */
  | { kind: 'empty'; term: Term; index: Index }
  | {
      kind: 'config';
      term: Term;
      index: Index;
      change: MembershipChange;
      /**
       * The configuration that results from applying `change` (set by the proposing leader), so a node
       * that replays the log from index 1 without the bootstrap config (a new member) still ends up with
       * the right configuration. When absent, `change` is applied to the current configuration.
       */
      config?: ConfigState;
    };

export interface HardState {
  term: Term;
  /** 0 = voted for nobody in this term. */
  vote: NodeId;
  commit: Index;
}

export interface SnapshotMeta {
  index: Index;
  term: Term;
  config: ConfigState;
}

/** `data` is opaque to the core (the simulator's serialized model; a staging token in node/). */
export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/**
 * Messages between cores. Every message has from, to, term. Hosts treat them as plain data
 * (serialize with msgpackr); the core owns the meaning of the fields.
 */
export type Message =
  | { type: 'preVote'; from: NodeId; to: NodeId; term: Term; lastLogIndex: Index; lastLogTerm: Term }
  | { type: 'preVoteResp'; from: NodeId; to: NodeId; term: Term; reject: boolean }
  | { type: 'vote'; from: NodeId; to: NodeId; term: Term; lastLogIndex: Index; lastLogTerm: Term; transfer: boolean }
  | { type: 'voteResp'; from: NodeId; to: NodeId; term: Term; reject: boolean }
  | {
      type: 'append';
      from: NodeId;
      to: NodeId;
      term: Term;
      prevLogIndex: Index;
      prevLogTerm: Term;
      entries: Entry[];
      commit: Index;
    }
  | {
      type: 'appendResp';
      from: NodeId;
      to: NodeId;
      term: Term;
      reject: boolean;
      /** Accepted: highest index now matching. Rejected: the rejected prevLogIndex. */
      index: Index;
      /** Rejected: a hint for fast back-off (the follower's last index and the term at the hint). */
      rejectHint: Index;
      hintTerm: Term;
    }
  | {
      type: 'heartbeat';
      from: NodeId;
      to: NodeId;
      term: Term;
      commit: Index;
      context: number;
      /**
       * Set only by the host (node/quiescence.ts), never by the core: the leader's group goes quiet after
       * this heartbeat; the receiver stops ticking the group until a message or a suspected failure wakes it.
       * The core treats it as any heartbeat.
       */
      quiesce?: boolean;
    }
  | { type: 'heartbeatResp'; from: NodeId; to: NodeId; term: Term; context: number }
  | { type: 'snapshot'; from: NodeId; to: NodeId; term: Term; snapshot: Snapshot }
  | { type: 'timeoutNow'; from: NodeId; to: NodeId; term: Term };

export type MessageType = Message['type'];

/** A ReadIndex result: the read with this context may be served once applied >= index. */
export interface ReadState {
  context: number;
  index: Index;
}

export interface SoftState {
  leader: NodeId;
  role: Role;
}

export interface Ready {
  /** Set when term, vote or commit changed since the last advance. */
  hardState: HardState | null;
  /** New or overwritten log entries to persist (contiguous, ascending). */
  entries: Entry[];
  /** A snapshot to persist and install (follower side). */
  snapshot: Snapshot | null;
  /** Messages safe to send at once (leader appends, heartbeats, vote requests). */
  messagesNow: Message[];
  /** Votes and append acks: send only after hardState/entries/snapshot of this Ready are durable. */
  messagesAfterPersist: Message[];
  /** Committed entries to apply, in order, contiguous from the last applied index + 1. */
  committedEntries: Entry[];
  readStates: ReadState[];
  /** Dropped or failed reads (leader lost, transfer, no leader): the host fails their waiters. */
  readsFailed: { context: number; reason: DropReason }[];
  /** Set when role or known leader changed. */
  softState: SoftState | null;
}

/**
 * Why a proposal or read was not accepted. `tooLarge`: uncommittedBytesMax reached, or too many pending
 * reads. `invalidChange`: a membership change that is a no-op or would leave no voter.
 */
export type DropReason =
  | 'noLeader'
  | 'notLeader'
  | 'transferInProgress'
  | 'configChangePending'
  | 'tooLarge'
  | 'unknownNode'
  | 'invalidChange';

export type ProposeOutcome = { ok: true; index: Index; term: Term } | { ok: false; reason: DropReason; leader: NodeId };

export type ReadIndexOutcome = { ok: true } | { ok: false; reason: DropReason; leader: NodeId };

export type TransferOutcome =
  { ok: true } | { ok: false; reason: 'notLeader' | 'unknownNode' | 'isSelf' | 'learner'; leader: NodeId };

/**
 * `invalidMessage`: the message breaks an invariant no correct peer breaks (validate-message.ts); it was
 * dropped without any effect, and `detail` says why (for the host's log and metrics).
 */
export type StepOutcome =
  | { ok: true }
  | { ok: false; reason: 'staleTerm' | 'unknownSender' | 'ignored' }
  | { ok: false; reason: 'invalidMessage'; detail: string };

export interface ProgressStatus {
  match: Index;
  next: Index;
  state: 'probe' | 'replicate' | 'snapshot';
  inflight: number;
  recentActive: boolean;
}

export interface Status {
  id: NodeId;
  role: Role;
  term: Term;
  vote: NodeId;
  leader: NodeId;
  commit: Index;
  applied: Index;
  firstIndex: Index;
  lastIndex: Index;
  config: ConfigState;
  /** Leader only: per-peer replication progress. */
  progress: Map<NodeId, ProgressStatus> | null;
  transferee: NodeId;
  /**
   * The term reached TERM_MAX (limits.ts): this node never campaigns again (a safety net; a correct
   * cluster cannot get there, only a forged message from an authenticated member could).
   */
  termExhausted: boolean;
}

export interface RaftConfig {
  id: NodeId;
  /** Election timeout is randomized in [electionTicks, 2 * electionTicks). */
  electionTicks: number;
  heartbeatTicks: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** Max AppendEntries messages in flight per follower in replicate state. */
  inflightMessagesMax: number;
  /**
   * Max entry bytes of the AppendEntries in flight per follower (etcd's MaxInflightBytes): no further
   * append while they hold this much (one always goes). 0 or absent: bounded by the message count only.
   */
  inflightBytesMax?: number;
  /** Max bytes of entry data in one AppendEntries message. */
  appendBytesMax: number;
  /** Max bytes of uncommitted entry data a leader accepts before dropping proposals (tooLarge). */
  uncommittedBytesMax: number;
  /** Max reads a leader queues (waiting for its first commit or for a heartbeat round); default 4096. */
  pendingReadsMax?: number;
  /**
   * A follower stays in snapshot state (no appends) until the host calls reportSnapshot or the follower
   * acknowledges. If neither happens within this many ticks (a lost report), the leader probes again.
   * Default 20 * electionTicks.
   */
  snapshotTimeoutTicks?: number;
  /**
   * When true, a leader whose commit index moves does not send followers an append just to tell them:
   * they learn it from the next append (which always carries it) or heartbeat (within heartbeatTicks).
   * At low load this saves two messages per write per follower (the empty append and its answer), and
   * the CPU to handle them, at the cost of followers applying up to one heartbeat later. Safety does not
   * depend on it (a follower's commit index is never ahead of the leader's). Default false.
   */
  lazyCommit?: boolean;
  /**
   * TEST ONLY. Deliberately unsafe switches that let the simulator prove its checkers catch bugs.
   * Never set in production code.
   */
  unsafe?: {
    /** Commit old-term entries by counting replicas (violates Raft figure 8). */
    commitOldTermByCount?: boolean;
    /** Release votes and append acks before persistence. */
    ackBeforePersist?: boolean;
    /**
     * Apply every config entry of an advanced Ready, even one older than a snapshot restored after that
     * Ready was handed out (the configuration then regresses to the entry's older one: issue 9).
     */
    regressConfigOnAdvance?: boolean;
    /** Let an uninitialized replica take entries from index 1 instead of a snapshot (receive.ts). */
    uninitializedTakesEntries?: boolean;
  };
}

/** What survived on durable storage, to rebuild a core after a restart (or empty for a new node). */
export interface RestoreState {
  hardState: HardState;
  snapshot: SnapshotMeta | null;
  /** Entries after the snapshot (or from index 1), contiguous. */
  entries: Entry[];
  /** The configuration at bootstrap when there is no snapshot and no config entry (new cluster). */
  initialConfig: ConfigState;
  /** The highest index the host's state machine has durably applied (>= snapshot index). */
  applied: Index;
}

/**
 * The core, as implemented by RaftCore in raft-core.ts:
 *   new RaftCore(config: RaftConfig, restore: RestoreState, random: Random)
 * Every method is synchronous and does no I/O.
 */
export interface RawNode {
  /** One logical clock tick (the host calls it every tickMs). */
  tick(): void;
  /** A message from a peer; one that fails validation (validate-message.ts) changes nothing. */
  step(message: Message): StepOutcome;
  propose(data: Uint8Array): ProposeOutcome;
  /**
   * Proposes several entries in order: the same outcomes as calling propose() for each, but the
   * followers get the new entries in one AppendEntries (per in-flight slot) instead of one per entry.
   */
  proposeBatch(data: readonly Uint8Array[]): ProposeOutcome[];
  proposeMembership(change: MembershipChange): ProposeOutcome;
  /** Linearizable read barrier; the result arrives as a ReadState (or readsFailed) with this context. */
  readIndex(context: number): ReadIndexOutcome;
  transferLeader(to: NodeId): TransferOutcome;
  /** The host could not deliver to this peer: the leader moves it back to probe. */
  reportUnreachable(peer: NodeId): void;
  /**
   * Outcome of sending a snapshot to peer (leader side). The follower gets no appends until this is
   * called or it acknowledges the snapshot (fallback: config.snapshotTimeoutTicks).
   */
  reportSnapshot(peer: NodeId, ok: boolean): void;
  /** Drop log entries up to and including index (index <= applied); they can then only reach peers by snapshot. */
  compact(index: Index): void;
  hasReady(): boolean;
  /**
   * Hands out, ahead of the next Ready, the queued messages that never wait for persistence (leader
   * appends, heartbeats, heartbeat responses), in order, and closes the open ReadIndex round (its
   * heartbeats are among them). Lets the host send them while an earlier Ready is still being persisted;
   * every other message stays queued for the next Ready.
   */
  takeMessagesNow(): Message[];
  ready(): Ready;
  advance(ready: Ready): void;
  status(): Status;
  /** Committed entries after prevIndex through at most throughIndex, one append's worth (raft-core.ts). */
  committedAfter(prevIndex: Index, throughIndex: Index, bytesMax: number): { prevTerm: Term; entries: Entry[] } | null;
  /**
   * Whether a peer message may be stepped: its sender is a member (voter, outgoing voter, learner), the
   * configuration is empty, or it is a leader's message proving a term at least as new as ours (see
   * RaftCore.acceptsPeer); allocation-free.
   */
  acceptsPeer(m: Message): boolean;
}
