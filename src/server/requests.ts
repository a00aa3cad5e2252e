/**
 * Validates public API requests (wire shapes of proto/kv.proto under the loader options of
 * transport/proto.ts) and turns them into state machine Commands. Every limit violation is an
 * INVALID_ARGUMENT TesseraError whose details.limit names the limit (keyBytesMin, keyBytesMax,
 * valueBytesMax, batchOpsMax, batchBytesMax, sessionSeq, clientIdBytes, scanRange). An enum value the
 * proto does not define (e.g. consistency 7 or -1) is INVALID_ARGUMENT naming the field (details.field),
 * never served as the default.
 * Writes with a session become commands whose session tag carries the request fingerprint
 * (codec withFingerprint): the state machine then requires a registered session and the same request
 * for a reused seq (kv/state-machine.ts).
 */
import { TesseraError } from '../base';
import type { LimitsConfig } from '../config';
import { withFingerprint } from '../codec';
import type { Command, Compare, SessionTag, WriteOp } from '../codec';

export interface SessionWire {
  clientId: Buffer;
  seq: number;
}
export interface GetWire {
  key: Buffer;
  consistency: number;
}
export interface PutWire {
  key: Buffer;
  value: Buffer;
  session: SessionWire | null;
}
export interface DeleteWire {
  key: Buffer;
  session: SessionWire | null;
}
export interface CasWire {
  key: Buffer;
  expected: Buffer;
  expectedAbsent: boolean;
  value: Buffer;
  deleteOnSuccess: boolean;
  session: SessionWire | null;
}
export interface ScanWire {
  start: Buffer;
  end: Buffer;
  limit: number;
  bytesMax: number;
  consistency: number;
}
export interface CompareWire {
  key: Buffer;
  expected: Buffer;
  expectedAbsent: boolean;
}
export interface BatchOpWire {
  op?: 'put' | 'delete' | 'get';
  put?: PutWire | null;
  delete?: DeleteWire | null;
  get?: GetWire | null;
}
export interface BatchWire {
  compares: CompareWire[];
  ops: BatchOpWire[];
  session: SessionWire | null;
}

export const CONSISTENCY_LINEARIZABLE = 0;
export const CONSISTENCY_STALE = 1;

export interface OpenSessionWire {
  clientId: Buffer;
  /** The session is registered in the shard owning this key (empty: the first shard). */
  key?: Buffer;
}

/** The key of an OpenSession (which shard registers the session): empty allowed, else a valid key. */
export function openSessionKey(r: OpenSessionWire, limits: LimitsConfig): Buffer {
  const k = buf(r.key);
  return k.length === 0 ? k : checkKey(k, limits, 'OpenSession key');
}

/** Bytes of a session client id chosen by a client for OpenSession (random, so nobody else can guess it). */
export const CLIENT_ID_BYTES_MIN = 16;
export const CLIENT_ID_BYTES_MAX = 64;

/**
 * The read mode of a Consistency enum value; anything but LINEARIZABLE (0) or STALE (1) is INVALID_ARGUMENT
 * naming `field`.
 */
export function consistencyOf(v: unknown, field = 'consistency'): 'linearizable' | 'stale' {
  if (v === CONSISTENCY_LINEARIZABLE || v === undefined || v === null) return 'linearizable';
  if (v === CONSISTENCY_STALE) return 'stale';
  throw new TesseraError('INVALID_ARGUMENT', `${field} is ${String(v)}: not a Consistency (0 LINEARIZABLE, 1 STALE)`, {
    field,
  });
}

function invalid(message: string, limit?: string): TesseraError {
  return new TesseraError('INVALID_ARGUMENT', message, limit ? { limit } : {});
}

function buf(v: unknown): Buffer {
  return Buffer.isBuffer(v) ? v : v instanceof Uint8Array ? Buffer.from(v) : Buffer.alloc(0);
}

export function checkKey(key: unknown, limits: LimitsConfig, what = 'key'): Buffer {
  const k = buf(key);
  if (k.length === 0) throw invalid(`${what} must not be empty`, 'keyBytesMin');
  if (k.length > limits.keyBytesMax)
    throw invalid(`${what} is ${k.length} bytes, over the limit of ${limits.keyBytesMax}`, 'keyBytesMax');
  return k;
}

export function checkValue(value: unknown, limits: LimitsConfig, what = 'value'): Buffer {
  const v = buf(value);
  if (v.length > limits.valueBytesMax)
    throw invalid(`${what} is ${v.length} bytes, over the limit of ${limits.valueBytesMax}`, 'valueBytesMax');
  return v;
}

export function toSession(s: SessionWire | null | undefined): SessionTag | null {
  if (!s) return null;
  const clientId = buf(s.clientId);
  if (clientId.length === 0) return null;
  if (clientId.length > CLIENT_ID_BYTES_MAX)
    throw invalid(`session client_id is ${clientId.length} bytes, at most ${CLIENT_ID_BYTES_MAX}`, 'clientIdBytes');
  const seq = Number(s.seq);
  if (!Number.isSafeInteger(seq) || seq < 1)
    throw invalid(`session seq must be >= 1, got ${String(s.seq)}`, 'sessionSeq');
  return { clientId: clientId.toString('hex'), seq };
}

/** The registerSession command of an OpenSession request (client_id: 16 to 64 bytes). */
export function openSessionCommand(r: OpenSessionWire): Command & { type: 'registerSession' } {
  const clientId = buf(r.clientId);
  if (clientId.length < CLIENT_ID_BYTES_MIN || clientId.length > CLIENT_ID_BYTES_MAX) {
    throw invalid(
      `OpenSession client_id is ${clientId.length} bytes, want ${CLIENT_ID_BYTES_MIN} to ${CLIENT_ID_BYTES_MAX} random bytes`,
      'clientIdBytes',
    );
  }
  return { type: 'registerSession', clientId: clientId.toString('hex') };
}

export function putCommand(r: PutWire, limits: LimitsConfig): Command {
  return withFingerprint({
    type: 'put',
    key: checkKey(r.key, limits),
    value: checkValue(r.value, limits),
    session: toSession(r.session),
  });
}

export function deleteCommand(r: DeleteWire, limits: LimitsConfig): Command {
  return withFingerprint({ type: 'delete', key: checkKey(r.key, limits), session: toSession(r.session) });
}

export function casCommand(r: CasWire, limits: LimitsConfig): Command {
  const key = checkKey(r.key, limits);
  const expected = r.expectedAbsent ? null : checkValue(r.expected, limits, 'expected');
  const value = r.deleteOnSuccess ? null : checkValue(r.value, limits);
  return withFingerprint({ type: 'cas', key, expected, value, session: toSession(r.session) });
}

export interface BatchPlan {
  command: Command & { type: 'batch' };
  /** Per request op: the index into the command's reads for gets, -1 for writes. */
  readSlots: number[];
}

export function batchCommand(r: BatchWire, limits: LimitsConfig): BatchPlan {
  const compares = r.compares ?? [];
  const ops = r.ops ?? [];
  const count = compares.length + ops.length;
  if (count === 0) throw invalid('batch has no operations', 'batchOpsMax');
  if (count > limits.batchOpsMax)
    throw invalid(`batch has ${count} operations and compares, over the limit of ${limits.batchOpsMax}`, 'batchOpsMax');
  let bytes = 0;
  const cmpOut: Compare[] = compares.map((c, i) => {
    const key = checkKey(c.key, limits, `compares[${i}].key`);
    const expected = c.expectedAbsent ? null : checkValue(c.expected, limits, `compares[${i}].expected`);
    bytes += key.length + (expected?.length ?? 0);
    return { key, expected };
  });
  const writes: WriteOp[] = [];
  const reads: Buffer[] = [];
  const readSlots: number[] = [];
  ops.forEach((op, i) => {
    const kind = op.op ?? (op.put ? 'put' : op.delete ? 'delete' : op.get ? 'get' : undefined);
    if (kind === 'put' && op.put) {
      const key = checkKey(op.put.key, limits, `ops[${i}].put.key`);
      const value = checkValue(op.put.value, limits, `ops[${i}].put.value`);
      bytes += key.length + value.length;
      writes.push({ op: 'put', key, value });
      readSlots.push(-1);
    } else if (kind === 'delete' && op.delete) {
      const key = checkKey(op.delete.key, limits, `ops[${i}].delete.key`);
      bytes += key.length;
      writes.push({ op: 'delete', key });
      readSlots.push(-1);
    } else if (kind === 'get' && op.get) {
      const key = checkKey(op.get.key, limits, `ops[${i}].get.key`);
      consistencyOf(op.get.consistency, `ops[${i}].get.consistency`); // ignored in a batch, but must be known
      bytes += key.length;
      readSlots.push(reads.length);
      reads.push(key);
    } else {
      throw invalid(`ops[${i}] has no operation (put, delete or get)`);
    }
  });
  if (bytes > limits.batchBytesMax)
    throw invalid(
      `batch is ${bytes} bytes of keys and values, over the limit of ${limits.batchBytesMax}`,
      'batchBytesMax',
    );
  return {
    command: withFingerprint({ type: 'batch', compares: cmpOut, writes, reads, session: toSession(r.session) }),
    readSlots,
  };
}

export interface ScanPlan {
  start: Buffer;
  /** null: to the end of the keyspace. */
  end: Buffer | null;
  limit: number;
  bytesMax: number;
  stale: boolean;
}

export function scanPlan(r: ScanWire, limits: LimitsConfig): ScanPlan {
  const stale = consistencyOf(r.consistency) === 'stale';
  const start = buf(r.start);
  const endRaw = buf(r.end);
  const end = endRaw.length === 0 ? null : endRaw;
  if (start.length > limits.keyBytesMax)
    throw invalid(`scan start is ${start.length} bytes, over the limit of ${limits.keyBytesMax}`, 'keyBytesMax');
  if (end && end.length > limits.keyBytesMax)
    throw invalid(`scan end is ${end.length} bytes, over the limit of ${limits.keyBytesMax}`, 'keyBytesMax');
  if (end && Buffer.compare(start, end) > 0) throw invalid('scan start is after its end', 'scanRange');
  const limit = r.limit > 0 ? Math.min(r.limit, limits.scanItemsMax) : Math.min(1000, limits.scanItemsMax);
  const bytesMax = r.bytesMax > 0 ? Math.min(r.bytesMax, limits.scanBytesMax) : limits.scanBytesMax;
  return { start, end, limit, bytesMax, stale };
}
