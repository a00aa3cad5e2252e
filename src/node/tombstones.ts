/**
 * Tombstones of destroyed replicas (replica-destroy.ts): a group this node applied its own removal from and
 * then destroyed (its Raft records, state-machine records and the user data of its range deleted). Persisted
 * under the node-local key `n/tombstones` as a codec record [[groupId, index, term, vote]...], written in the
 * same LevelDB batch as the destroy, so a crash leaves either the replica or its tombstone, never neither.
 *
 * What a tombstone is for:
 *   - restart: a tombstoned group is not reopened (split-groups kvGroupsToOpen, the meta group);
 *   - stale messages: a message for a tombstoned group from a leader that has not learned of the removal
 *     yet does not reopen it (NodeHost.maybeOpenUninitialized, see reopenRule below);
 *   - votes: `term` and `vote` are the hard state the replica had when destroyed. A replica reopened after
 *     being added again starts from them (never from term 0), so it can never vote twice in one term.
 * Invariants: at most TOMBSTONES_MAX entries (past it the oldest by insertion are forgotten: such a group
 * could be reopened by a stale message as an idle uninitialized replica, which owns no keys and counts toward
 * no quorum); every loaded entry is checked (a malformed one is skipped, never trusted).
 */
import type { GroupId } from '../base';
import { decodeRecord, encodeRecord } from '../codec';
import type { BatchOp, StoreDb } from '../storage';

export const TOMBSTONES_KEY = Buffer.from('n/tombstones');
/** Tombstones a node keeps (a few hundred bytes per thousand: far below any budget). */
export const TOMBSTONES_MAX = 4096;

export interface Tombstone {
  groupId: GroupId;
  /** The index of the applied config entry that removed this node. */
  index: number;
  /** The hard state's term and vote when the replica was destroyed. */
  term: number;
  vote: number;
  /** When it was written (performance.now() of this process; not persisted, 0 when loaded). */
  atMs: number;
}

const isIndex = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

export class Tombstones {
  private readonly byGroup = new Map<GroupId, Tombstone>();

  private constructor(private readonly db: StoreDb | null) {}

  static async open(db: StoreDb | null): Promise<Tombstones> {
    const t = new Tombstones(db);
    const buf = db === null ? undefined : await db.get(TOMBSTONES_KEY);
    if (buf === undefined) return t;
    let items: unknown;
    try {
      items = decodeRecord(buf, 'n/tombstones');
    } catch {
      return t; // a damaged node-local record: forget it (the groups' own records are gone anyway)
    }
    if (!Array.isArray(items)) return t;
    for (const item of items.slice(-TOMBSTONES_MAX)) {
      if (!Array.isArray(item) || item.length < 4) continue;
      const [groupId, index, term, vote] = item as unknown[];
      if (!isIndex(groupId) || groupId < 1 || groupId > 0xffff_ffff) continue;
      if (!isIndex(index) || !isIndex(term) || !isIndex(vote)) continue;
      t.byGroup.set(groupId as GroupId, { groupId: groupId as GroupId, index, term, vote, atMs: 0 });
    }
    return t;
  }

  has(groupId: number): boolean {
    return this.byGroup.has(groupId as GroupId);
  }

  get(groupId: number): Tombstone | undefined {
    return this.byGroup.get(groupId as GroupId);
  }

  get size(): number {
    return this.byGroup.size;
  }

  /** Adds (or replaces) a tombstone in memory; returns the batch op that persists the whole set. */
  add(t: Tombstone): BatchOp {
    this.byGroup.delete(t.groupId);
    this.byGroup.set(t.groupId, t);
    while (this.byGroup.size > TOMBSTONES_MAX) {
      const oldest = this.byGroup.keys().next().value as GroupId;
      this.byGroup.delete(oldest);
    }
    return this.op();
  }

  /** Forgets a group's tombstone (it was added again and reopened); the op persists the set. */
  remove(groupId: number): BatchOp {
    this.byGroup.delete(groupId as GroupId);
    return this.op();
  }

  /** Writes the set now (after remove(), outside a destroy batch). */
  async save(): Promise<void> {
    if (this.db === null) return;
    const op = this.op();
    if (op.type === 'put') await this.db.put(op.key, op.value);
  }

  private op(): BatchOp {
    const items = [...this.byGroup.values()].map((t) => [t.groupId, t.index, t.term, t.vote]);
    return { type: 'put', key: TOMBSTONES_KEY, value: encodeRecord(items) };
  }
}

/**
 * May a leader's message reopen tombstoned group `t`? The rule: only a leader that keeps contacting this
 * node for two election timeouts after the tombstone was written, in a term at least the tombstone's. A
 * leader sends to members of its configuration only, and stops within milliseconds of applying our removal
 * (or steps down within an election timeout when it lost its quorum, CheckQuorum); so a contact that
 * started after the destroy and lasts that long comes from a leader that added this node again. Either way
 * safety holds: the reopened replica is uninitialized (no configuration, owns no keys, filled only by a
 * snapshot) and keeps the tombstone's term and vote, so a wrong reopen costs an idle replica, never a vote.
 * The term condition carries that safety, not the timing: a leader in a term at least the tombstone's holds
 * the committed removal (leader completeness), so its configuration names this node only if it added it
 * again. Without it, a stale leader of an older term (cut off with this node, no CheckQuorum) reopens the
 * replica, whose empty log then grants its vote, and the stale leader's snapshot (from before the removal)
 * makes it a voter: the simulator found that at once (seed 672 with moves, apply-agreement).
 */
export function reopenAllowed(
  t: Tombstone,
  messageTerm: number,
  firstHeardMs: number,
  nowMs: number,
  electionMs: number,
): boolean {
  return messageTerm >= t.term && firstHeardMs >= t.atMs && nowMs - firstHeardMs >= 2 * electionMs;
}
