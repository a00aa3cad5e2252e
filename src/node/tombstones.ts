/**
 * Tombstones of destroyed replicas (replica-destroy.ts): a group this node applied its own removal from and
 * then destroyed (its Raft records, state-machine records and the user data of its range deleted). Persisted
 * under the node-local key `n/tombstones` as a codec record [[groupId, index, term, vote, reopened?]...],
 * written in the same LevelDB batch as the destroy, so a crash leaves either the replica or its tombstone,
 * never neither. Every write of the set goes through the store's one queue (NodeStore.writeLocal and
 * destroyGroup), so the writes land in the order their values were made.
 *
 * What a tombstone is for:
 *   - restart: a tombstoned group is not reopened (split-groups kvGroupsToOpen, the meta group);
 *   - stale messages: a message for a tombstoned group from a leader that has not learned of the removal
 *     yet does not reopen it (NodeHost.maybeOpenUninitialized, see reopenRule below);
 *   - votes: `term` and `vote` are the hard state the replica had when destroyed. A replica reopened after
 *     being added again starts from them (never from term 0), so it can never vote twice in one term.
 *   - the fence: a reopened replica keeps its tombstone, marked `reopened`, until a snapshot past the
 *     removal's `index` arrives (NodeHost.onSnapshot drops it then). Until then the replica grants no vote
 *     and refuses any snapshot at or below that index: a leader that holds the removal but has not applied
 *     it yet (elected after it committed) still names this node in its configuration, keeps contacting it,
 *     and may reopen it; its snapshot from before the removal would make the replica a voter again, and the
 *     replica's empty log would grant its vote to a candidate lacking the committed removal, which then
 *     overwrites it (simulator seed 8002834, apply-agreement). A snapshot past the removal comes only from a
 *     leader that applied the removal (before that its snapshots stop below it) and then added this node
 *     again (else it does not contact it), in an entry committed by a majority of the configuration without
 *     this node, all of whom hold the removal: no candidate lacking it can win after that, whatever this
 *     node grants; so the fence may go before the snapshot installs (a crash in between is safe).
 *     A restart does not open a fenced replica (its tombstone is there): the reopen rule opens it again.
 * Invariants: at most TOMBSTONES_MAX entries (past it the oldest by insertion are forgotten: such a group
 * could be reopened by a stale message as an idle uninitialized replica, which owns no keys and counts toward
 * no quorum); every loaded entry is checked (a malformed one is skipped, never trusted).
 */
import type { GroupId } from '../base';
import { decodeRecord, encodeRecord } from '../codec';
import type { BatchOp, StoreDb } from '../storage';

/** Where the set lives: NodeStore (its writeLocal orders the set's saves with destroyGroup's batches). */
export interface TombstoneStore {
  readonly db: StoreDb;
  writeLocal(ops: () => BatchOp[]): Promise<void>;
}

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
  /** The replica was opened again and waits, fenced, for a snapshot past `index` (see the header). */
  reopened?: boolean;
}

const isIndex = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

export class Tombstones {
  private readonly byGroup = new Map<GroupId, Tombstone>();

  private constructor(private readonly store: TombstoneStore | null) {}

  static async open(store: TombstoneStore | null): Promise<Tombstones> {
    const t = new Tombstones(store);
    const buf = store === null ? undefined : await store.db.get(TOMBSTONES_KEY);
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
      const [groupId, index, term, vote, reopened] = item as unknown[];
      if (!isIndex(groupId) || groupId < 1 || groupId > 0xffff_ffff) continue;
      if (!isIndex(index) || !isIndex(term) || !isIndex(vote)) continue;
      const entry: Tombstone = { groupId: groupId as GroupId, index, term, vote, atMs: 0 };
      if (reopened === 1) entry.reopened = true;
      t.byGroup.set(groupId as GroupId, entry);
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

  /**
   * Adds (or replaces) a tombstone in memory; returns the batch op that persists the whole set, for a
   * destroyGroup batch (which the store orders with save()'s writes).
   */
  add(t: Tombstone): BatchOp {
    this.byGroup.delete(t.groupId);
    this.byGroup.set(t.groupId, t);
    while (this.byGroup.size > TOMBSTONES_MAX) {
      const oldest = this.byGroup.keys().next().value as GroupId;
      this.byGroup.delete(oldest);
    }
    return this.op();
  }

  /** Marks a group's tombstone reopened (its replica is open again, fenced), in memory: save() persists it. */
  markReopened(groupId: number): void {
    const t = this.byGroup.get(groupId as GroupId);
    if (t !== undefined) t.reopened = true;
  }

  /** Forgets a group's tombstone (a snapshot past its removal reached the reopened replica), in memory: save() persists it. */
  remove(groupId: number): void {
    this.byGroup.delete(groupId as GroupId);
  }

  /**
   * Writes the set, synced, after every store write issued before (a destroy's batch carrying an older set
   * among them), with its value as of the write: an older set can never land last and bring back a
   * tombstone that was removed (a restart would then reopen that replica from the tombstone's term).
   */
  async save(): Promise<void> {
    if (this.store === null) return;
    await this.store.writeLocal(() => [this.op()]);
  }

  private op(): BatchOp {
    const items = [...this.byGroup.values()].map((t) =>
      t.reopened === true ? [t.groupId, t.index, t.term, t.vote, 1] : [t.groupId, t.index, t.term, t.vote],
    );
    return { type: 'put', key: TOMBSTONES_KEY, value: encodeRecord(items) };
  }
}

/**
 * May a leader's message reopen tombstoned group `t`? The rule: only a leader that keeps contacting this
 * node for two election timeouts after the tombstone was written. A leader sends to members of its
 * configuration only, and stops within milliseconds of applying our removal (or steps down within an
 * election timeout when it lost its quorum, CheckQuorum); so a contact that started after the destroy and
 * lasts that long most likely comes from a leader that added this node again. Safety does not rest on
 * that: the reopened replica is fenced (see the header), so a wrong reopen (a leader elected after the
 * removal committed that has not applied it yet, seed 8002834; a stale leader of an older term cut off with
 * this node, seed 672) costs an idle replica, never a vote, and the driver collects it.
 * The leader's term is not compared with the tombstone's: a removed replica's term may have climbed past its
 * group's before it was destroyed (campaigns without PreVote), and the group's leader must still be able to
 * add it again. The reopened replica then answers in its higher term, the leader steps down, and the group
 * elects in a later term: one election, after which the replica catches up.
 */
export function reopenAllowed(t: Tombstone, firstHeardMs: number, nowMs: number, electionMs: number): boolean {
  return firstHeardMs >= t.atMs && nowMs - firstHeardMs >= 2 * electionMs;
}
