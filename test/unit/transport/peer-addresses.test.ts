/**
 * Member addresses on both sides of the peer door: the config entry's context carries a member's client
 * and peer addresses (today's plain form still read), and the persisted address book keeps both per member
 * (today's [[id, address]] record still read). Everything from the network is bounded HOST:PORT.
 */
import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeRecord } from '../../../src/codec';
import { AddressBook } from '../../../src/node';
import { decodeMemberContext, encodeMemberContext } from '../../../src/node/membership';
import type { StoreDb } from '../../../src/storage';
import { isValidAddress } from '../../../src/transport';

/** The two methods AddressBook uses, over a Map. */
function memoryDb(): StoreDb & { data: Map<string, Buffer> } {
  const data = new Map<string, Buffer>();
  return {
    data,
    get: async (k: Buffer) => data.get(k.toString()),
    put: async (k: Buffer, v: Buffer) => {
      data.set(k.toString(), v);
    },
  } as unknown as StoreDb & { data: Map<string, Buffer> };
}

describe('member context', () => {
  it('keeps the plain form when both addresses are the same, and carries both when they differ', () => {
    expect(encodeMemberContext('10.0.0.1:7001').toString()).toBe('10.0.0.1:7001');
    expect(encodeMemberContext('10.0.0.1:7001', '').toString()).toBe('10.0.0.1:7001');
    expect(encodeMemberContext('10.0.0.1:7001', '10.0.0.1:7001').toString()).toBe('10.0.0.1:7001');
    const both = encodeMemberContext('10.0.0.1:7001', '10.0.0.1:8001');
    expect(decodeMemberContext(both)).toEqual({ client: '10.0.0.1:7001', peer: '10.0.0.1:8001' });
    // Today's contexts (utf8 HOST:PORT) still read as one address for both.
    expect(decodeMemberContext(Buffer.from('db-2.example:7001'))).toEqual({
      client: 'db-2.example:7001',
      peer: 'db-2.example:7001',
    });
  });

  it('ignores malformed or oversized contexts', () => {
    expect(decodeMemberContext(Buffer.alloc(0))).toBeNull();
    expect(decodeMemberContext(Buffer.from('no port'))).toBeNull();
    expect(decodeMemberContext(Buffer.from(`${'h'.repeat(300)}:1`))).toBeNull();
    expect(decodeMemberContext(Buffer.from('client=a:1 peer=b:0'))).toBeNull();
    expect(decodeMemberContext(Buffer.from(`client=a:1 peer=${'b'.repeat(10_000)}:1`))).toBeNull();
  });

  it('isValidAddress bounds and checks HOST:PORT', () => {
    expect(isValidAddress('127.0.0.1:1')).toBe(true);
    expect(isValidAddress('[::1]:65535')).toBe(true);
    expect(isValidAddress('host:65536')).toBe(false);
    expect(isValidAddress('host:0')).toBe(false);
    expect(isValidAddress(`${'a'.repeat(250)}:12345`)).toBe(false);
    expect(isValidAddress('a b:1')).toBe(false);
  });
});

describe('address book', () => {
  it('holds a peer and a client address per member, persists both, and reopens them', async () => {
    const db = memoryDb();
    const initial = new Map([
      [1, '10.0.0.1:8001'],
      [2, '10.0.0.2:8001'],
    ]);
    const book = await AddressBook.open(db, initial, {
      self: 1,
      selfClientAddress: '10.0.0.1:7001',
      initialAreClientAddresses: false,
    });
    expect(book.peer(2)).toBe('10.0.0.2:8001');
    expect(book.get(2)).toBeNull(); // not known until node 2's handshake names it
    expect(book.get(1)).toBe('10.0.0.1:7001');
    expect(book.setClient(2, '10.0.0.2:7001')).toBe(true);
    expect(book.setClient(2, '10.0.0.2:7001')).toBe(false);
    expect(book.setClient(2, `${'x'.repeat(300)}:1`)).toBe(false);
    expect(book.setMember(3, '10.0.0.3:8001', '10.0.0.3:7001')).toBe(true);
    expect(book.entries()).toEqual([
      [1, '10.0.0.1:8001'],
      [2, '10.0.0.2:8001'],
      [3, '10.0.0.3:8001'],
    ]);
    await book.flush();
    const reopened = await AddressBook.open(db, new Map([[1, '10.0.0.1:8001']]), {
      self: 1,
      selfClientAddress: '10.0.0.1:7001',
      initialAreClientAddresses: false,
    });
    expect(reopened.all()).toEqual([
      [1, { peer: '10.0.0.1:8001', client: '10.0.0.1:7001' }],
      [2, { peer: '10.0.0.2:8001', client: '10.0.0.2:7001' }],
      [3, { peer: '10.0.0.3:8001', client: '10.0.0.3:7001' }],
    ]);
  });

  it('reads the older [[id, address]] record (one port served both) and skips invalid addresses', async () => {
    const db = memoryDb();
    db.data.set(
      'n/addresses',
      encodeRecord([
        [4, '10.0.0.4:7001'],
        [5, 'not an address'],
      ]),
    );
    const book = await AddressBook.open(db, new Map([[1, '10.0.0.1:7001']]));
    expect(book.peer(4)).toBe('10.0.0.4:7001');
    expect(book.get(4)).toBe('10.0.0.4:7001');
    expect(book.peer(5)).toBeNull();
    expect(book.get(1)).toBe('10.0.0.1:7001');
    book.setClient(4, '10.0.0.4:9001');
    await book.flush();
    expect(decodeRecord(db.data.get('n/addresses')!, 'x')).toEqual([
      [1, '10.0.0.1:7001', '10.0.0.1:7001'],
      [4, '10.0.0.4:7001', '10.0.0.4:9001'],
    ]);
  });

  it('does not grow past MEMBERS_MAX ids from handshakes', async () => {
    const book = await AddressBook.open(null, new Map());
    for (let id = 1; id <= 1100; id++) book.setClient(id, `10.0.${id >> 8}.${id & 255}:7001`);
    expect(book.all().length).toBe(1024);
    expect(book.get(1100)).toBeNull();
  });
});
