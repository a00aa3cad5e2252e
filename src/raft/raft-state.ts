/**
 * The state every role shares, and the transitions that do not depend on a particular role: term and
 * vote bookkeeping, timers, outgoing message queues, configuration changes and becoming a follower.
 * Role behaviour lives in follower.ts, candidate.ts and leader.ts, reached through `handlers[role]`
 * (injected by raft-core.ts, so this module imports no role module).
 *
 * Invariants: term never decreases; vote changes only together with a term change or from 0;
 * a leader's `leader` is its own id; `transferee` is 0 unless role is leader; the configuration only
 * moves forward (configIndex never decreases, whatever the order of step, ready and advance).
 */
import { assert } from '../base';
import type { NodeId, Random } from '../base';
import { PENDING_READS_MAX_DEFAULT } from './config';
import { configAfterEntry, isVoter } from './membership';
import { Progress } from './progress';
import { RaftLog } from './raft-log';
import { ReadOnly } from './read-only';
import type {
  ConfigState,
  DropReason,
  Entry,
  HardState,
  Index,
  Message,
  RaftConfig,
  ReadState,
  RestoreState,
  Role,
  StepOutcome,
  Term,
} from './types';

export interface RoleHandler {
  step(s: RaftState, m: Message): StepOutcome;
  tick(s: RaftState): void;
  /** advance() made a Ready durable (entries, hard state). */
  onPersisted(s: RaftState): void;
  /** The active configuration changed (a config entry was applied or a snapshot restored). */
  onConfigChanged(s: RaftState): void;
}

export const OK: StepOutcome = { ok: true };
export const IGNORED: StepOutcome = { ok: false, reason: 'ignored' };

export class RaftState {
  readonly id: NodeId;
  readonly cfg: RaftConfig;
  readonly random: Random;
  readonly ackBeforePersist: boolean;
  readonly commitOldTermByCount: boolean;
  readonly regressConfigOnAdvance: boolean;
  readonly handlers: Readonly<Record<Role, RoleHandler>>;

  term: Term;
  vote: NodeId;
  leader: NodeId = 0;
  role: Role = 'follower';
  readonly log: RaftLog;
  config: ConfigState;
  /**
   * The log index the configuration comes from: its config entry, or the snapshot (or restore point) that
   * carried it; 0 for the bootstrap configuration. A config entry at or below it is older and never
   * applied over it (a snapshot restored between ready() and advance() of a Ready holding config entries).
   */
  configIndex: Index = 0;
  /** Leader only: replication progress of every member, including the leader itself. */
  readonly progress = new Map<NodeId, Progress>();
  /** (Pre)candidate only: votes received in the current campaign. */
  readonly votes = new Map<NodeId, boolean>();

  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;

  /** Leader only: the target of a leadership transfer in progress, or 0. */
  transferee: NodeId = 0;
  /**
   * Leader only: the leader is no longer a voter (its removal or demotion was applied) and is handing
   * leadership over. It keeps leading (no proposals, no CheckQuorum step-down) until a successor's higher
   * term reaches it, retrying the transfer every election timeout: stepping down early could strand the
   * remaining voters, which may need its log and the news that the change committed.
   */
  handingOver = false;
  /**
   * Follower only: a TimeoutNow arrived in this term while a committed config change was not yet applied
   * (e.g. the leader removed itself and handed over at once); campaign once it is applied. 0 = none.
   */
  transferCampaignTerm: Term = 0;
  /** Leader only: index of the last config entry proposed; no new change until it is applied. */
  pendingConfIndex = 0;
  /** Leader only: bytes of entry data appended but not yet applied. */
  uncommittedBytes = 0;
  readonly readOnly: ReadOnly;

  msgs: Message[] = [];
  msgsAfterPersist: Message[] = [];
  readStates: ReadState[] = [];
  readsFailed: { context: number; reason: DropReason }[] = [];
  /** Leader only: peers whose snapshot message is built at the next ready() (meta at applied then). */
  snapshotSends: NodeId[] = [];
  /** The hard state last made durable (restored, or from an advanced Ready). */
  persistedHardState: HardState;

  constructor(cfg: RaftConfig, restore: RestoreState, random: Random, handlers: Readonly<Record<Role, RoleHandler>>) {
    this.id = cfg.id;
    this.cfg = cfg;
    this.random = random;
    this.handlers = handlers;
    this.ackBeforePersist = cfg.unsafe?.ackBeforePersist === true;
    this.commitOldTermByCount = cfg.unsafe?.commitOldTermByCount === true;
    this.regressConfigOnAdvance = cfg.unsafe?.regressConfigOnAdvance === true;
    const hs = restore.hardState;
    assert(hs.term >= 0 && hs.commit >= 0, 'restore: negative term or commit');
    this.term = hs.term;
    this.vote = hs.vote;
    this.log = new RaftLog(restore.snapshot, restore.entries, hs.commit, restore.applied);
    this.persistedHardState = { term: hs.term, vote: hs.vote, commit: hs.commit };
    // The configuration as of the applied index: the snapshot's (or the bootstrap one), then every
    // config entry up to applied. Later config entries switch it when the host applies them again.
    let config = restore.snapshot ? restore.snapshot.config : restore.initialConfig;
    config = {
      voters: config.voters.slice(),
      learners: config.learners.slice(),
      votersOutgoing: config.votersOutgoing.slice(),
    };
    let configIndex = restore.snapshot ? restore.snapshot.index : 0;
    for (const e of this.log.entries) {
      if (e.index > this.log.applied) break;
      if (e.kind === 'config') {
        config = configAfterEntry(config, e);
        configIndex = e.index;
      }
    }
    this.config = config;
    this.configIndex = configIndex;
    this.readOnly = new ReadOnly(cfg.pendingReadsMax ?? PENDING_READS_MAX_DEFAULT);
    this.resetRandomizedElectionTimeout();
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  hardStateChanged(prev: HardState): boolean {
    return prev.term !== this.term || prev.vote !== this.vote || prev.commit !== this.log.committed;
  }

  /** Queues a message: votes and append acks wait for persistence (Raft thesis 3.8). */
  send(m: Message): void {
    if (!this.ackBeforePersist && (m.type === 'appendResp' || m.type === 'voteResp' || m.type === 'preVoteResp')) {
      this.msgsAfterPersist.push(m);
    } else {
      this.msgs.push(m);
    }
  }

  resetRandomizedElectionTimeout(): void {
    const e = this.cfg.electionTicks;
    this.randomizedElectionTimeout = e + this.random.int(0, e - 1);
  }

  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  /** Resets the per-term state. A new term clears the vote. */
  reset(term: Term): void {
    assert(term >= this.term, () => `term regression ${this.term} -> ${term}`);
    if (term !== this.term) {
      this.term = term;
      this.vote = 0;
    }
    this.leader = 0;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.transferee = 0;
    this.handingOver = false;
    this.transferCampaignTerm = 0;
    this.votes.clear();
    this.snapshotSends.length = 0;
    this.uncommittedBytes = 0;
  }

  becomeFollower(term: Term, leader: NodeId): void {
    this.reset(term);
    this.role = 'follower';
    this.leader = leader;
    this.failPendingReads(leader === 0 ? 'noLeader' : 'notLeader');
  }

  failPendingReads(reason: DropReason): void {
    if (this.readOnly.size === 0) return;
    for (const context of this.readOnly.drainAll()) this.readsFailed.push({ context, reason });
  }

  /** May this node start an election? (a voter, not installing a snapshot, no unapplied config change) */
  promotable(): boolean {
    return isVoter(this.config, this.id) && this.log.pendingSnapshot === null && !this.hasUnappliedConfigChange();
  }

  hasUnappliedConfigChange(): boolean {
    const log = this.log;
    for (let i = Math.max(log.applied, log.snapshotIndex) + 1; i <= log.committed; i++) {
      if (log.entryAt(i).kind === 'config') return true;
    }
    return false;
  }

  /**
   * The host applied a config entry: switch the active configuration, unless a newer one is already in
   * effect (a snapshot restored after the Ready holding this entry was handed out carries a later one).
   */
  applyConfigEntry(e: Entry & { kind: 'config' }): void {
    if (e.index <= this.configIndex && !this.regressConfigOnAdvance) return;
    this.setConfig(configAfterEntry(this.config, e), e.index);
  }

  /** Makes `config`, established at log index `index` (a config entry or a snapshot), the active one. */
  setConfig(config: ConfigState, index: Index): void {
    assert(
      index >= this.configIndex || this.regressConfigOnAdvance,
      () => `config regression: ${this.configIndex} -> ${index}`,
    );
    this.config = config;
    this.configIndex = index;
    this.handlers[this.role].onConfigChanged(this);
  }
}
