/**
 * The LevelDB key layout of a node (DESIGN.md section 4). One LevelDB holds every group of the node.
 * Keys are bytes; `G` is the group id as u32 big-endian (4 bytes), `I` a log index as u64 big-endian
 * (8 bytes), so LevelDB's bytewise order is numeric order and every group's prefix is distinct.
 *
 *   r/ G /e/ I          log entry                     (record: entry tuple)
 *   r/ G /h             hard state                    (record: [term, vote, commit])
 *   r/ G /s             snapshot metadata             (record: [index, term, voters, learners, outgoing])
 *   m/ G /applied       applied index of the state machine (record: number)
 *   m/ G /install       snapshot install pending      (record: [stagingId, index, term])
 *   m/ G /shard         a KV group's range and epoch  (record: [start, end|null, epoch]; absent: as opened)
 *   m/ G /sessions/ C   client session C (utf8)       (record: [seq, lastIndex, result tuple, lastSeenMs?])
 *   t/ G / L id / ...   snapshot staging of staging id `id` (L = its byte length, u8):
 *                         ... d <user key>  staged value record   ... s <client id>  staged session record
 *                         ... z             staging complete      (record: [applied, itemCount])
 *   d/ <user key>       user data, one keyspace for all groups (value record: the value bytes, CRC over key and value)
 *   n/ <name>           node-local records of node/ (e.g. n/addresses); not checked by NodeStore.verify
 *
 * NodeStore.verify checks every r/ and m/ record at start; d/ values are checked on every read; t/ staging
 * is checked chunk by chunk as it arrives and discarded on restart unless an install is pending.
 * A prefix's exclusive upper bound replaces its trailing '/' (0x2f) by '0' (0x30).
 */
import { assert } from '../base';

const SLASH = 0x2f;
const U32_SPAN = 0x1_0000_0000;

export const DATA_PREFIX = Buffer.from('d/');
const RAFT = 'r'.charCodeAt(0);
const META = 'm'.charCodeAt(0);
const STAGING = 't'.charCodeAt(0);

export interface KeyRange {
  gte: Buffer;
  lt: Buffer;
}

function checkGroup(groupId: number): void {
  assert(Number.isInteger(groupId) && groupId >= 0 && groupId < U32_SPAN, () => `group id ${groupId} is not a u32`);
}

/** `<kind>/G/` + suffix. */
function groupKey(kind: number, groupId: number, suffix: string | Buffer, extraBytes = 0): Buffer {
  checkGroup(groupId);
  const suffixBytes = typeof suffix === 'string' ? Buffer.byteLength(suffix, 'latin1') : suffix.length;
  const out = Buffer.allocUnsafe(7 + suffixBytes + extraBytes);
  out[0] = kind;
  out[1] = SLASH;
  out.writeUInt32BE(groupId, 2);
  out[6] = SLASH;
  if (typeof suffix === 'string') out.write(suffix, 7, 'latin1');
  else suffix.copy(out, 7);
  return out;
}

function writeU64(out: Buffer, value: number, offset: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, () => `index ${value} is not a non-negative safe integer`);
  out.writeUInt32BE(Math.floor(value / U32_SPAN), offset);
  out.writeUInt32BE(value % U32_SPAN, offset + 4);
}

function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * U32_SPAN + buf.readUInt32BE(offset + 4);
}

/** The exclusive upper bound of a prefix ending in '/'. */
function prefixEnd(prefix: Buffer): Buffer {
  const out = Buffer.from(prefix);
  assert(out[out.length - 1] === SLASH, 'prefix must end with /');
  out[out.length - 1] = SLASH + 1;
  return out;
}

function rangeOfPrefix(prefix: Buffer): KeyRange {
  return { gte: prefix, lt: prefixEnd(prefix) };
}

// ---- raft log and state (r/) ----

export function entryKey(groupId: number, index: number): Buffer {
  const out = groupKey(RAFT, groupId, 'e/', 8);
  writeU64(out, index, 9);
  return out;
}

/** Entries of a group with fromIndex <= index <= toIndex. */
export function entryRange(groupId: number, fromIndex: number, toIndex: number): { gte: Buffer; lte: Buffer } {
  return { gte: entryKey(groupId, fromIndex), lte: entryKey(groupId, toIndex) };
}

export function hardStateKey(groupId: number): Buffer {
  return groupKey(RAFT, groupId, 'h');
}

export function snapshotMetaKey(groupId: number): Buffer {
  return groupKey(RAFT, groupId, 's');
}

/** Every r/ key of one group. */
export function raftGroupRange(groupId: number): KeyRange {
  return rangeOfPrefix(groupKey(RAFT, groupId, ''));
}

/** Every r/ key of every group. */
export const RAFT_RANGE: KeyRange = rangeOfPrefix(Buffer.from('r/'));

// ---- state machine metadata (m/) ----

export function appliedKey(groupId: number): Buffer {
  return groupKey(META, groupId, 'applied');
}

export function installMarkerKey(groupId: number): Buffer {
  return groupKey(META, groupId, 'install');
}

/** The range and epoch of a KV group, written by a split (codec/command-split.ts). */
export function shardRecordKey(groupId: number): Buffer {
  return groupKey(META, groupId, 'shard');
}

export function sessionKey(groupId: number, clientId: string): Buffer {
  const id = Buffer.from(clientId, 'utf8');
  const out = groupKey(META, groupId, 'sessions/', id.length);
  id.copy(out, 16);
  return out;
}

export function sessionRange(groupId: number): KeyRange {
  return rangeOfPrefix(groupKey(META, groupId, 'sessions/'));
}

/** The client id of a session key. */
export function sessionClientId(key: Buffer): string {
  return key.toString('utf8', 16);
}

export const META_RANGE: KeyRange = rangeOfPrefix(Buffer.from('m/'));

// ---- snapshot staging (t/) ----

export function stagingPrefix(groupId: number, stagingId: string): Buffer {
  const id = Buffer.from(stagingId, 'utf8');
  assert(id.length >= 1 && id.length <= 255, () => `staging id must be 1..255 bytes, got ${id.length}`);
  const out = groupKey(STAGING, groupId, '', 2 + id.length);
  out[7] = id.length;
  id.copy(out, 8);
  out[8 + id.length] = SLASH;
  return out;
}

export function stagingDataKey(prefix: Buffer, userKey: Uint8Array): Buffer {
  return Buffer.concat([prefix, Buffer.from('d'), userKey]);
}

export function stagingSessionKey(prefix: Buffer, clientId: string): Buffer {
  return Buffer.concat([prefix, Buffer.from('s'), Buffer.from(clientId, 'utf8')]);
}

export function stagingEndKey(prefix: Buffer): Buffer {
  return Buffer.concat([prefix, Buffer.from('z')]);
}

/** Staged data of one staging (keys: prefix 'd' userKey). */
export function stagingDataRange(prefix: Buffer): KeyRange {
  return { gte: Buffer.concat([prefix, Buffer.from('d')]), lt: Buffer.concat([prefix, Buffer.from('e')]) };
}

/** Staged sessions of one staging (keys: prefix 's' clientId). */
export function stagingSessionRange(prefix: Buffer): KeyRange {
  return { gte: Buffer.concat([prefix, Buffer.from('s')]), lt: Buffer.concat([prefix, Buffer.from('t')]) };
}

/** Every staging of a group. */
export function stagingGroupRange(groupId: number): KeyRange {
  return rangeOfPrefix(groupKey(STAGING, groupId, ''));
}

// ---- user data (d/) ----

export function dataKey(userKey: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(2 + userKey.length);
  out[0] = DATA_PREFIX[0] as number;
  out[1] = SLASH;
  out.set(userKey, 2);
  return out;
}

/** The user key of a d/ key (a view). */
export function userKeyOf(key: Buffer): Buffer {
  return key.subarray(2);
}

/** d/ keys of user keys in [start, end); end null = to the end of the keyspace. */
export function dataRange(start: Uint8Array, end: Uint8Array | null): KeyRange {
  return { gte: dataKey(start), lt: end === null ? prefixEnd(DATA_PREFIX) : dataKey(end) };
}

// ---- parsing, for verification and readable error messages ----

export type ParsedKey =
  | { kind: 'entry'; groupId: number; index: number }
  | { kind: 'hardState'; groupId: number }
  | { kind: 'snapshotMeta'; groupId: number }
  | { kind: 'applied'; groupId: number }
  | { kind: 'installMarker'; groupId: number }
  | { kind: 'shardRecord'; groupId: number }
  | { kind: 'session'; groupId: number; clientId: string }
  | { kind: 'staging'; groupId: number }
  | { kind: 'data'; userKey: Buffer }
  | { kind: 'unknown' };

export function parseKey(key: Buffer): ParsedKey {
  if (key.length >= 2 && key[1] === SLASH && key[0] === DATA_PREFIX[0])
    return { kind: 'data', userKey: userKeyOf(key) };
  if (key.length < 8 || key[1] !== SLASH || key[6] !== SLASH) return { kind: 'unknown' };
  const groupId = key.readUInt32BE(2);
  const rest = key.toString('latin1', 7);
  if (key[0] === RAFT) {
    if (rest === 'h') return { kind: 'hardState', groupId };
    if (rest === 's') return { kind: 'snapshotMeta', groupId };
    if (key.length === 17 && rest.startsWith('e/')) return { kind: 'entry', groupId, index: readU64(key, 9) };
  } else if (key[0] === META) {
    if (rest === 'applied') return { kind: 'applied', groupId };
    if (rest === 'install') return { kind: 'installMarker', groupId };
    if (rest === 'shard') return { kind: 'shardRecord', groupId };
    if (rest.startsWith('sessions/')) return { kind: 'session', groupId, clientId: sessionClientId(key) };
  } else if (key[0] === STAGING) {
    return { kind: 'staging', groupId };
  }
  return { kind: 'unknown' };
}

/** Printable form of user bytes: the text if it is printable ASCII, else 0x + hex. */
export function formatBytes(bytes: Uint8Array): string {
  for (const b of bytes) if (b < 0x20 || b > 0x7e) return `0x${Buffer.from(bytes).toString('hex')}`;
  return Buffer.from(bytes).toString('latin1');
}

/** A human-readable form of a storage key, e.g. "r/1/e/42", "m/1/applied", "d/user:7". */
export function formatKey(key: Buffer): string {
  const p = parseKey(key);
  switch (p.kind) {
    case 'entry':
      return `r/${p.groupId}/e/${p.index}`;
    case 'hardState':
      return `r/${p.groupId}/h`;
    case 'snapshotMeta':
      return `r/${p.groupId}/s`;
    case 'applied':
      return `m/${p.groupId}/applied`;
    case 'installMarker':
      return `m/${p.groupId}/install`;
    case 'shardRecord':
      return `m/${p.groupId}/shard`;
    case 'session':
      return `m/${p.groupId}/sessions/${p.clientId}`;
    case 'staging':
      return `t/${p.groupId}/${formatBytes(key.subarray(7))}`;
    case 'data':
      return `d/${formatBytes(p.userKey)}`;
    case 'unknown':
      return formatBytes(key);
  }
}
