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
 * Invariants: at most FAREWELLS_MAX pending (more are dropped: those replicas stay until the later GC); each
 * is sent at most SENDS times, one heartbeat interval apart (once more per proving vote request), and
 * forgotten after its deadline.
 */
import type { GroupId, NodeId } from '../base';
import type { Message } from '../raft';

export const FAREWELLS_MAX = 256;
const SENDS = 3;

export interface Farewell {
  groupId: GroupId;
  node: NodeId;
  /** The removal's index: the commit index to tell. */
  index: number;
  term: number;
  /** The node holds the log through `index` (see the header). */
  holds: boolean;
  sent: number;
  lastSentMs: number;
  untilMs: number;
}

export class Farewells {
  private readonly pending = new Map<string, Farewell>();

  get size(): number {
    return this.pending.size;
  }

  add(f: Omit<Farewell, 'sent' | 'lastSentMs'>): void {
    const key = `${f.groupId}/${f.node}`;
    if (!this.pending.has(key) && this.pending.size >= FAREWELLS_MAX) return;
    this.pending.set(key, { ...f, sent: 0, lastSentMs: -Infinity });
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
    if (m.lastLogTerm !== f.term || m.lastLogIndex < f.index) return;
    f.holds = true;
    f.sent = Math.min(f.sent, SENDS - 1);
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
        this.pending.delete(key);
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
