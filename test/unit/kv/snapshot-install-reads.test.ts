/**
 * Reads racing a snapshot install: the install clears the group's range, then copies the staged data back
 * in several batches. A read may see the state before the install or after it, never a key that exists
 * in both as absent (stale reads served thousands of such phantom absences before the fence).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { StateMachine } from '../../../src/kv';
import { Log, Stores, b, put, whole } from './helpers';

const stores = new Stores();
afterEach(() => stores.cleanup());

const KEYS = 3000;
const key = (i: number): string => `key-${String(i).padStart(5, '0')}`;
const meta = (index: number) => ({ index, term: 3, config: { voters: [1, 2, 3], learners: [], votersOutgoing: [] } });

/** A state machine holding every key (values of `valueBytes`, tagged with `tag`). */
async function machine(tag: string, valueBytes: number): Promise<StateMachine> {
  const { store } = await stores.make();
  const sm = await StateMachine.open(store, 1, whole, { sessionsMax: 100 });
  const log = new Log();
  for (let i = 0; i < KEYS; i++) log.add(put(key(i), `${tag}${i}:`.padEnd(valueBytes, 'v')));
  await sm.apply(log.entries);
  return sm;
}

describe('reads during a snapshot install', () => {
  it('never see a key absent that exists before and after the install (gets and scans)', async () => {
    const src = await machine('new', 3000); // about 9 MB: the install copies it back in several batches
    const dst = await machine('old', 100);
    await dst.beginSnapshotStaging('s1');
    for await (const c of src.openSnapshot({ chunkBytes: 256 * 1024 })) await dst.stageChunk('s1', c);

    let installed = false;
    const install = dst.installStaged('s1', meta(KEYS)).then(() => {
      installed = true;
    });
    const gets: Promise<{ i: number; v: Buffer | null }>[] = [];
    const scans: Promise<number>[] = [];
    let n = 0;
    const deadline = Date.now() + 30_000;
    while (!installed && Date.now() < deadline && n < 4000) {
      const i = (n * 7919) % KEYS;
      gets.push(dst.get(b(key(i))).then((v) => ({ i, v })));
      if (n % 10 === 0) scans.push(dst.scan(b(key(i)), null, 20, 1 << 20).then((p) => p.items.length));
      n++;
      await new Promise((r) => setImmediate(r));
    }
    await install;
    const got = await Promise.all(gets);
    const absent = got.filter((g) => g.v === null).length;
    const shortScans = (await Promise.all(scans)).filter(
      (len, j) => len < Math.min(20, KEYS - ((j * 10 * 7919) % KEYS)),
    ).length;
    expect(n).toBeGreaterThan(10); // the reads did race the install
    expect({ absent, shortScans }).toEqual({ absent: 0, shortScans: 0 });
    for (const g of got) expect(g.v!.toString('latin1')).toMatch(new RegExp(`^(old|new)${g.i}:`));
    // after the install every key has the snapshot's value
    expect((await dst.get(b(key(5))))!.toString('latin1')).toMatch(/^new5:/);
    expect(dst.applied).toBe(KEYS);
  }, 60_000);

  it('an install waits for a read in flight, and reads during it wait for its end', async () => {
    const src = await machine('new', 10);
    const dst = await machine('old', 10);
    await dst.beginSnapshotStaging('s2');
    for await (const c of src.openSnapshot()) await dst.stageChunk('s2', c);
    const before = dst.scan(b(''), null, KEYS, 1 << 30);
    const install = dst.installStaged('s2', meta(KEYS));
    const during = dst.get(b(key(1)));
    const [page, , v] = await Promise.all([before, install, during]);
    expect(page.items).toHaveLength(KEYS);
    expect(page.items.every((kv) => kv.value.toString().startsWith('old'))).toBe(true);
    expect(v!.toString()).toMatch(/^new1:/);
  }, 30_000);
});
