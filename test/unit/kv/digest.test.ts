/**
 * StateMachine.digest (src/kv/digest.ts): equal data at equal applied indexes give equal digests; any
 * difference in a key, a value or the key set changes it; the applied index is the one the data reflects,
 * also when a snapshot install is running; one digest at a time per group.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { StateMachine } from '../../../src/kv';
import { Log, Stores, del, put, whole } from './helpers';
import type { Command } from '../../../src/codec';

const stores = new Stores();
afterEach(() => stores.cleanup());

async function machineWith(cmds: Command[]): Promise<StateMachine> {
  const { store } = await stores.make();
  const sm = await StateMachine.open(store, 1, whole, { sessionsMax: 100 });
  const log = new Log();
  for (const c of cmds) log.add(c);
  await sm.apply(log.entries);
  return sm;
}

const meta = (index: number) => ({ index, term: 3, config: { voters: [1, 2, 3], learners: [], votersOutgoing: [] } });

describe('replica digest', () => {
  it('is the SHA-256 of length-prefixed pairs in key order, at the applied index', async () => {
    const sm = await machineWith([put('b', '2'), put('a', '1'), put('c', 'x'), del('c')]);
    const d = await sm.digest();
    const h = createHash('sha256');
    for (const [k, v] of [
      ['a', '1'],
      ['b', '2'],
    ] as const) {
      const kl = Buffer.alloc(4);
      kl.writeUInt32BE(k.length);
      const vl = Buffer.alloc(4);
      vl.writeUInt32BE(v.length);
      h.update(kl).update(k).update(vl).update(v);
    }
    expect(d).toEqual({ groupId: 1, appliedIndex: 4, keyCount: 2, sha256: h.digest('hex') });
  });

  it('is equal for equal histories and differs for a value, a key or an extra key', async () => {
    const base = [put('k1', 'v1'), put('k2', 'v2')];
    const a = await (await machineWith(base)).digest();
    const same = await (await machineWith(base)).digest();
    const value = await (await machineWith([put('k1', 'v1'), put('k2', 'v3')])).digest();
    const key = await (await machineWith([put('k1', 'v1'), put('k3', 'v2')])).digest();
    // same pairs split differently between key and value must not collide
    const split = await (await machineWith([put('k1', 'v1'), put('k2v', '2')])).digest();
    expect(same).toEqual(a);
    for (const other of [value, key, split]) {
      expect(other.appliedIndex).toBe(a.appliedIndex);
      expect(other.sha256).not.toBe(a.sha256);
    }
    const extra = await (await machineWith([...base, put('k0', 'x')])).digest();
    expect(extra.keyCount).toBe(3);
    expect(extra.sha256).not.toBe(a.sha256);
  });

  it('waits out a snapshot install and then reports the installed index and data', async () => {
    const cmds: Command[] = [];
    for (let i = 0; i < 2000; i++) cmds.push(put(`key-${String(i).padStart(5, '0')}`, 'n'.repeat(2000)));
    const src = await machineWith(cmds);
    const dst = await machineWith([put('old', '1')]);
    await dst.beginSnapshotStaging('s1');
    for await (const c of src.openSnapshot({ chunkBytes: 256 * 1024 })) await dst.stageChunk('s1', c);
    const install = dst.installStaged('s1', meta(2000));
    await new Promise((r) => setImmediate(r));
    const during = dst.digest();
    await install;
    expect(await during).toEqual(await src.digest());
  });

  it('runs one at a time per group', async () => {
    const sm = await machineWith([put('a', '1')]);
    const first = sm.digest();
    await expect(sm.digest()).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    expect((await first).keyCount).toBe(1);
    expect((await sm.digest()).keyCount).toBe(1);
  });
});
