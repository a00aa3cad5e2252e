/**
 * Farewells: a leader tells a replica it removed that its removal committed, so the replica applies it and
 * destroys itself (replica-destroy.ts). Without this the removed replica never learns the commit index of
 * its removal: the leader stops replicating to it as soon as it applied the removal (the next append or
 * heartbeat, which would have carried the commit index, is never sent).
 *
 * The farewell is a heartbeat in the leader's term whose commit index is the removal's index, sent only once
 * the removed node is known to hold the log up to that index (the leader's match for it when the removal
 * applied, or a successful append response for at least that index seen later: by the log matching property
 * its log then equals the leader's through the removal), so it never makes a replica commit an entry it does
 * not hold or that differs from the leader's. That stays true after this node stopped leading (a transfer
 * right after the removal): the message keeps the term of the removal, a replica that moved to a newer term
 * refuses it, and one still in that term has taken entries from no other leader since.
 *
 * A removed replica that never received its removal's entry (cut off, or the leader's append to it was lost,
 * when the removal committed: the leader then stopped replicating to it) cannot be told by a heartbeat. It
 * campaigns once it stops hearing from a leader; its (pre)vote request shows how far its log goes. Such a
 * campaign asks for a catch-up: an append in the farewell's term carrying the committed entries after the
 * candidate's last entry (when this node's log has that entry with the same term: by log matching the two
 * logs are equal through it) or else after the node's known match, through the removal, with the removal's
 * index as commit. Those are the entries this node sent as that term's leader, so the replica appends what
 * it would have received then, commits its removal and destroys itself (the driver's GC of stale replicas,
 * placement/stale-replicas.ts, stays the fallback when the entries are compacted away here).
 * The removed node's peer link stays while a farewell to it is pending (node-host.ts keeps it on applying the
 * removal and drops it once takeForgotten names the node): a leader sharing no other group with it would
 * otherwise drop every farewell at its transport.
 * Invariants: at most FAREWELLS_MAX pending (more are dropped: those replicas stay until the later GC); each
 * is sent at most SENDS times, one heartbeat interval apart (once more per proving vote request), at most
 * CATCH_UPS_MAX catch-ups (one per campaign), and forgotten after its deadline.
 */
import type { GroupId, NodeId } from '../base';
import type { Message } from '../raft';

export const FAREWELLS_MAX = 256;
const SENDS = 3;
const CATCH_UPS_MAX = 8;

export interface Farewell {
  groupId: GroupId;
  node: NodeId;
  /** The removal's index: the commit index to tell. */
  index: number;
  term: number;
  /** The node holds the log through `index` (see the header). */
  holds: boolean;
  /** The leader's match index for the node when the removal applied: its log equals ours through it. */
  match: number;
  /** The last entry of a campaign seen from behind the removal, waiting for a catch-up (see the header). */
  behind: { index: number; term: number } | null;
  catchUps: number;
  sent: number;
  lastSentMs: number;
  untilMs: number;
}

/** A catch-up append to build (node-host.ts): entries after `candidate.index` (or `match`) through `index`. */
export interface CatchUp {
  groupId: GroupId;
  node: NodeId;
  term: number;
  index: number;
  candidate: { index: number; term: number };
  match: number;
}

export class Farewells {
  private readonly pending = new Map<string, Farewell>();
  /** Nodes whose last pending farewell was forgotten since the last takeForgotten. */
  private readonly forgotten = new Set<NodeId>();

  get size(): number {
    return this.pending.size;
  }

  /** Is a farewell to `node` (in any group) pending? */
  isPendingFor(node: NodeId): boolean {
    for (const f of this.pending.values()) if (f.node === node) return true;
    return false;
  }

  /** The nodes with no farewell pending any more whose last one was forgotten since the last call. */
  takeForgotten(): NodeId[] {
    const out = [...this.forgotten].filter((n) => !this.isPendingFor(n));
    this.forgotten.clear();
    return out;
  }

  private forget(key: string, f: Farewell): void {
    this.pending.delete(key);
    this.forgotten.add(f.node);
  }

  add(f: Omit<Farewell, 'sent' | 'lastSentMs' | 'behind' | 'catchUps'>): void {
    const key = `${f.groupId}/${f.node}`;
    if (!this.pending.has(key) && this.pending.size >= FAREWELLS_MAX) return;
    this.pending.set(key, { ...f, sent: 0, lastSentMs: -Infinity, behind: null, catchUps: 0 });
  }

  /**
   * A message from a node of a group. A successful append response through the removal in the farewell's
   * term marks it held. So does a (pre)vote request of the removed node (it campaigns once it stops hearing
   * from a leader) whose last entry is at or past the removal and of the farewell's term: only this node led
   * in that term, so that entry is this node's and the candidate's log equals this node's through it; a
   * farewell already sent is then sent once more (the earlier ones were lost or refused).
   */
  observe(groupId: GroupId, m: Message): void {
    if (m.type !== 'appendResp' && m.type !== 'preVote' && m.type !== 'vote') return;
    const f = this.pending.get(`${groupId}/${m.from}`);
    if (f === undefined) return;
    if (m.type === 'appendResp') {
      if (!m.reject && m.term === f.term && m.index >= f.index) f.holds = true;
      return;
    }
    if (m.lastLogTerm !== f.term || m.lastLogIndex < f.index) {
      if (!f.holds && f.catchUps < CATCH_UPS_MAX) f.behind = { index: m.lastLogIndex, term: m.lastLogTerm };
      return;
    }
    f.holds = true;
    f.behind = null;
    f.sent = Math.min(f.sent, SENDS - 1);
  }

  /**
   * The catch-ups asked for by campaigns since the last call (see the header): where the append may start
   * (the candidate's last entry, checked against this node's log by the caller, and the known match as the
   * fallback), in the farewell's term, through the removal.
   */
  catchUpsDue(nowMs: number): CatchUp[] {
    const out: CatchUp[] = [];
    for (const [key, f] of this.pending) {
      if (nowMs > f.untilMs) {
        this.forget(key, f);
        continue;
      }
      if (f.behind === null || f.holds) continue;
      out.push({ groupId: f.groupId, node: f.node, term: f.term, index: f.index, candidate: f.behind, match: f.match });
      f.behind = null;
      f.catchUps++;
    }
    return out;
  }

  /** The farewell heartbeats to send now (and forgets the finished or expired ones). */
  due(
    self: NodeId,
    nowMs: number,
    intervalMs: number,
  ): { groupId: GroupId; message: Message & { type: 'heartbeat' } }[] {
    const out: { groupId: GroupId; message: Message & { type: 'heartbeat' } }[] = [];
    for (const [key, f] of this.pending) {
      if (nowMs > f.untilMs) {
        this.forget(key, f);
        continue;
      }
      if (!f.holds || f.sent >= SENDS || nowMs - f.lastSentMs < intervalMs) continue;
      f.sent++;
      f.lastSentMs = nowMs;
      out.push({
        groupId: f.groupId,
        message: { type: 'heartbeat', from: self, to: f.node, term: f.term, commit: f.index, context: 0 },
      });
    }
    return out;
  }
}
