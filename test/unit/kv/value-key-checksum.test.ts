/**
 * The value record's CRC covers the user key (codec/record.ts, format 3): a record that ends up under
 * another key (a flipped key byte in a table file) is refused by scans, gets and snapshots instead of being
 * served as a phantom key; legacy format 2 records (CRC over the value only) still read.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Level } from 'level';
import { join } from 'node:path';
import { RECORD_RAW, crc32c, dataKey } from '../../../src/codec';
import { StateMachine } from '../../../src/kv';
import { Log, Stores, b, put, whole } from './helpers';

const stores = new Stores();
afterEach(() => stores.cleanup());

/** Runs fn on the raw LevelDB of a closed store's data dir. */
async function onRawDb(dir: string, fn: (db: Level<Buffer, Buffer>) => Promise<void>): Promise<void> {
  const raw = new Level<Buffer, Buffer>(join(dir, 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await raw.open();
  try {
    await fn(raw);
  } finally {
    await raw.close();
  }
}

describe('value records carry a CRC over the user key', () => {
  it('a record moved to another key (last key byte flipped) is CORRUPTION for scans, gets and snapshots, never a phantom key', async () => {
    const s = await stores.make();
    const sm = await StateMachine.open(s.store, 1, whole, { sessionsMax: 10 });
    const log = new Log();
    log.add(put('user:1', 'fine'));
    log.add(put('user:7', 'secret'));
    await sm.apply(log.entries);
    await s.store.close();
    // What a flipped last byte of the stored key does: the record now lives under d/user:8, d/user:7 is gone.
    await onRawDb(s.dir, async (raw) => {
      const rec = (await raw.get(dataKey(b('user:7')))) as Buffer;
      await raw.batch([
        { type: 'del', key: dataKey(b('user:7')) },
        { type: 'put', key: dataKey(b('user:8')), value: rec },
      ]);
    });
    const store = await stores.reopen(s);
    const reported: Array<{ groupId: number; key: string }> = [];
    const onCorruptRead = (info: { groupId: number; key: string }) =>
      void reported.push({ groupId: info.groupId, key: info.key });
    const sm2 = await StateMachine.open(store, 1, whole, { sessionsMax: 10, onCorruptRead });
    await expect(sm2.scan(b(''), null, 10, 1 << 20)).rejects.toMatchObject({
      code: 'CORRUPTION',
      details: { key: 'd/user:8' },
    });
    await expect(sm2.get(b('user:8'))).rejects.toMatchObject({ code: 'CORRUPTION', details: { key: 'd/user:8' } });
    // Every refused read is reported (the node counts it in tessera_data_loss_total and logs each key once).
    expect(reported).toEqual([
      { groupId: 1, key: 'd/user:8' },
      { groupId: 1, key: 'd/user:8' },
    ]);
    expect((await sm2.get(b('user:1')))?.toString()).toBe('fine');
    // The original key is absent from LevelDB: nothing to check there (see codec/record.ts, Limit).
    expect(await sm2.get(b('user:7'))).toBeNull();
    // A page that ends before the damaged record is still served.
    expect((await sm2.scan(b(''), null, 1, 1 << 20)).items.map((kv) => kv.key.toString())).toEqual(['user:1']);
    await expect(sm2.get(b('\xff'))).resolves.toBeNull();
    expect(reported).toHaveLength(2);
    const reader = sm2.openSnapshot();
    await expect(
      (async () => {
        for await (const _ of reader) void _;
      })(),
    ).rejects.toMatchObject({ code: 'CORRUPTION', details: { key: 'd/user:8' } });
  });

  it('reads a legacy format 2 record written by an earlier version, and writes format 3 from then on', async () => {
    const s = await stores.make();
    await s.store.close();
    const old = Buffer.from('old value');
    const legacy = Buffer.concat([Buffer.from([RECORD_RAW, 0, 0, 0, 0]), old]);
    legacy.writeUInt32BE(crc32c(old), 1);
    await onRawDb(s.dir, (raw) => raw.put(dataKey(b('legacy')), legacy));
    const store = await stores.reopen(s);
    const sm2 = await StateMachine.open(store, 1, whole, { sessionsMax: 10 });
    expect((await sm2.get(b('legacy')))?.toString()).toBe('old value');
    expect((await sm2.scan(b(''), null, 10, 1 << 20)).items.map((kv) => kv.value.toString())).toEqual(['old value']);
    const log = new Log();
    log.add(put('legacy', 'new value'));
    await sm2.apply(log.entries);
    const stored = (await store.db.get(dataKey(b('legacy')))) as Buffer;
    expect(stored[0]).toBe(3);
    expect((await sm2.get(b('legacy')))?.toString()).toBe('new value');
  });

  it('a snapshot chunk whose value record belongs to another key is refused by the receiver', async () => {
    const src = await stores.make();
    const smSrc = await StateMachine.open(src.store, 1, whole, { sessionsMax: 10 });
    const log = new Log();
    log.add(put('a', '1'));
    await smSrc.apply(log.entries);
    const chunks: Buffer[] = [];
    for await (const c of smSrc.openSnapshot()) chunks.push(c);
    const { decodeChunk, encodeChunk } = await import('../../../src/kv/snapshot-chunk');
    const chunk = decodeChunk(chunks[0] as Buffer);
    const moved = encodeChunk({ ...chunk, items: chunk.items.map((it) => ({ ...it, key: b('b') })) });
    const dst = await stores.make();
    const smDst = await StateMachine.open(dst.store, 1, whole, { sessionsMax: 10 });
    await smDst.beginSnapshotStaging('s');
    await expect(smDst.stageChunk('s', moved)).rejects.toMatchObject({ code: 'CORRUPTION' });
  });
});
