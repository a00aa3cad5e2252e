import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { encodeRecord } from '../../../src/codec';
import { AddressBook, peersContradiction, readStoredMembership } from '../../../src/node';
import type { ConfigState, Entry, MembershipChange } from '../../../src/raft';
import { NodeStore, deriveClusterId, loadIdentity, saveIdentity } from '../../../src/storage';
import { tempDir } from './temp-dir';

// Identity records (n/identity) and the stored-membership reader, on a real NodeStore in a temp dir.

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function fresh(): Promise<{ dir: string; store: NodeStore }> {
  const t = await tempDir('tessera-identity-');
  const store = await NodeStore.open(t.dir);
  cleanups.push(async () => {
    await store.close();
    await t.cleanup();
  });
  return { dir: t.dir, store };
}

const peers3 = new Map([
  [1, '127.0.0.1:1'],
  [2, '127.0.0.1:2'],
  [3, '127.0.0.1:3'],
]);
const boot3: [number, string][] = [...peers3.entries()];

describe('identity records', () => {
  it('round-trips through the store and survives a reopen; an empty store has none', async () => {
    const { dir, store } = await fresh();
    expect(await loadIdentity(store.db)).toBeNull();
    await saveIdentity(store.db, {
      nodeId: 2,
      clusterId: deriveClusterId('secret', new Map()),
      bootstrapPeers: [
        [3, 'c:3'],
        [1, 'a:1'],
      ],
    });
    await store.close();
    const again = await NodeStore.open(dir);
    try {
      expect(await loadIdentity(again.db)).toEqual({
        nodeId: 2,
        clusterId: deriveClusterId('secret', new Map()),
        bootstrapPeers: [
          [1, 'a:1'],
          [3, 'c:3'],
        ],
      });
      await saveIdentity(again.db, { nodeId: 4, clusterId: null, bootstrapPeers: [] });
      expect(await loadIdentity(again.db)).toEqual({ nodeId: 4, clusterId: null, bootstrapPeers: [] });
    } finally {
      await again.close();
    }
  });

  it('a record with a bad checksum or shape is CORRUPTION naming n/identity', async () => {
    const { store } = await fresh();
    await saveIdentity(store.db, { nodeId: 1, clusterId: null, bootstrapPeers: [] });
    const buf = (await store.db.get(Buffer.from('n/identity')))!;
    buf[buf.length - 1] ^= 0xff;
    await store.db.put(Buffer.from('n/identity'), buf);
    await expect(loadIdentity(store.db)).rejects.toMatchObject({ code: 'CORRUPTION', details: { key: 'n/identity' } });
    for (const bad of [[1, 0, null, []], [2, 1, null, []], [1, 1, 'not-hex', []], [1, 1, null, [[1]]], 'x']) {
      await store.db.put(Buffer.from('n/identity'), encodeRecord(bad));
      const e = await loadIdentity(store.db).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(TesseraError);
      expect((e as TesseraError).code).toBe('CORRUPTION');
    }
  });

  it('derives the cluster id from the token, else from the sorted peers', () => {
    const hex = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 32);
    expect(deriveClusterId('T', peers3)).toBe(hex('tessera-cluster-id\0T'));
    expect(deriveClusterId(null, peers3)).toBe(hex('tessera-cluster-id\x001=127.0.0.1:1,2=127.0.0.1:2,3=127.0.0.1:3'));
    const reordered = new Map([...peers3.entries()].reverse());
    expect(deriveClusterId(null, reordered)).toBe(deriveClusterId(null, peers3));
    expect(deriveClusterId(null, new Map([[1, '127.0.0.1:1']]))).not.toBe(deriveClusterId(null, peers3));
    expect(deriveClusterId('T', peers3)).toMatch(/^[0-9a-f]{32}$/);
    expect(deriveClusterId('T', peers3)).not.toBe(deriveClusterId('U', peers3));
  });
});

const configEntry = (index: number, change: MembershipChange, config?: ConfigState): Entry =>
  config ? { kind: 'config', term: 1, index, change, config } : { kind: 'config', term: 1, index, change };

describe('stored membership', () => {
  it('is null for an empty store; the bootstrap membership when the log has no config entry', async () => {
    const { store } = await fresh();
    expect(await readStoredMembership(store, 1, boot3)).toBeNull();
    await store.persist([
      {
        groupId: 1,
        hardState: { term: 1, vote: 1, commit: 1 },
        entries: [{ kind: 'empty', term: 1, index: 1 }],
        snapshot: null,
      },
    ]);
    const m = (await readStoredMembership(store, 1, boot3))!;
    expect(m).toMatchObject({ members: [1, 2, 3], known: true });
    expect([...m.addresses.get(2)!]).toEqual(['127.0.0.1:2']);
    // A data dir written before identity records: the membership cannot be rebuilt.
    expect((await readStoredMembership(store, 1, null))!.known).toBe(false);
  });

  it('applies the snapshot configuration, then the config entries of the log in order, with their addresses', async () => {
    const { store } = await fresh();
    const snapshot = { index: 5, term: 1, config: { voters: [1, 2, 3], learners: [], votersOutgoing: [] } };
    await store.persist([{ groupId: 1, hardState: { term: 1, vote: 1, commit: 5 }, entries: [], snapshot }]);
    await store.persist([
      {
        groupId: 1,
        hardState: null,
        snapshot: null,
        entries: [
          configEntry(6, { type: 'addLearner', node: 4, context: Buffer.from('10.0.0.4:4') }),
          configEntry(7, { type: 'addVoter', node: 4, context: Buffer.from('10.0.0.4:4') }),
          configEntry(8, { type: 'removeNode', node: 3 }),
        ],
      },
    ]);
    const book = await AddressBook.open(store.db, new Map());
    book.set(2, '10.0.0.2:2');
    await book.flush();
    const m = (await readStoredMembership(store, 1, [[9, 'x:9']]))!;
    expect(m.config.voters.slice().sort()).toEqual([1, 2, 4]);
    expect(m.members).toEqual([1, 2, 4]);
    expect(m.known).toBe(true);
    expect([...m.addresses.get(4)!]).toEqual(['10.0.0.4:4']);
    expect([...m.addresses.get(2)!]).toEqual(['10.0.0.2:2']);
    // Without a snapshot, an entry carrying its full configuration makes the membership known.
    const { store: s2 } = await fresh();
    await s2.persist([
      {
        groupId: 1,
        hardState: null,
        snapshot: null,
        entries: [configEntry(1, { type: 'addLearner', node: 5 }, { voters: [1], learners: [5], votersOutgoing: [] })],
      },
    ]);
    expect(await readStoredMembership(s2, 1, null)).toMatchObject({ members: [1, 5], known: true });
  });
});

describe('stored membership addresses', () => {
  it('takes the peer address of a context that names a client and a peer address', async () => {
    const { store } = await fresh();
    const context = Buffer.from('client=10.0.0.5:5 peer=10.0.1.5:6');
    await store.persist([
      {
        groupId: 1,
        hardState: null,
        snapshot: null,
        entries: [configEntry(1, { type: 'addLearner', node: 5, context })],
      },
    ]);
    const m = (await readStoredMembership(store, 1, boot3))!;
    expect(m.members).toEqual([1, 2, 3, 5]);
    expect([...m.addresses.get(5)!]).toEqual(['10.0.1.5:6']);
  });
});

describe('peersContradiction', () => {
  const stored = (members: number[], addresses: [number, string][] = []) => ({
    config: { voters: members, learners: [], votersOutgoing: [] },
    members,
    known: true,
    addresses: new Map(addresses.map(([id, a]) => [id, new Set([a])])),
  });

  it('accepts the bootstrap flags and the current membership', () => {
    expect(peersContradiction(peers3, stored([1, 2, 3], boot3), boot3)).toBeNull();
    const current = new Map([...peers3.entries(), [4, '127.0.0.1:4']]);
    expect(peersContradiction(current, stored([1, 2, 3, 4], [...boot3, [4, '127.0.0.1:4']]), boot3)).toBeNull();
    // The original flags after node 4 joined are fine too.
    expect(peersContradiction(peers3, stored([1, 2, 3, 4], [...boot3, [4, '127.0.0.1:4']]), boot3)).toBeNull();
  });

  it('refuses a peers list with only this node, another cluster, or a member at an unknown address', () => {
    expect(peersContradiction(new Map([[2, '127.0.0.1:2']]), stored([1, 2, 3], boot3), boot3)).toMatch(
      /members 1,2,3.*--peers lists 2$/,
    );
    const other = new Map([
      [1, '127.0.0.1:11'],
      [2, '127.0.0.1:12'],
      [3, '127.0.0.1:13'],
      [4, '127.0.0.1:14'],
    ]);
    expect(peersContradiction(other, stored([1, 2, 3], boot3), boot3)).toMatch(/--peers lists 1,2,3,4/);
    const moved = new Map([...peers3.entries(), [2, '127.0.0.1:99']]);
    expect(peersContradiction(moved, stored([1, 2, 3], boot3), boot3)).toMatch(
      /member 2 at 127\.0\.0\.1:2, but --peers gives 2=127\.0\.0\.1:99/,
    );
  });

  it('accepts anything for an older data dir whose membership is unknown', () => {
    const unknown = { ...stored([]), known: false };
    expect(peersContradiction(new Map([[2, 'a:2']]), unknown, null)).toBeNull();
  });
});
