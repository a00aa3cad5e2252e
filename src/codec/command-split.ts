/**
 * The split command of a KV group's log, its results, and the shard record a KV group persists (issue 10,
 * "Split"; applied by kv/split-apply.ts). Tuples (appended to command.ts's numbering, so every older entry
 * decodes as before and an older decoder refuses type 6 as an unknown command, applied as a no-op):
 *   split command    [6, splitKey, epoch, rightGroupId, newEpoch, t?]
 *   split result     [10, [start, end|null, epoch], [groupId, start, end|null, epoch], rightCreated]
 *   splitRefused     [11, rule (0 epoch-mismatch, 1 bad-split), message, epoch]
 *   shard record     m/<g>/shard: [start, end|null, epoch]   (a KV group's range and epoch)
 * Decoding is strict (entries come from peers: hostile): exact tuple lengths, a split key of 1..64 KiB,
 * epochs non-negative safe integers with newEpoch > epoch, a right group id a positive u32. A shard record
 * must have start < end.
 */
import { isShardId } from '../base';
import type { Command, CommandResult, GroupShard, SplitRefusal } from './command-types';
import { decodeShaped } from './raft-records';
import { encodeRecord } from './record';
import { arr, bool, bytes, fail, str, uint } from './shape';

/** Longest split key accepted (the meta shard's splitKeyBytesMax). */
export const SPLIT_KEY_BYTES_MAX = 64 * 1024;
const SPLIT_RULES: readonly SplitRefusal[] = ['epoch-mismatch', 'bad-split'];

type SplitCommand = Extract<Command, { type: 'split' }>;

function exactly(t: unknown[], min: number, max: number, what: string): void {
  if (t.length < min || t.length > max) fail(`${what}: expected ${min}..${max} elements, got ${t.length}`);
}

function epochOf(v: unknown, what: string): number {
  return uint(v, what);
}

function endOf(v: unknown, what: string): Buffer | null {
  return v === null ? null : bytes(v, what);
}

export function splitCommandBody(c: SplitCommand): unknown[] {
  return [6, c.splitKey, c.epoch, c.rightGroupId, c.newEpoch];
}

/** The split command of tuple `t` (t[0] === 6), without its time; throws ShapeError when malformed. */
export function toSplitCommand(t: unknown[]): SplitCommand {
  exactly(t, 5, 6, 'split');
  const splitKey = bytes(t[1], 'split key');
  if (splitKey.length < 1 || splitKey.length > SPLIT_KEY_BYTES_MAX)
    fail(`split key: ${splitKey.length} bytes is not in 1..${SPLIT_KEY_BYTES_MAX}`);
  const epoch = epochOf(t[2], 'split epoch');
  if (!isShardId(t[3])) fail(`split right group: ${String(t[3])} is not a positive 32-bit integer`);
  const newEpoch = epochOf(t[4], 'split new epoch');
  if (newEpoch <= epoch) fail(`split new epoch ${newEpoch} is not after epoch ${epoch}`);
  return { type: 'split', splitKey, epoch, rightGroupId: t[3], newEpoch, session: null };
}

type SplitResult = Extract<CommandResult, { type: 'split' | 'splitRefused' }>;

export function splitResultTuple(r: SplitResult): unknown[] {
  if (r.type === 'splitRefused') return [11, SPLIT_RULES.indexOf(r.rule), r.message, r.epoch];
  const { left, right } = r;
  return [
    10,
    [left.start, left.end, left.epoch],
    [right.groupId, right.start, right.end, right.epoch],
    r.rightState === 'created',
  ];
}

/** The split result of tuple `t` (t[0] 10 or 11); throws ShapeError when malformed. */
export function toSplitResult(t: unknown[]): SplitResult {
  if (t[0] === 11) {
    const rule = SPLIT_RULES[uint(t[1], 'split refusal rule')];
    if (rule === undefined) fail(`unknown split refusal rule ${String(t[1])}`);
    return { type: 'splitRefused', rule, message: str(t[2], 'message'), epoch: epochOf(t[3], 'epoch') };
  }
  const l = arr(t[1], 'split left');
  const r = arr(t[2], 'split right');
  return {
    type: 'split',
    left: { start: bytes(l[0], 'left start'), end: endOf(l[1], 'left end'), epoch: epochOf(l[2], 'left epoch') },
    right: {
      groupId: uint(r[0], 'right group'),
      start: bytes(r[1], 'right start'),
      end: endOf(r[2], 'right end'),
      epoch: epochOf(r[3], 'right epoch'),
    },
    rightState: bool(t[3], 'right created') ? 'created' : 'kept',
  };
}

/** The tuple of a shard record (also carried by KV snapshots, kv/snapshot-chunk.ts). */
export function groupShardTuple(s: GroupShard): unknown[] {
  return [s.start, s.end, s.epoch];
}

/** The shard of a tuple; throws ShapeError when it is malformed or its range is empty. */
export function toGroupShard(v: unknown): GroupShard {
  const t = arr(v, 'shard record');
  exactly(t, 3, 3, 'shard record');
  const s: GroupShard = { start: bytes(t[0], 'start'), end: endOf(t[1], 'end'), epoch: epochOf(t[2], 'epoch') };
  if (s.end !== null && Buffer.compare(s.start, s.end) >= 0) fail('shard record: start is not before end');
  return s;
}

export function encodeShardRecord(s: GroupShard): Buffer {
  return encodeRecord(groupShardTuple(s));
}

/** A stored shard record; throws CORRUPTION when it is malformed or its range is empty. */
export function decodeShardRecord(buf: Uint8Array, keyForError: string): GroupShard {
  return decodeShaped(buf, keyForError, toGroupShard);
}
