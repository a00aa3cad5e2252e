/**
 * The split command in the KV command codec (codec/command-split.ts): round trips, strict decoding of
 * hostile tuples (each refused with CORRUPTION naming the field), its results in session records, and the
 * m/<g>/shard record.
 */
import { describe, expect, it } from 'vitest';
import {
  decodeCommand,
  decodeSessionRecord,
  decodeShardRecord,
  encodeCommand,
  encodeRecord,
  encodeSessionRecord,
  encodeShardRecord,
  formatKey,
  parseKey,
  shardRecordKey,
  SPLIT_KEY_BYTES_MAX,
} from '../../../src/codec';
import type { Command, CommandResult } from '../../../src/codec';
import { packr } from '../../../src/codec/packr';

const b = (s: string): Buffer => Buffer.from(s);
const split: Command = { type: 'split', splitKey: b('k'), epoch: 3, rightGroupId: 7, newEpoch: 4, session: null };

function refusal(tuple: unknown[]): string {
  try {
    decodeCommand(packr.pack(tuple));
  } catch (e) {
    expect((e as { code?: string }).code).toBe('CORRUPTION');
    return (e as Error).message;
  }
  throw new Error(`decoded ${JSON.stringify(tuple)}`);
}

describe('split command codec', () => {
  it('round-trips with and without time; older commands decode as before', () => {
    expect(decodeCommand(encodeCommand(split))).toEqual(split);
    expect(decodeCommand(encodeCommand({ ...split, atMs: 1234 }))).toEqual({ ...split, atMs: 1234 });
    expect(decodeCommand(packr.pack([6, b('k'), 3, 7, 4]))).toEqual(split);
    expect(decodeCommand(packr.pack([5, 'c1', 9]))).toEqual({ type: 'registerSession', clientId: 'c1', atMs: 9 });
    expect(decodeCommand(packr.pack([0]))).toEqual({ type: 'noop' });
  });

  it('refuses hostile tuples, naming what is wrong', () => {
    expect(refusal([6, b('k'), 3, 7])).toMatch(/split: expected 5..6 elements/);
    expect(refusal([6, b('k'), 3, 7, 4, 1, 'extra'])).toMatch(/split: expected 5..6 elements/);
    expect(refusal([6, 'k', 3, 7, 4])).toMatch(/split key: expected bytes/);
    expect(refusal([6, Buffer.alloc(0), 3, 7, 4])).toMatch(/split key: 0 bytes/);
    expect(refusal([6, Buffer.alloc(SPLIT_KEY_BYTES_MAX + 1), 3, 7, 4])).toMatch(/split key: 65537 bytes/);
    expect(refusal([6, b('k'), -1, 7, 4])).toMatch(/split epoch/);
    expect(refusal([6, b('k'), 1.5, 7, 4])).toMatch(/split epoch/);
    expect(refusal([6, b('k'), 3, 0, 4])).toMatch(/split right group: 0/);
    expect(refusal([6, b('k'), 3, 2 ** 32, 4])).toMatch(/split right group/);
    expect(refusal([6, b('k'), 3, '7', 4])).toMatch(/split right group/);
    expect(refusal([6, b('k'), 3, 7, 3])).toMatch(/new epoch 3 is not after epoch 3/);
    expect(refusal([6, b('k'), 3, 7, 2 ** 53])).toMatch(/split new epoch/);
    expect(refusal([6, b('k'), 3, 7, 4, -5])).toMatch(/atMs/);
  });

  it('keeps split results in session records', () => {
    const results: CommandResult[] = [
      {
        type: 'split',
        left: { start: b(''), end: b('k'), epoch: 4 },
        right: { groupId: 7, start: b('k'), end: null, epoch: 4 },
        rightState: 'created',
      },
      {
        type: 'split',
        left: { start: b('a'), end: b('k'), epoch: 4 },
        right: { groupId: 7, start: b('k'), end: b('z'), epoch: 4 },
        rightState: 'kept',
      },
      { type: 'splitRefused', rule: 'epoch-mismatch', message: 'stale', epoch: 5 },
      { type: 'splitRefused', rule: 'bad-split', message: 'outside', epoch: 1 },
    ];
    for (const result of results) {
      const rec = decodeSessionRecord(encodeSessionRecord({ seq: 1, lastIndex: 2, result }), 'k');
      expect(rec.result).toEqual(result);
    }
    expect(() => decodeSessionRecord(encodeRecord([1, 2, [11, 2, 'm', 1]]), 'k')).toThrow(/refusal rule/);
  });

  it('stores a shard record under m/<g>/shard, refusing an empty range', () => {
    const key = shardRecordKey(9);
    expect(formatKey(key)).toBe('m/9/shard');
    expect(parseKey(key)).toEqual({ kind: 'shardRecord', groupId: 9 });
    const s = { start: b('a'), end: b('k'), epoch: 2 };
    expect(decodeShardRecord(encodeShardRecord(s), 'x')).toEqual(s);
    expect(decodeShardRecord(encodeShardRecord({ ...s, end: null }), 'x')).toEqual({ ...s, end: null });
    expect(() => decodeShardRecord(encodeRecord([b('k'), b('k'), 2]), 'x')).toThrow(/start is not before end/);
    expect(() => decodeShardRecord(encodeRecord([b('a'), b('k')]), 'x')).toThrow(/shard record: expected 3..3/);
  });
});
