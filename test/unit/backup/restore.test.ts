/**
 * restoreBackup (src/backup/restore.ts): seeds a data dir a node opens as a restored group 1 holding every
 * key in the backup's shard layout (identical on every node: data, Raft state, applied index, the meta
 * shard's descriptors and registry), with a new cluster id; refuses a
 * non-empty data dir, a damaged file and a token naming the old cluster, writing nothing in each case.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RESTORE_INDEX, restoreBackup, restoredClusterId } from '../../../src/backup';
import { dataRange, decodeValueRecord, shardRecordKey, userKeyOf } from '../../../src/codec';
import { MetaStateMachine } from '../../../src/meta';
import { NodeStore, deriveClusterId, loadIdentity } from '../../../src/storage';
import { TWO_SHARDS, writeTestBackup } from './helpers';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-restore-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const peers = new Map([
  [1, '127.0.0.1:7101'],
  [2, '127.0.0.1:7102'],
  [3, '127.0.0.1:7103'],
]);

async function dump(dataDir: string) {
  const store = await NodeStore.open(dataDir);
  try {
    const data: [string, string][] = [];
    for await (const [k, v] of store.db.iterator({ ...dataRange(Buffer.alloc(0), null) }))
      data.push([userKeyOf(k).toString(), decodeValueRecord(v, userKeyOf(k), 'k').toString()]);
    const groups = await store.listGroups();
    const states = await Promise.all(groups.map((g) => store.loadGroup(g)));
    const records = [];
    for (const g of groups) records.push(await store.db.get(shardRecordKey(g)));
    const meta = await MetaStateMachine.open(store, 2);
    const descriptors = meta
      .shardMap!.descriptors()
      .map((d) => [
        d.id,
        Buffer.from(d.start).toString(),
        d.end === null ? null : Buffer.from(d.end).toString(),
        d.epoch,
      ]);
    return {
      data,
      states,
      records,
      groups,
      meta: { applied: meta.applied, clusterId: meta.clusterId, descriptors, nodes: meta.nodes() },
      identity: await loadIdentity(store.db),
    };
  } finally {
    await store.close();
  }
}

describe('restoreBackup', () => {
  it("seeds every node with the same state: every key, the backup's shards, the same indexes, a new cluster id", async () => {
    const file = join(dir, 'b.tbak');
    const { sha256 } = await writeTestBackup(file, TWO_SHARDS);
    const states = [];
    for (const id of [1, 2, 3]) {
      const r = await restoreBackup({ file, nodeId: id, peers, dataDir: join(dir, `n${id}`) });
      expect(r.keys).toBe(6);
      expect(r.sourceClusterId).toBe('a'.repeat(32));
      expect(r.clusterId).toBe(restoredClusterId(null, peers, Buffer.from(sha256, 'hex')));
      expect(r.clusterId).not.toBe(r.sourceClusterId);
      expect(r.clusterId).not.toBe(deriveClusterId(null, peers)); // not the id a fresh cluster on these peers gets
      expect(readdirSync(join(dir, `n${id}`))).toEqual(['db']);
      states.push(await dump(join(dir, `n${id}`)));
    }
    const [first] = states;
    expect(first!.data).toEqual([...TWO_SHARDS[0]!.keys, ...TWO_SHARDS[1]!.keys]);
    // The layout is kept: data shards 1 ['', m) and 3 [m, end), the meta shard 2 after 3 commands.
    expect(first!.groups).toEqual([1, 2, 3]);
    expect(first!.meta.descriptors).toEqual([
      [1, '', 'm', 2],
      [3, 'm', null, 2],
    ]);
    expect(first!.meta.applied).toBe(3); // bootstrap, reserveShardIds, split
    expect(first!.meta.clusterId).toBe(first!.identity!.clusterId);
    expect(first!.meta.nodes.map((n) => [n.id, n.address, n.state])).toEqual(
      [...peers].map(([id, a]) => [id, a, 'up']),
    );
    const [g1, g2, g3] = first!.states;
    for (const g of [g1, g3])
      expect(g).toMatchObject({
        applied: RESTORE_INDEX,
        entries: [],
        hardState: { term: 1, vote: 0, commit: RESTORE_INDEX },
        snapshot: { index: RESTORE_INDEX, term: 1, config: { voters: [1, 2, 3], learners: [] } },
      });
    expect(g2).toMatchObject({ applied: 3, entries: [], snapshot: { index: 3, config: { voters: [1, 2, 3] } } });
    expect(first!.records[1]).toBeUndefined(); // the meta group has no shard record
    for (const [i, s] of states.entries()) {
      expect(s.data).toEqual(first!.data);
      expect(s.states).toEqual(first!.states);
      expect(s.records).toEqual(first!.records);
      expect(s.meta).toEqual(first!.meta);
      expect(s.identity).toEqual({
        nodeId: i + 1,
        clusterId: states[0]!.identity!.clusterId,
        bootstrapPeers: [...peers],
      });
    }
  });

  it("with --cluster-token, the id is the token's (as tessera start checks); the old cluster's token is refused", async () => {
    const file = join(dir, 'b.tbak');
    await writeTestBackup(file, TWO_SHARDS, deriveClusterId('old-token', new Map()));
    const r = await restoreBackup({ file, nodeId: 2, peers, dataDir: join(dir, 'n2'), clusterToken: 'new-token' });
    expect(r.clusterId).toBe(deriveClusterId('new-token', new Map()));
    await expect(
      restoreBackup({ file, nodeId: 1, peers, dataDir: join(dir, 'n1'), clusterToken: 'old-token' }),
    ).rejects.toThrow(/a restored cluster is a new cluster: give it a new token/);
    expect(existsSync(join(dir, 'n1'))).toBe(false);
  });

  it('refuses a non-empty data dir and leaves it as it was', async () => {
    const file = join(dir, 'b.tbak');
    await writeTestBackup(file, TWO_SHARDS);
    const dataDir = join(dir, 'busy');
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'keep.txt'), 'x');
    const e = await restoreBackup({ file, nodeId: 1, peers, dataDir }).then(
      () => new Error('accepted') as Error & { code: string },
      (err: unknown) => err as Error & { code: string },
    );
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe('CONFIG');
    expect(e.message).toMatch(/is not empty .*give it an empty or new directory/);
    expect(readdirSync(dataDir)).toEqual(['keep.txt']);
    // An empty existing directory is fine.
    mkdirSync(join(dir, 'empty'));
    await restoreBackup({ file, nodeId: 1, peers, dataDir: join(dir, 'empty') });
    expect(readdirSync(join(dir, 'empty'))).toEqual(['db']);
  });

  it('refuses a damaged or truncated file before writing anything', async () => {
    const file = join(dir, 'b.tbak');
    await writeTestBackup(file, TWO_SHARDS);
    const original = readFileSync(file);
    const altered = Buffer.from(original);
    altered[60] = altered[60]! ^ 0xff;
    writeFileSync(file, altered);
    await expect(restoreBackup({ file, nodeId: 1, peers, dataDir: join(dir, 'n1') })).rejects.toThrow(
      /checksum mismatch/,
    );
    writeFileSync(file, original.subarray(0, original.length - 7));
    await expect(restoreBackup({ file, nodeId: 1, peers, dataDir: join(dir, 'n1') })).rejects.toThrow(/truncated/);
    mkdirSync(join(dir, 'given'));
    await expect(restoreBackup({ file, nodeId: 1, peers, dataDir: join(dir, 'given') })).rejects.toThrow(/truncated/);
    expect(existsSync(join(dir, 'n1'))).toBe(false);
    expect(readdirSync(join(dir, 'given'))).toEqual([]);
  });

  it('refuses an --id that is not among --peers', async () => {
    const file = join(dir, 'b.tbak');
    await writeTestBackup(file, TWO_SHARDS);
    await expect(restoreBackup({ file, nodeId: 4, peers, dataDir: join(dir, 'n4') })).rejects.toThrow(
      /--id 4 is not one of --peers/,
    );
  });
});
