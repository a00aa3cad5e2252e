/**
 * Quiescence (issue 10, "Many groups per node must stay cheap"): a group with nothing to do goes quiet, as
 * TiKV's hibernate regions and CockroachDB's quiesced ranges do: its leader stops heartbeating and none of
 * its replicas ticks, until a request or a suspected failure wakes it. What keeps this node's idle cost
 * independent of its group count: a quiet group is neither ticked nor sends anything; liveness is watched per
 * node pair instead (NodeHost sends one node beat per peer per heartbeat interval, whatever its group count).
 *
 * How a group goes quiet: its leader, after `idleTicksToQuiesce` consecutive ticks in which
 * leaderMayQuiesce held (everything committed, applied here, and replicated to every member, which are all
 * live, and nothing waits: no proposal, read, membership change or transfer), sends each member a heartbeat
 * flagged `quiesce` and stops ticking the group. The idle ticks span at least two heartbeat rounds, so every
 * member has heard the final commit index. A follower that steps such a heartbeat from its leader stops
 * ticking the group too.
 *
 * How it wakes (wake()): on any message for the group except a heartbeat (see wakesQuietGroup) and a
 * heartbeat response (the acks of the quiesce heartbeats); on a proposal, a read, a membership change
 * or a leadership transfer at the leader; and when a node the group depends on (a quiet follower's leader;
 * every member of a quiet leader's group) has not been heard from for `suspectAfterMs` (`suspects()`).
 * A woken replica ticks again from where it was: its election timer continues.
 *
 * Safety does not depend on any of this: a quiet replica simply does not tick, which Raft tolerates as a
 * slow timer. A leader deposed while quiet learns it when it wakes (any request wakes it, and its reads
 * need a ReadIndex heartbeat round, writes a quorum). A follower that missed the quiesce heartbeat keeps
 * ticking and campaigns; its (pre)vote request wakes the others, the leader rejects it and heartbeats, and
 * the group goes quiet again later. Invariants: only groups this node hosts are tracked (forget() on close);
 * the by-node index holds exactly the quiet groups (bounded by the group count).
 */
import type { GroupId, NodeId } from '../base';
import { encodeRaftMessage } from '../codec';
import type { Message, Status } from '../raft';

/**
 * The group id of node beats: a heartbeat of term 0 with group id 0 (no group has it), sent once per peer
 * per heartbeat interval so a peer is heard even when all its groups are quiet. The receiver only notes
 * when it heard the sender; the core never sees one. An older node counts it as a message for an unknown
 * group and drops it.
 */
export const NODE_BEAT_GROUP = 0;
const beats = new Map<string, Buffer>();

/** The encoded node beat from `from` to `to` (cached: the same bytes every time). */
export function encodeNodeBeat(from: NodeId, to: NodeId): Buffer {
  const key = `${from}>${to}`;
  let buf = beats.get(key);
  if (buf === undefined) {
    buf = encodeRaftMessage({
      groupId: NODE_BEAT_GROUP,
      message: { type: 'heartbeat', from, to, term: 0, commit: 0, context: 0 },
    });
    if (beats.size >= 4096) beats.clear();
    beats.set(key, buf);
  }
  return buf;
}

export interface QuiescenceOptions {
  /** Consecutive idle ticks before a leader quiesces its group (at least two heartbeat rounds). */
  idleTicksToQuiesce: number;
  /** A node not heard from for longer is suspected: the quiet groups that depend on it wake. */
  suspectAfterMs: number;
}

/** What the host knows of a leader's group beyond the core's status. */
export interface LeaderWork {
  /** The state machine's applied index on this node. */
  applied: number;
  /** Proposals queued or waiting, reads waiting, membership changes waiting, a snapshot staging. */
  pending: boolean;
}

/**
 * Whether a leader's group may go quiet now (pure): everything committed and applied here, every member
 * (learners too) has replicated the whole log, no transfer or joint configuration, and every member was
 * heard from recently (a member that is down must be probed; one that comes back must hear the leader).
 */
export function leaderMayQuiesce(st: Status, work: LeaderWork, heardRecently: (id: NodeId) => boolean): boolean {
  if (st.role !== 'leader' || st.progress === null || work.pending) return false;
  if (st.transferee !== 0 || st.config.votersOutgoing.length > 0) return false;
  if (st.commit !== st.lastIndex || work.applied !== st.commit) return false;
  for (const [id, pr] of st.progress) {
    if (id === st.id) continue;
    if (pr.match !== st.lastIndex || !heardRecently(id)) return false;
  }
  return true;
}

/**
 * Whether a message for a quiet group wakes it (see the header). Heartbeats never do: a quiet follower
 * answers them anyway (it is stepped, only not ticked), and a leader's plain heartbeat can arrive after its
 * quiesce heartbeat (one the core queued in the same tick), which must not leave the follower awake and
 * ticking toward an election while its leader is quiet. A heartbeat re-checks the follower instead
 * (NodeHost.followerQuiesce): it stays quiet, depending on the heartbeat's sender, only while caught up.
 */
export function wakesQuietGroup(m: Message): boolean {
  return m.type !== 'heartbeatResp' && m.type !== 'heartbeat';
}

/** The quiesce heartbeats a leader sends its members before it goes quiet. */
export function quiesceHeartbeats(st: Status): Message[] {
  const out: Message[] = [];
  if (st.progress === null) return out;
  for (const id of st.progress.keys()) {
    if (id === st.id) continue;
    out.push({ type: 'heartbeat', from: st.id, to: id, term: st.term, commit: st.commit, context: 0, quiesce: true });
  }
  return out;
}

export class Quiescence {
  private readonly quiet = new Map<GroupId, readonly NodeId[]>();
  /**
   * The tracked groups that are not quiet: the host's tick and ready loop visit only these (and the few quiet
   * ones stepped since), so with 1,000 quiet groups a turn costs nothing per group. Every hosted group is
   * in exactly one of `awake` and `quiet` (NodeHost asserts it now and then: checkTracked).
   */
  private readonly awake = new Set<GroupId>();
  /** node -> the quiet groups that depend on it. */
  private readonly byNode = new Map<NodeId, Set<GroupId>>();
  private readonly idleTicks = new Map<GroupId, number>();

  constructor(private readonly opts: QuiescenceOptions) {}

  get quietCount(): number {
    return this.quiet.size;
  }

  isQuiet(id: GroupId): boolean {
    return this.quiet.has(id);
  }

  /** A group now hosted here (awake). */
  track(id: GroupId): void {
    if (!this.quiet.has(id)) this.awake.add(id);
  }

  /** The hosted groups that are not quiet (see `awake`); may change while iterated (a group quiesces or wakes). */
  awakeIds(): ReadonlySet<GroupId> {
    return this.awake;
  }

  /** How many groups are tracked (awake or quiet). */
  get trackedCount(): number {
    return this.awake.size + this.quiet.size;
  }

  /**
   * A leader's tick: counts the consecutive idle ticks; true once the group should go quiet now (the host
   * then sends quiesceHeartbeats and calls quiesce with every member).
   */
  leaderTicked(id: GroupId, mayQuiesce: boolean): boolean {
    if (!mayQuiesce) {
      this.idleTicks.delete(id);
      return false;
    }
    const n = (this.idleTicks.get(id) ?? 0) + 1;
    this.idleTicks.set(id, n);
    return n >= this.opts.idleTicksToQuiesce;
  }

  /** The group goes quiet, depending on `nodes` (a leader: its members; a follower: its leader). */
  quiesce(id: GroupId, nodes: readonly NodeId[]): void {
    this.wake(id);
    this.idleTicks.delete(id);
    this.quiet.set(id, nodes);
    this.awake.delete(id);
    for (const n of nodes) {
      let set = this.byNode.get(n);
      if (set === undefined) {
        set = new Set();
        this.byNode.set(n, set);
      }
      set.add(id);
    }
  }

  /** Wakes the group; true when it was quiet. */
  wake(id: GroupId): boolean {
    const nodes = this.quiet.get(id);
    this.idleTicks.delete(id);
    if (nodes === undefined) return false;
    this.quiet.delete(id);
    this.awake.add(id);
    for (const n of nodes) {
      const set = this.byNode.get(n);
      set?.delete(id);
      if (set?.size === 0) this.byNode.delete(n);
    }
    return true;
  }

  /** The group is gone from this node. */
  forget(id: GroupId): void {
    this.wake(id);
    this.awake.delete(id);
  }

  /**
   * Wakes and returns the quiet groups depending on a node not heard from within suspectAfterMs
   * (`heardMs`: when each node was last heard, on the `nowMs` clock; a node never heard is suspected).
   */
  wakeSuspected(nowMs: number, heardMs: (id: NodeId) => number | undefined): GroupId[] {
    const woken: GroupId[] = [];
    for (const [node, groups] of [...this.byNode]) {
      const heard = heardMs(node);
      if (heard !== undefined && nowMs - heard <= this.opts.suspectAfterMs) continue;
      for (const id of [...groups]) if (this.wake(id)) woken.push(id);
    }
    return woken;
  }
}
