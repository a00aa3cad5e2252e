/**
 * The pending writes of one StateMachine.apply call: data writes (an overlay that later commands of the
 * same call read through), session record writes and deletes. Everything ends up in one LevelDB batch.
 */
import { TesseraError } from '../base';
import {
  dataKey,
  decodeSessionRecord,
  decodeValueRecord,
  encodeSessionRecord,
  encodeValueRecord,
  formatKey,
  sessionKey,
} from '../codec';
import type { SessionRecord } from '../codec';
import type { BatchOp, StoreDb } from '../storage';

export class ApplyBatch {
  readonly ops: BatchOp[] = [];
  /** latin1(user key) -> value (null = deleted) written by this batch. */
  private readonly overlay = new Map<string, Buffer | null>();
  /** clientId -> record to store (null = delete). */
  private readonly sessions = new Map<string, SessionRecord | null>();

  constructor(
    private readonly db: StoreDb,
    private readonly groupId: number,
  ) {}

  /** The current value of a user key, seeing this batch's writes. Throws CORRUPTION on a bad record. */
  async read(key: Buffer): Promise<Buffer | null> {
    const pending = this.overlay.get(key.toString('latin1'));
    if (pending !== undefined) return pending;
    const k = dataKey(key);
    const stored = await this.db.get(k);
    return stored === undefined ? null : decodeValueRecord(stored, key, formatKey(k));
  }

  put(key: Buffer, value: Buffer): void {
    this.overlay.set(key.toString('latin1'), value);
    this.ops.push({ type: 'put', key: dataKey(key), value: encodeValueRecord(key, value) });
  }

  del(key: Buffer): void {
    this.overlay.set(key.toString('latin1'), null);
    this.ops.push({ type: 'del', key: dataKey(key) });
  }

  /** The stored record of a session known to the table, seeing this batch's session writes. */
  async sessionRecord(clientId: string): Promise<SessionRecord> {
    const pending = this.sessions.get(clientId);
    if (pending !== undefined && pending !== null) return pending;
    const k = sessionKey(this.groupId, clientId);
    const stored = await this.db.get(k);
    if (stored === undefined) {
      throw new TesseraError('CORRUPTION', `session record ${formatKey(k)} is missing`, { key: formatKey(k) });
    }
    return decodeSessionRecord(stored, formatKey(k));
  }

  setSession(clientId: string, record: SessionRecord): void {
    this.sessions.set(clientId, record);
  }

  deleteSession(clientId: string): void {
    this.sessions.set(clientId, null);
  }

  /** All operations, session records last. */
  finish(): BatchOp[] {
    for (const [clientId, rec] of this.sessions) {
      const key = sessionKey(this.groupId, clientId);
      this.ops.push(rec === null ? { type: 'del', key } : { type: 'put', key, value: encodeSessionRecord(rec) });
    }
    return this.ops;
  }
}
