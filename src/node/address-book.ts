/**
 * Where each member listens: the initial --peers, plus what membership changes taught us (the address
 * rides in the config entry's context). Persisted under the node-local key `n/addresses` (a codec record
 * of [[id, address]...]) so a restarted node still reaches members added after its --peers was written,
 * even when their config entries were compacted away. Learned addresses win over --peers.
 */
import type { NodeId } from '../base';
import { decodeRecord, encodeRecord } from '../codec';
import type { StoreDb } from '../storage';

const KEY = Buffer.from('n/addresses');

export class AddressBook {
  private readonly addresses = new Map<NodeId, string>();
  private saving: Promise<void> = Promise.resolve();

  private constructor(private readonly db: StoreDb | null) {}

  /** Loads the persisted book and overlays nothing; call seed() for --peers first. */
  static async open(db: StoreDb | null, initial: ReadonlyMap<NodeId, string>): Promise<AddressBook> {
    const book = new AddressBook(db);
    for (const [id, a] of initial) book.addresses.set(id, a);
    if (db) {
      const buf = await db.get(KEY);
      if (buf !== undefined) {
        const pairs = decodeRecord(buf, 'n/addresses') as [number, string][];
        for (const [id, a] of pairs) book.addresses.set(id, a);
      }
    }
    return book;
  }

  get(id: NodeId): string | null {
    return this.addresses.get(id) ?? null;
  }

  entries(): [NodeId, string][] {
    return [...this.addresses.entries()].sort((a, b) => a[0] - b[0]);
  }

  /** Records an address; returns true when it changed (the caller re-points the transport). */
  set(id: NodeId, address: string): boolean {
    if (this.addresses.get(id) === address) return false;
    this.addresses.set(id, address);
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
    const value = encodeRecord(this.entries());
    this.saving = this.saving.then(() => db.put(KEY, value)).catch(() => undefined);
  }
}
