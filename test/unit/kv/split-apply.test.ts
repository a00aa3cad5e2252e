/**
 * The split command applied by the KV state machine over real LevelDB (kv/split-apply.ts): the range and
 * epoch narrow with the applied index, later writes for the right-hand side are wrongShard, the right-hand
 * group opens from the state the split wrote with the parent's sessions, refusals change nothing, and
 * everything survives a reopen.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { appliedKey, sessionRange, shardRecordKey } from '../../../src/codec';
import type { CommandResult } from '../../../src/codec';
import type { Entry } from '../../../src/raft';
import { SPLIT_INITIAL_INDEX, StateMachine, splitRefusalError } from '../../../src/kv';
import { Stores, b, put, whole } from './helpers';
import { AT_MS, RIGHT, beforeSplit, entriesFrom, fput, open, rightEntries, split } from './split-fixture';

const stores = new Stores();
afterEach(() => stores.cleanup());

const str = (v: Buffer | null): string | null => (v === null ? null : v.toString());

describe('split apply', () => {
  it('every configuration entry moves the epoch by one (persisted); a split planned before one is refused', async () => {
    const { store } = await stores.make();
    const sm = await open(store);
    const config = (index: number): Entry => ({
      kind: 'config',
      term: 1,
      index,
      change: { type: 'addLearner', node: 9 },
    });
    // A learner added and promoted (two entries), then a split planned against the epoch before them.
    const results = await sm.apply([
      ...entriesFrom(1, [put('a', '1')]),
      config(2),
      config(3),
      ...entriesFrom(4, [split('k', 1)]),
    ]);
    expect(sm.epoch).toBe(3);
    expect(results.get(4)).toMatchObject({ type: 'splitRefused', rule: 'epoch-mismatch', epoch: 3 });
    // Planned against the current epoch: applies (parent+1), and a configuration entry in the same call
    // after it counts from the split's epoch.
    await sm.apply([...entriesFrom(5, [split('k', 3)]), config(6)]);
    expect(sm.shard).toEqual({ start: b(''), end: b('k'), epoch: 5 });
    const again = await open(store);
    expect(again.shard).toEqual({ start: b(''), end: b('k'), epoch: 5 });
  });

  it('narrows the range with the applied index; later writes for the right-hand side are wrongShard', async () => {
    const { store } = await stores.make();
    const sm = await open(store);
    const cmds = [...beforeSplit, split('k'), put('z', 'after'), put('b', 'after')];
    const entries = entriesFrom(1, cmds);
    const splitIndex = beforeSplit.length + 1;
    let endAtResults: Buffer | null | 'unset' = 'unset';
    const results = await sm.apply(entries, () => {
      endAtResults = sm.shard.end;
    });
    expect(results.get(splitIndex)).toEqual({
      type: 'split',
      left: { start: b(''), end: b('k'), epoch: 2 },
      right: { groupId: RIGHT, start: b('k'), end: null, epoch: 2 },
      rightState: 'created',
    });
    expect(results.get(splitIndex + 1)).toEqual({ type: 'wrongShard' });
    expect(results.get(splitIndex + 2)).toEqual({ type: 'put' });
    // Before the batch is written the published range (what reads see) is still the old one.
    expect(endAtResults).toBeNull();
    expect(sm.shard).toEqual({ start: b(''), end: b('k'), epoch: 2 });
    expect(sm.epoch).toBe(2);
    expect(sm.applied).toBe(splitIndex + 2);
    expect(await store.db.get(shardRecordKey(1))).toBeDefined();
    await expect(sm.get(b('z'))).rejects.toMatchObject({ code: 'WRONG_SHARD' });
    await expect(sm.get(b('m'))).rejects.toMatchObject({ code: 'WRONG_SHARD' });
    expect(str(await sm.get(b('b')))).toBe('after');
    const page = await sm.scan(b(''), null, 100, 1 << 20);
    expect(page.items.map((kv) => kv.key.toString())).toEqual(['a', 'b']);
    expect(page).toMatchObject({ more: true, nextStart: b('k') });
    // A scan starting where the group no longer reaches is WRONG_SHARD (the SDK routes again), not a page.
    await expect(sm.scan(b('k'), null, 100, 1 << 20)).rejects.toMatchObject({ code: 'WRONG_SHARD' });
    await expect(sm.scan(b('z'), null, 100, 1 << 20)).rejects.toMatchObject({ code: 'WRONG_SHARD' });

    // A later call: still refused on the parent; the key was never written.
    const later = await sm.apply(entriesFrom(splitIndex + 3, [put('q', 'late')]));
    expect(later.get(splitIndex + 3)).toEqual({ type: 'wrongShard' });

    const right = await open(store, RIGHT, { start: b('k'), end: null });
    expect(right.shard).toEqual({ start: b('k'), end: null, epoch: 2 });
    expect(right.applied).toBe(SPLIT_INITIAL_INDEX);
    expect(str(await right.get(b('m')))).toBe('2');
    expect(await right.get(b('z'))).toBeNull();
    expect(await right.get(b('q'))).toBeNull();
    await expect(right.get(b('a'))).rejects.toMatchObject({ code: 'WRONG_SHARD' });
  });

  it('copies the session table: a write retried on the right-hand side is answered, not applied twice', async () => {
    const { store } = await stores.make();
    const sm = await open(store);
    await sm.apply(entriesFrom(1, [...beforeSplit, split('k')]));
    const right = await open(store, RIGHT, { start: b('k'), end: null });
    expect(right.sessionClientIds().sort()).toEqual(['s1', 's2']);
    expect(right.logClockMs).toBe(sm.logClockMs);
    expect(right.logClockMs).toBe(AT_MS);
    const r = await right.apply(
      rightEntries([
        fput('m', '1', 's1', 1), // retry of s1's seq 1 (fingerprinted): the remembered result
        { ...put('n', '1', { clientId: 's2', seq: 1 }), atMs: AT_MS }, // legacy retry: remembered too
        fput('m', '3', 's1', 2), // s1's next write applies
      ]),
    );
    const at = (i: number): CommandResult | undefined => r.get(SPLIT_INITIAL_INDEX + i);
    expect(at(1)).toEqual({ type: 'put' });
    expect(at(2)).toEqual({ type: 'put' });
    expect(at(3)).toEqual({ type: 'put' });
    expect(str(await right.get(b('n')))).toBe('2');
    expect(str(await right.get(b('m')))).toBe('3');
    // The parent keeps its own sessions.
    expect(sm.sessionClientIds().sort()).toEqual(['s1', 's2']);
  });

  it('refuses a split planned against another epoch, and a retried split, changing nothing', async () => {
    const { store } = await stores.make();
    const sm = await open(store);
    const r = await sm.apply(entriesFrom(1, [put('z', '1'), split('k', 0), split('k', 2, RIGHT, 3)]));
    expect(r.get(2)).toMatchObject({ type: 'splitRefused', rule: 'epoch-mismatch', epoch: 1 });
    expect(r.get(3)).toMatchObject({ type: 'splitRefused', rule: 'epoch-mismatch', epoch: 1 });
    const refused = r.get(2) as Extract<CommandResult, { type: 'splitRefused' }>;
    expect(splitRefusalError(refused)).toMatchObject({ code: 'WRONG_SHARD', details: { epoch: 1 } });
    expect(splitRefusalError({ ...refused, rule: 'bad-split' })).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(sm.shard).toEqual({ start: b(''), end: null, epoch: 1 });
    expect(sm.applied).toBe(3);
    expect(str(await sm.get(b('z')))).toBe('1');
    expect(await store.db.get(shardRecordKey(1))).toBeUndefined();
    expect(await store.db.get(appliedKey(RIGHT))).toBeUndefined();
    const again = await sm.apply(entriesFrom(4, [split('k', 1), split('k', 1, 3)]));
    expect(again.get(4)).toMatchObject({ type: 'split', rightState: 'created' });
    expect(again.get(5)).toMatchObject({ type: 'splitRefused', rule: 'epoch-mismatch', epoch: 2 });
    expect(await store.db.get(appliedKey(3))).toBeUndefined();
  });

  it('refuses a split key at or outside the range bounds and a right-hand id equal to the parent', async () => {
    const { store } = await stores.make();
    const sm = await open(store, 1, { start: b('c'), end: b('m') });
    const bad = [split('c'), split('a'), split('m'), split('z'), split('f', 1, 1)];
    const r = await sm.apply(entriesFrom(1, bad));
    for (let i = 1; i <= bad.length; i++) expect(r.get(i)).toMatchObject({ type: 'splitRefused', rule: 'bad-split' });
    expect(sm.shard).toEqual({ start: b('c'), end: b('m'), epoch: 1 });
    expect(await store.db.get(shardRecordKey(1))).toBeUndefined();
    const ok = await sm.apply(entriesFrom(6, [split('ca')]));
    expect(ok.get(6)).toMatchObject({
      type: 'split',
      left: { start: b('c'), end: b('ca'), epoch: 2 },
      right: { groupId: RIGHT, start: b('ca'), end: b('m'), epoch: 2 },
    });
  });

  it('reopens both groups from their records; a group without one opens at epoch 1 or the epoch given', async () => {
    const s = await stores.make();
    const sm = await open(s.store);
    await sm.apply(entriesFrom(1, [...beforeSplit, split('k')]));
    const store = await stores.reopen(s);
    const parent = await open(store, 1, whole); // the range it was created with: the record wins
    expect(parent.shard).toEqual({ start: b(''), end: b('k'), epoch: 2 });
    expect(parent.applied).toBe(beforeSplit.length + 1);
    await expect(parent.get(b('m'))).rejects.toMatchObject({ code: 'WRONG_SHARD' });
    const right = await open(store, RIGHT, whole);
    expect(right.shard).toEqual({ start: b('k'), end: null, epoch: 2 });
    expect(right.applied).toBe(SPLIT_INITIAL_INDEX);
    const sessions: string[] = [];
    for await (const k of store.db.keys({ ...sessionRange(RIGHT) })) sessions.push(k.toString('utf8', 16));
    expect(sessions.sort()).toEqual(['s1', 's2']);
    const plain = await open(store, 5, { start: b('x'), end: null });
    expect(plain.shard).toEqual({ start: b('x'), end: null, epoch: 1 });
    const given = await StateMachine.open(store, 6, whole, { sessionsMax: 10, epoch: 4 });
    expect(given.epoch).toBe(4);
  });

  it('splits again at the new epoch, each half at the epoch its split gave', async () => {
    const { store } = await stores.make();
    const sm = await open(store);
    await sm.apply(entriesFrom(1, [split('k'), split('d', 2, 3), put('c', '1'), put('e', '1')]));
    expect(sm.shard).toEqual({ start: b(''), end: b('d'), epoch: 3 });
    const third = await open(store, 3, whole);
    expect(third.shard).toEqual({ start: b('d'), end: b('k'), epoch: 3 });
    expect(await third.get(b('e'))).toBeNull();
    expect(str(await sm.get(b('c')))).toBe('1');
  });
});
