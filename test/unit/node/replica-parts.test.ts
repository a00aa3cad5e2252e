// The pure parts of per-shard replica changes: tombstones (persisted, bounded, hostile records skipped,
// the reopen rule), farewells (sent only once the removed node holds its removal, a bounded number of
// times), and which applied entries remove this node.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { GroupId, NodeId } from '../../../src/base';
import { encodeRecord } from '../../../src/codec';
import type { Entry, MembershipChange } from '../../../src/raft';
import { NodeStore } from '../../../src/storage';
import { FAREWELLS_MAX, Farewells } from '../../../src/node/farewells';
import { removalOfSelf } from '../../../src/node/replica-destroy';
import { TOMBSTONES_KEY, TOMBSTONES_MAX, Tombstones, reopenAllowed } from '../../../src/node/tombstones';

let dir = '';
afterEach(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
  dir = '';
});

async function openStore(): Promise<NodeStore> {
  dir = await mkdtemp(join(tmpdir(), 'tessera-replica-parts-'));
  return NodeStore.open(dir);
}

const g = (n: number) => n as GroupId;

describe('tombstones', () => {
  it('persist through their batch op, reload, and skip malformed items of a damaged record', async () => {
    const store = await openStore();
    const t = await Tombstones.open(store);
    const op = t.add({ groupId: g(7), index: 12, term: 3, vote: 2, atMs: 1 });
    if (op.type !== 'put') throw new Error('expected a put');
    await store.db.put(op.key, op.value);
    const again = await Tombstones.open(store);
    expect(again.get(7)).toMatchObject({ groupId: 7, index: 12, term: 3, vote: 2 });
    // Hostile or damaged items: wrong shapes, ids out of range, negative numbers.
    await store.db.put(
      TOMBSTONES_KEY,
      encodeRecord([[0, 1, 1, 1], [9, -1, 1, 1], 'x', [2 ** 33, 1, 1, 1], [5, 1.5, 1, 1], [11, 4, 2, 0]]),
    );
    const parsed = await Tombstones.open(store);
    expect(parsed.size).toBe(1);
    expect(parsed.has(11)).toBe(true);
    await store.db.put(TOMBSTONES_KEY, Buffer.from('not a record'));
    expect((await Tombstones.open(store)).size).toBe(0);
    await store.close();
  });

  it('keep at most TOMBSTONES_MAX, forgetting the oldest', async () => {
    const t = await Tombstones.open(null);
    for (let i = 1; i <= TOMBSTONES_MAX + 3; i++) t.add({ groupId: g(i), index: 1, term: 1, vote: 0, atMs: 0 });
    expect(t.size).toBe(TOMBSTONES_MAX);
    expect(t.has(1)).toBe(false);
    expect(t.has(TOMBSTONES_MAX + 3)).toBe(true);
    t.remove(TOMBSTONES_MAX + 3);
    expect(t.has(TOMBSTONES_MAX + 3)).toBe(false);
  });

  it('reopen only for a contact that began after the tombstone and lasted two election timeouts (fenced: any term)', () => {
    const t = { groupId: g(5), index: 10, term: 4, vote: 1, atMs: 1000 };
    expect(reopenAllowed(t, 1100, 1100 + 600, 300)).toBe(true);
    expect(reopenAllowed(t, 1100, 1100 + 599, 300)).toBe(false); // not long enough
    expect(reopenAllowed(t, 900, 5000, 300)).toBe(false); // heard before the destroy
  });

  it('a reopened tombstone keeps its fence across a restart, and is dropped on remove', async () => {
    const store = await openStore();
    const t = await Tombstones.open(store);
    t.add({ groupId: g(7), index: 12, term: 3, vote: 2, atMs: 0 });
    await t.save();
    expect((await Tombstones.open(store)).get(7)?.reopened).toBeUndefined();
    t.markReopened(7);
    await t.save();
    expect((await Tombstones.open(store)).get(7)).toMatchObject({ index: 12, term: 3, vote: 2, reopened: true });
    t.remove(7);
    await t.save();
    expect((await Tombstones.open(store)).has(7)).toBe(false);
    await store.close();
  });

  it('save() lands after a destroy batch issued before it, whose older set it replaces', async () => {
    // The destroy's batch carries the set as of add() (tombstone 7 in it); the fence then removes 7 and saves.
    // Both writes are in flight together: without one queue for both, the save's put reached LevelDB first
    // (the destroy lists its group's keys before writing), the destroy's older set landed last and brought 7
    // back, and a restart would reopen that replica from the tombstone.
    const store = await openStore();
    const t = await Tombstones.open(store);
    await store.persist([{ groupId: g(7), hardState: { term: 3, vote: 2, commit: 0 }, entries: [], snapshot: null }]);
    const destroyed = store.destroyGroup(7, [], [t.add({ groupId: g(7), index: 12, term: 3, vote: 2, atMs: 0 })]);
    t.remove(7);
    const saved = t.save();
    await Promise.all([destroyed, saved]);
    expect((await Tombstones.open(store)).has(7)).toBe(false);
    await store.close();
  });
});

describe('farewells', () => {
  const base = { groupId: g(3), node: 4 as NodeId, index: 20, term: 2, match: 15, untilMs: 10_000 };

  it('name a node as forgotten once its last pending farewell expired, in any group', () => {
    const f = new Farewells();
    f.add({ ...base, holds: true });
    f.add({ ...base, groupId: g(5), holds: false, untilMs: 20_000 });
    expect(f.isPendingFor(4 as NodeId)).toBe(true);
    expect(f.isPendingFor(5 as NodeId)).toBe(false);
    f.due(1 as NodeId, 15_000, 100); // group 3's expired, group 5's still pending
    expect(f.takeForgotten()).toEqual([]);
    expect(f.isPendingFor(4 as NodeId)).toBe(true);
    f.catchUpsDue(25_000);
    expect(f.isPendingFor(4 as NodeId)).toBe(false);
    expect(f.takeForgotten()).toEqual([4]);
    expect(f.takeForgotten()).toEqual([]);
  });

  it('are sent only once the removed node holds its removal, at most three times, one interval apart', () => {
    const f = new Farewells();
    f.add({ ...base, holds: false });
    expect(f.due(1 as NodeId, 0, 100)).toEqual([]);
    f.observe(g(3), {
      type: 'appendResp',
      from: 4,
      to: 1,
      term: 2,
      reject: false,
      index: 19,
      rejectHint: 0,
      hintTerm: 0,
    });
    expect(f.due(1 as NodeId, 0, 100)).toEqual([]); // acked below the removal
    f.observe(g(3), {
      type: 'appendResp',
      from: 4,
      to: 1,
      term: 1,
      reject: false,
      index: 25,
      rejectHint: 0,
      hintTerm: 0,
    });
    expect(f.due(1 as NodeId, 0, 100)).toEqual([]); // another term
    f.observe(g(3), {
      type: 'appendResp',
      from: 4,
      to: 1,
      term: 2,
      reject: true,
      index: 25,
      rejectHint: 0,
      hintTerm: 0,
    });
    expect(f.due(1 as NodeId, 0, 100)).toEqual([]); // a rejection
    f.observe(g(3), {
      type: 'appendResp',
      from: 4,
      to: 1,
      term: 2,
      reject: false,
      index: 20,
      rejectHint: 0,
      hintTerm: 0,
    });
    const first = f.due(1 as NodeId, 0, 100);
    expect(first).toEqual([
      { groupId: 3, message: { type: 'heartbeat', from: 1, to: 4, term: 2, commit: 20, context: 0 } },
    ]);
    expect(f.due(1 as NodeId, 50, 100)).toEqual([]);
    expect(f.due(1 as NodeId, 100, 100)).toHaveLength(1);
    expect(f.due(1 as NodeId, 200, 100)).toHaveLength(1);
    expect(f.due(1 as NodeId, 300, 100)).toEqual([]);
    expect(f.size).toBe(1); // kept until its deadline: the removed node may still ask
  });

  it('a vote request of the removed node proves it holds the removal (last entry of the term, at or past it): one more send', () => {
    const f = new Farewells();
    f.add({ ...base, holds: false });
    const preVote = (lastLogIndex: number, lastLogTerm: number) =>
      ({ type: 'preVote', from: 4, to: 1, term: 2, lastLogIndex, lastLogTerm }) as const;
    f.observe(g(3), preVote(25, 1)); // an older term's entry: not necessarily ours
    f.observe(g(3), preVote(19, 2)); // before the removal
    expect(f.due(1 as NodeId, 0, 100)).toEqual([]);
    f.observe(g(3), preVote(21, 2));
    for (const t of [0, 100, 200]) expect(f.due(1 as NodeId, t, 100)).toHaveLength(1);
    expect(f.due(1 as NodeId, 300, 100)).toEqual([]);
    f.observe(g(3), preVote(20, 2)); // asks again: the farewells were lost
    expect(f.due(1 as NodeId, 400, 100)).toHaveLength(1);
    expect(f.due(1 as NodeId, 500, 100)).toEqual([]);
  });

  it('a campaign from behind the removal asks for one catch-up per campaign, bounded, none once it holds', () => {
    const f = new Farewells();
    f.add({ ...base, holds: false });
    const preVote = (lastLogIndex: number, lastLogTerm: number) =>
      ({ type: 'preVote', from: 4, to: 1, term: 2, lastLogIndex, lastLogTerm }) as const;
    expect(f.catchUpsDue(0)).toEqual([]);
    f.observe(g(3), preVote(17, 2));
    f.observe(g(3), preVote(18, 2)); // the same campaign, to this node again: the latest counts
    expect(f.catchUpsDue(0)).toEqual([
      { groupId: 3, node: 4, term: 2, index: 20, candidate: { index: 18, term: 2 }, match: 15 },
    ]);
    expect(f.catchUpsDue(0)).toEqual([]); // one per campaign
    for (let i = 0; i < 20; i++) {
      f.observe(g(3), preVote(18, 2));
      f.catchUpsDue(0);
    }
    f.observe(g(3), preVote(18, 2));
    expect(f.catchUpsDue(0)).toEqual([]); // bounded
    const h = new Farewells();
    h.add({ ...base, holds: false });
    h.observe(g(3), preVote(17, 2));
    h.observe(g(3), preVote(20, 2)); // it got the removal after all: a heartbeat will do
    expect(h.catchUpsDue(0)).toEqual([]);
    expect(h.due(1 as NodeId, 0, 100)).toHaveLength(1);
  });

  it('expire at their deadline and are bounded', () => {
    const f = new Farewells();
    f.add({ ...base, holds: true });
    expect(f.due(1 as NodeId, 20_000, 100)).toEqual([]);
    expect(f.size).toBe(0);
    for (let i = 0; i < FAREWELLS_MAX + 10; i++) f.add({ ...base, node: (i + 1) as NodeId, holds: false });
    expect(f.size).toBe(FAREWELLS_MAX);
  });
});

describe('removalOfSelf', () => {
  const config = (index: number, change: MembershipChange) => ({ kind: 'config', term: 1, index, change }) as Entry;
  it('finds the entry that removes this node, by change or by whole configuration', () => {
    const entries: Entry[] = [
      { kind: 'normal', term: 1, index: 1, data: new Uint8Array() },
      config(2, { type: 'removeNode', node: 2 }),
      config(3, { type: 'addLearner', node: 3 }),
    ];
    expect(removalOfSelf(entries, 3 as NodeId)).toBeNull();
    expect(removalOfSelf(entries, 2 as NodeId)).toBe(2);
    const whole = {
      kind: 'config',
      term: 1,
      index: 4,
      change: { type: 'addLearner', node: 5 },
      config: { voters: [1, 2], learners: [5], votersOutgoing: [] },
    } as Entry;
    expect(removalOfSelf([whole], 3 as NodeId)).toBe(4);
    expect(removalOfSelf([whole], 2 as NodeId)).toBeNull();
  });
});
