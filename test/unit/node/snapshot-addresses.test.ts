/**
 * Member addresses travel with snapshots (issue 9, section 2): a member that catches up by snapshot past the
 * addition of members whose config entries were compacted away learns their addresses from the snapshot
 * message, its address book keeps them across a restart, and its transport dials them. The data format
 * (membership.ts) is read leniently: an older sender's empty data, garbage, and members outside the
 * snapshot's configuration teach nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeRecord } from '../../../src/codec';
import type { ConfigState, Message } from '../../../src/raft';
import { AddressBook } from '../../../src/node/address-book';
import {
  decodeSnapshotMembers,
  encodeSnapshotMembers,
  learnFromSnapshot,
  withMemberAddresses,
} from '../../../src/node/membership';
import { TestCluster, until, putCommand as put } from './harness';

/** Addresses of members that never run (learners: they count toward no quorum). Nothing listens there. */
const ADDRESS_4 = '127.0.0.1:4';
const ADDRESS_5 = '127.0.0.1:5';

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

const config = (voters: number[], learners: number[] = []): ConfigState => ({ voters, learners, votersOutgoing: [] });

function snapshotMessage(data: Uint8Array, cfg: ConfigState): Message & { type: 'snapshot' } {
  return { type: 'snapshot', from: 1, to: 3, term: 2, snapshot: { meta: { index: 10, term: 2, config: cfg }, data } };
}

describe('member addresses in snapshots', () => {
  it('a member that caught up by snapshot past the addition of members 4 and 5 knows their addresses and dials them', async () => {
    cluster = await TestCluster.start(3, ['--snapshot-entries', '20', '--log-retain-entries', '3']);
    const leader = await cluster.waitForLeader();
    const away = cluster.running().find((n) => n.id !== leader.id)!;
    await cluster.stop(away.id);
    for (const [id, address] of [
      [4, ADDRESS_4],
      [5, ADDRESS_5],
    ] as const) {
      // The previous change may still count as pending in the core for a moment after it applied: retry (bounded).
      await until(
        async () =>
          leader.host.addNode(id, address, true, 5000).then(
            () => true,
            (e: { code?: string }) => {
              if (e.code !== 'UNAVAILABLE') throw e;
              return false;
            },
          ),
        5000,
        `node ${id} added`,
      );
    }
    const addedAt = leader.host.groupStatus(1).commit;
    for (let i = 0; i < 60; i++) await leader.host.propose(1, put(`k${i}`, `${i}`));
    await until(
      () => leader.host.groupStatus(1).firstIndex > addedAt + 1,
      10_000,
      'the leader compacts past the additions',
    );

    const back = await cluster.restart(away.id);
    expect(back.host.addresses.peer(4)).toBeNull(); // its --peers and its log know nothing of 4 and 5
    const caughtUp = (): boolean =>
      back.host.groupStatus(1).applied >= addedAt && back.host.groupStatus(1).firstIndex > addedAt;
    await until(caughtUp, 10_000, 'caught up by snapshot');
    expect(back.host.groupStatus(1).members.map((m) => m.id)).toEqual([1, 2, 3, 4, 5]);
    // The applied index moves inside the install, the transport is re-pointed right after it.
    const dialsBoth = (): boolean => back.transport.peerAddress(4) !== null && back.transport.peerAddress(5) !== null;
    await until(dialsBoth, 5000, 'the transport dials 4 and 5');
    for (const [id, address] of [
      [4, ADDRESS_4],
      [5, ADDRESS_5],
    ] as const) {
      expect(back.host.addresses.peer(id)).toBe(address);
      expect(back.host.addresses.client(id)).toBe(address);
      expect(back.transport.peerAddress(id)).toBe(address);
    }
    expect(back.host.groupStatus(1).members.find((m) => m.id === 5)?.address).toBe(ADDRESS_5);

    // The address book kept them: a restart (no config entry left to learn from) still dials them.
    const again = await cluster.restart(away.id);
    expect(again.host.addresses.peer(4)).toBe(ADDRESS_4);
    expect(again.transport.peerAddress(5)).toBe(ADDRESS_5);
    expect(cluster.running().every((n) => n.fatal.length === 0)).toBe(true);
  }, 30_000);

  it('encodes the addresses the sender knows for the members of the snapshot configuration only', async () => {
    const book = await AddressBook.open(
      null,
      new Map([
        [1, '127.0.0.1:1001'],
        [2, '127.0.0.1:1002'],
        [9, '127.0.0.1:1009'],
      ]),
    );
    book.setMember(4, '127.0.0.1:2004', '127.0.0.1:1004');
    const data = encodeSnapshotMembers(config([1, 2], [4]), book);
    expect(decodeSnapshotMembers(data)).toEqual([
      { id: 1, peer: '127.0.0.1:1001', client: '127.0.0.1:1001' },
      { id: 2, peer: '127.0.0.1:1002', client: '127.0.0.1:1002' },
      { id: 4, peer: '127.0.0.1:2004', client: '127.0.0.1:1004' },
    ]);
    // withMemberAddresses keeps everything else of the message.
    const m = snapshotMessage(new Uint8Array(0), config([1, 2], [4]));
    const sent = withMemberAddresses(m, book);
    expect({ ...sent, snapshot: { ...sent.snapshot, data: null } }).toEqual({
      ...m,
      snapshot: { ...m.snapshot, data: null },
    });
    expect(Buffer.from(sent.snapshot.data).equals(data)).toBe(true);
  });

  it('learns peer and client addresses of the configuration members, keeps its own client address and what is unknown', async () => {
    const sender = await AddressBook.open(null, new Map());
    sender.setMember(3, '127.0.0.1:2003', '127.0.0.1:1003');
    sender.setMember(4, '127.0.0.1:2004', '127.0.0.1:1004');
    sender.setMember(5, '127.0.0.1:2005', '127.0.0.1:1005');
    sender.setMember(6, '127.0.0.1:2006', '127.0.0.1:1006');
    const data = encodeSnapshotMembers(config([3, 4, 5, 6]), sender);
    const receiver = await AddressBook.open(
      null,
      new Map([
        [3, '127.0.0.1:2003'],
        [5, '127.0.0.1:2005'],
      ]),
      {
        self: 3,
        selfClientAddress: '127.0.0.1:7003',
        initialAreClientAddresses: false,
      },
    );
    // The snapshot's configuration leaves out 6 (a sender's list is trusted only for the members it installs).
    const learned = await learnFromSnapshot(snapshotMessage(data, config([3, 4, 5])).snapshot, 3, receiver, 0);
    expect(learned).toEqual([4, 5]);
    expect(receiver.all()).toEqual([
      [3, { peer: '127.0.0.1:2003', client: '127.0.0.1:7003' }],
      [4, { peer: '127.0.0.1:2004', client: '127.0.0.1:1004' }],
      [5, { peer: '127.0.0.1:2005', client: '127.0.0.1:1005' }],
    ]);
    // A member whose client address the sender does not know keeps the one the receiver knows.
    const partial = encodeRecord([1, [[5, '127.0.0.1:2055', '']]]);
    await learnFromSnapshot(snapshotMessage(partial, config([3, 4, 5])).snapshot, 3, receiver, 9);
    expect(receiver.peer(5)).toBe('127.0.0.1:2055');
    expect(receiver.client(5)).toBe('127.0.0.1:1005');
    // A snapshot at or below what this replica applied (stale: the core refuses it) teaches nothing.
    const stale = encodeRecord([1, [[5, '127.0.0.1:2555', '127.0.0.1:1555']]]);
    for (const applied of [10, 11]) {
      expect(await learnFromSnapshot(snapshotMessage(stale, config([3, 4, 5])).snapshot, 3, receiver, applied)).toEqual(
        [],
      );
    }
    expect(receiver.peer(5)).toBe('127.0.0.1:2055');
  });

  it('reads a snapshot without addresses (an older sender) or with malformed data as teaching nothing', async () => {
    const book = await AddressBook.open(null, new Map([[1, '127.0.0.1:1001']]));
    const before = book.all();
    const cfg = config([1, 2, 3]);
    for (const data of [
      new Uint8Array(0), // the previous version's snapshot message
      Buffer.from('not a record'),
      encodeRecord('x'),
      encodeRecord([2, [[2, '127.0.0.1:1', '127.0.0.1:1']]]), // a later format this version does not know
      encodeRecord([1, [[2, 'not an address', 7], [0, '127.0.0.1:1', '127.0.0.1:1'], 'x', [3]]]),
    ]) {
      expect(decodeSnapshotMembers(data).filter((m) => m.peer !== null || m.client !== null)).toEqual([]);
      expect(await learnFromSnapshot(snapshotMessage(data, cfg).snapshot, 1, book, 0)).toEqual([]);
    }
    expect(book.all()).toEqual(before);
  });
});
