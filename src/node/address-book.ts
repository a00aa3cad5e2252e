/**
 * Where each member listens, two addresses per member:
 * - the peer address: what the transport dials (the initial --peers, then what membership changes taught
 *   us: the config entry's context, see membership.ts);
 * - the client address: what clients are told (NOT_LEADER hints, Status). Learned from the member's
 *   own handshake (transport/handshake.ts), from a config entry's context, or, when this node serves
 *   peers and clients on one port (no --peer-listen), assumed equal to the --peers address until then.
 * A snapshot message names the addresses its sender knows for the snapshot's members (membership.ts), so
 * a member that catches up by snapshot learns the members whose config entries were compacted away.
 * Persisted under the node-local key `n/addresses` as a codec record of [[id, peer, client]...] ('' for an
 * unknown address), so a restarted node still reaches members added after its --peers was written, even
 * when their config entries were compacted away; the older form [[id, address]...] (one port served both)
 * is still read. Learned addresses win over --peers.
 * Invariants: every stored address passes isValidAddress (bounded HOST:PORT), whatever its source; the
 * book holds at most MEMBERS_MAX ids (an authenticated peer cannot grow it without bound).
 */
import type { NodeId } from '../base';
import { decodeRecord, encodeRecord } from '../codec';
import type { StoreDb } from '../storage';
import { isValidAddress } from '../transport';

const KEY = Buffer.from('n/addresses');
/** Ids the book remembers; a handshake from an id beyond it is not recorded. */
export const MEMBERS_MAX = 1024;

export interface MemberAddresses {
  /** What the transport dials; null while unknown. */
  peer: string | null;
  /** What clients are told; null while unknown. */
  client: string | null;
}

export interface AddressBookOptions {
  /** This node and its client-facing address (its advertise address). */
  self: NodeId;
  selfClientAddress: string;
  /** The initial addresses serve clients too (this node has no separate peer listener). */
  initialAreClientAddresses: boolean;
}

export class AddressBook {
  private readonly members = new Map<NodeId, MemberAddresses>();
  private saving: Promise<void> = Promise.resolve();

  private constructor(private readonly db: StoreDb | null) {}

  /**
   * The initial peer addresses (--peers), overlaid with the persisted book. Without options the initial
   * addresses are both peer and client addresses (one port serves both).
   */
  static async open(
    db: StoreDb | null,
    initial: ReadonlyMap<NodeId, string>,
    options?: AddressBookOptions,
  ): Promise<AddressBook> {
    const book = new AddressBook(db);
    const initialAreClient = options?.initialAreClientAddresses ?? true;
    for (const [id, a] of initial)
      if (isValidAddress(a)) book.members.set(id, { peer: a, client: initialAreClient ? a : null });
    if (db) {
      const buf = await db.get(KEY);
      if (buf !== undefined) {
        for (const item of decodeRecord(buf, 'n/addresses') as unknown[]) {
          if (!Array.isArray(item) || typeof item[0] !== 'number') continue;
          const id = item[0];
          // [id, address]: written when one port served both; [id, peer, client] otherwise.
          const peer = item[1];
          const client = item.length === 2 ? item[1] : item[2];
          const known = book.members.get(id);
          if (!known && !isValidAddress(peer) && !isValidAddress(client)) continue;
          book.members.set(id, {
            peer: isValidAddress(peer) ? peer : (known?.peer ?? null),
            client: isValidAddress(client) ? client : (known?.client ?? null),
          });
        }
      }
    }
    if (options) {
      const own = book.members.get(options.self);
      book.members.set(options.self, { peer: own?.peer ?? null, client: options.selfClientAddress });
    }
    return book;
  }

  /** The client address of a member (what clients are told), or null when unknown. */
  get(id: NodeId): string | null {
    return this.members.get(id)?.client ?? null;
  }

  /** Same as get(): the address clients are told. */
  client(id: NodeId): string | null {
    return this.get(id);
  }

  /** The peer address of a member (what the transport dials), or null when unknown. */
  peer(id: NodeId): string | null {
    return this.members.get(id)?.peer ?? null;
  }

  /** Every member with a known peer address, as [id, peer address], sorted by id (what to dial). */
  /** The ids whose peer address is known (what the transport can dial). */
  peerIds(): NodeId[] {
    const out: NodeId[] = [];
    for (const [id, m] of this.members) if (m.peer !== null) out.push(id);
    return out;
  }

  entries(): [NodeId, string][] {
    const out: [NodeId, string][] = [];
    for (const [id, m] of this.members) if (m.peer !== null) out.push([id, m.peer]);
    return out.sort((a, b) => a[0] - b[0]);
  }

  /** Every member's addresses, sorted by id. */
  all(): [NodeId, MemberAddresses][] {
    return [...this.members.entries()]
      .map(([id, m]): [NodeId, MemberAddresses] => [id, { ...m }])
      .sort((a, b) => a[0] - b[0]);
  }

  /** Records a member's addresses from a config entry; true when the peer address changed (re-point the transport). */
  setMember(id: NodeId, peer: string, client: string): boolean {
    if (!isValidAddress(peer) || !isValidAddress(client)) return false;
    const known = this.members.get(id);
    if (known?.peer === peer && known.client === client) return false;
    if (!known && this.members.size >= MEMBERS_MAX) return false;
    this.members.set(id, { peer, client });
    this.save();
    return known?.peer !== peer;
  }

  /**
   * Records what another member told us about a member (a snapshot's member list, membership.ts): each valid
   * address replaces the one known, a null or invalid one keeps it. True when anything changed.
   */
  learn(id: NodeId, peer: string | null, client: string | null): boolean {
    const known = this.members.get(id);
    const next: MemberAddresses = {
      peer: isValidAddress(peer) ? peer : (known?.peer ?? null),
      client: isValidAddress(client) ? client : (known?.client ?? null),
    };
    if (next.peer === null && next.client === null) return false;
    if (known?.peer === next.peer && known.client === next.client) return false;
    if (!known && this.members.size >= MEMBERS_MAX) return false;
    this.members.set(id, next);
    this.save();
    return true;
  }

  /** One address for both roles (a member whose peers and clients share a port). */
  set(id: NodeId, address: string): boolean {
    return this.setMember(id, address, address);
  }

  /** Records the client address a member named in its handshake; true when it changed. */
  setClient(id: NodeId, client: string): boolean {
    if (!isValidAddress(client)) return false;
    const known = this.members.get(id);
    if (known?.client === client) return false;
    if (!known && this.members.size >= MEMBERS_MAX) return false;
    this.members.set(id, { peer: known?.peer ?? null, client });
    this.save();
    return true;
  }

  /** Waits for pending writes (before the store closes). */
  flush(): Promise<void> {
    return this.saving;
  }

  private save(): void {
    const db = this.db;
    if (!db) return;
    const value = encodeRecord(this.all().map(([id, m]) => [id, m.peer ?? '', m.client ?? '']));
    this.saving = this.saving.then(() => db.put(KEY, value)).catch(() => undefined);
  }
}
