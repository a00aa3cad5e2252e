/**
 * The wire form of WRONG_SHARD's details (src/shard/descriptor-wire.ts) and the SDK's decoder
 * (src/client/wrong-shard.ts): round trips of random descriptors, the epoch-only form for long keys, the
 * whole path through real gRPC metadata and classifyGrpcError (unary, and the per-request trailers of
 * Multi/Pipeline), and hostile input (every malformed field is refused without throwing).
 * Randomized parts print their seed; replay with SHARD_WIRE_SEED=<seed> npx vitest run test/unit/client/shard-wire.test.ts
 */
import { describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { Random, TesseraError, epochOf, shardIdOf } from '../../../src/base';
import type { NodeId } from '../../../src/base';
import { classifyGrpcError } from '../../../src/client/errors';
import { ShardCache } from '../../../src/client/shard-cache';
import { decodeWrongShard, learnWrongShard, wrongShardOf } from '../../../src/client/wrong-shard';
import { toGrpcStatus, toRequestError } from '../../../src/server/errors';
import {
  SHARD_TRAILER,
  SHARD_WIRE_CHARS_MAX,
  decodeShardWire,
  encodeShardWire,
  makeDescriptor,
  sameDescriptor,
  validateDescriptor,
  wrongShardDetails,
} from '../../../src/shard';
import type { Replica, ShardDescriptor } from '../../../src/shard';
import { desc, k } from '../shard/helpers';
import { randomKey, seedsFor } from './shard-fixtures';

function randomDescriptor(rnd: Random): ShardDescriptor {
  let start = randomKey(rnd, 12, 256);
  let end: Uint8Array | null = rnd.chance(0.2) ? null : randomKey(rnd, 12, 256);
  if (end !== null && Buffer.compare(start, end) >= 0) [start, end] = [end, Buffer.concat([start, k('x')])];
  const nodes = rnd.shuffle(Array.from({ length: 9 }, (_, i) => i + 1 + rnd.int(0, 2) * 1_000_000_000));
  const replicas: Replica[] = nodes
    .slice(0, rnd.int(1, 7))
    .map((node, i) => ({ node, role: i === 0 || rnd.chance(0.7) ? 'voter' : 'learner' }));
  const epoch = rnd.pick([0, 1, rnd.int(0, 1000), Number.MAX_SAFE_INTEGER]);
  return makeDescriptor({
    id: shardIdOf(rnd.pick([1, rnd.int(1, 0xffff_ffff), 0xffff_ffff])),
    start,
    end,
    replicas,
    epoch: epochOf(epoch),
  });
}

/** What a node's WRONG_SHARD carries: the trailers toGrpcStatus sets (the shard trailer among them). */
function wrongShardMetadata(owner: ShardDescriptor, leader?: { id: NodeId; address?: string }): grpc.Metadata {
  const details = wrongShardDetails(owner, leader);
  const st = toGrpcStatus(new TesseraError('WRONG_SHARD', 'key not in this shard', details));
  expect(st.metadata.get(SHARD_TRAILER)).toEqual([details['shard']]);
  return st.metadata;
}

function serviceError(metadata: grpc.Metadata): grpc.ServiceError {
  const code = grpc.status.FAILED_PRECONDITION;
  return Object.assign(new Error('wrong shard'), { code, details: 'wrong shard', metadata }) as grpc.ServiceError;
}

describe('descriptor wire form', () => {
  it('has the documented text for a simple shard and for the whole keyspace', () => {
    expect(encodeShardWire(desc(7, 'a', 'm', '3l 1v 2v', 4))).toBe('1;7;4;61;6d;1v,2v,3l');
    expect(encodeShardWire(desc(1, '', null, '5v', 0))).toBe('1;1;0;;*;5v');
    const d = decodeShardWire('1;7;4;61;6d;1v,2v,3l');
    expect(d.kind === 'descriptor' && sameDescriptor(d.descriptor, desc(7, 'a', 'm', '1v 2v 3l', 4))).toBe(true);
  });

  it('round-trips random descriptors', () => {
    for (const seed of seedsFor('SHARD_WIRE_SEED', 'shard-wire.test.ts', [1, 2])) {
      const rnd = new Random(seed);
      for (let i = 0; i < 2000; i++) {
        const d = randomDescriptor(rnd);
        const text = encodeShardWire(d);
        expect(text, `seed ${seed} #${i}`).toMatch(/^[ -~]+$/);
        const back = decodeShardWire(text);
        expect(back.kind === 'descriptor' && sameDescriptor(back.descriptor, d), `seed ${seed} #${i}: ${text}`).toBe(
          true,
        );
      }
    }
  });

  it('sends the epoch only when the keys are too long for a trailer', () => {
    const long = new Uint8Array(SHARD_WIRE_CHARS_MAX / 2).fill(0x61);
    const d = makeDescriptor({ ...desc(9, '', null, '1v', 12), start: long, end: null });
    expect(encodeShardWire(d)).toBe('1;9;12');
    expect(decodeShardWire('1;9;12')).toEqual({ kind: 'epoch', id: 9, epoch: 12 });
    // Just under the bound the full form is still used.
    const fits = makeDescriptor({ ...d, start: long.subarray(0, SHARD_WIRE_CHARS_MAX / 2 - 20) });
    const text = encodeShardWire(fits);
    expect(text.length).toBeLessThanOrEqual(SHARD_WIRE_CHARS_MAX);
    expect(decodeShardWire(text).kind).toBe('descriptor');
  });

  it('ignores fields appended by a newer node', () => {
    const d = decodeShardWire('1;7;4;61;6d;1v,2v,3l;some-future-field;x');
    expect(d.kind).toBe('descriptor');
  });

  const hostile: [string, unknown][] = [
    ['not a string', 42],
    ['too long', `1;7;4;${'61'.repeat(SHARD_WIRE_CHARS_MAX)};*;1v`],
    ['unknown version', '2;7;4;61;6d;1v'],
    ['empty', ''],
    ['four fields', '1;7;4;61'],
    ['five fields', '1;7;4;61;6d'],
    ['shard id 0', '1;0;4;61;6d;1v'],
    ['shard id past 32 bits', '1;4294967296;4;61;6d;1v'],
    ['shard id with a leading zero', '1;07;4;61;6d;1v'],
    ['negative shard id', '1;-1;4;61;6d;1v'],
    ['exponent', '1;1e3;4;61;6d;1v'],
    ['epoch past 2^53', '1;7;9007199254740992;61;6d;1v'],
    ['epoch of 17 digits', '1;7;10000000000000000;61;6d;1v'],
    ['empty epoch', '1;7;;61;6d;1v'],
    ['epoch-only with a bad epoch', '1;7;x'],
    ['epoch-only with shard id 0', '1;0;4'],
    ['epoch-only with a shard id past 32 bits', '1;4294967296;4'],
    ['odd hex', '1;7;4;616;6d;1v'],
    ['uppercase hex', '1;7;4;6A;6d;1v'],
    ['non-hex', '1;7;4;zz;6d;1v'],
    ['empty end (not +infinity)', '1;7;4;61;;1v'],
    ['start after end', '1;7;4;6d;61;1v'],
    ['start equal to end', '1;7;4;61;61;1v'],
    ['no replicas', '1;7;4;61;6d;'],
    ['replica node 0', '1;7;4;61;6d;0v'],
    ['replica with a bad role', '1;7;4;61;6d;1x'],
    ['replica without a role', '1;7;4;61;6d;1'],
    ['replica node past 32 bits', '1;7;4;61;6d;4294967296v'],
    ['duplicate replica', '1;7;4;61;6d;1v,1l'],
    ['no voter', '1;7;4;61;6d;1l,2l'],
    ['too many replicas', `1;7;4;61;6d;${Array.from({ length: 65 }, (_, i) => `${i + 1}v`).join(',')}`],
    ['space in a replica', '1;7;4;61;6d; 1v'],
  ];
  it.each(hostile)('refuses %s without throwing', (_name, text) => {
    const d = decodeShardWire(text);
    expect(d.kind).toBe('invalid');
  });

  it('never throws on random mutations, and whatever it accepts is a valid descriptor', () => {
    for (const seed of seedsFor('SHARD_WIRE_SEED', 'shard-wire.test.ts', [3])) {
      const rnd = new Random(seed);
      const alphabet = '0123456789abcdefvl;,*-x ';
      let accepted = 0;
      for (let i = 0; i < 5000; i++) {
        const chars = [...encodeShardWire(randomDescriptor(rnd))];
        for (let m = rnd.int(1, 3); m > 0; m--) {
          const at = rnd.int(0, chars.length);
          const op = rnd.int(0, 2);
          if (op === 0) chars.splice(at, 1);
          else if (op === 1) chars.splice(at, 0, rnd.pick([...alphabet]));
          else chars[at] = rnd.pick([...alphabet]);
        }
        const d = decodeShardWire(chars.join(''));
        if (d.kind === 'descriptor') {
          accepted++;
          expect(() => validateDescriptor(d.descriptor)).not.toThrow();
        }
      }
      expect(accepted, `seed ${seed}`).toBeGreaterThan(0);
    }
  });
});

describe('WRONG_SHARD through gRPC trailers', () => {
  const owner = desc(12, 'g', 'p', '1v 2v 3l', 6);

  it('carries the descriptor, epoch and leader hint of a unary answer', () => {
    const f = classifyGrpcError(
      serviceError(wrongShardMetadata(owner, { id: 2, address: '127.0.0.1:7002' })),
      'Get',
      'h:1',
    );
    expect(f.kind).toBe('server');
    const hint = wrongShardOf(f.error);
    expect(hint?.epoch).toBe(6);
    expect(hint?.owner?.kind === 'descriptor' && sameDescriptor(hint.owner.descriptor, owner)).toBe(true);
    expect(hint?.leader).toEqual({ node: 2, address: '127.0.0.1:7002' });
    expect(hint?.dropped).toBeNull();
  });

  it('carries them in the per-request trailers of Multi and Pipeline (plain strings)', () => {
    const details = wrongShardDetails(owner, { id: 1 });
    const wire = toRequestError(new TesseraError('WRONG_SHARD', 'moved', details));
    const metadata = new grpc.Metadata();
    expect(wire.trailers[SHARD_TRAILER]).toBe(details['shard']);
    for (const [key, v] of Object.entries(wire.trailers)) metadata.set(key, v);
    const hint = wrongShardOf(classifyGrpcError(serviceError(metadata), 'Put', 'h:1').error);
    expect(hint?.owner?.kind).toBe('descriptor');
    expect(hint?.leader).toEqual({ node: 1, address: null });
  });

  it('is not read from other errors', () => {
    expect(wrongShardOf(new TesseraError('NOT_LEADER', 'x', { leaderId: 2 }))).toBeNull();
  });

  it('drops a descriptor whose epoch disagrees with tessera-epoch, and hints that are not its voters', () => {
    const text = encodeShardWire(owner);
    expect(decodeWrongShard(7, 2, undefined, text)).toMatchObject({
      owner: null,
      dropped: expect.stringMatching(/epoch/),
    });
    expect(decodeWrongShard(6, 3, undefined, text).leader).toBeNull(); // node 3 is a learner
    expect(decodeWrongShard(6, 9, undefined, text).leader).toBeNull(); // not a replica
    expect(decodeWrongShard(6, 2, 'not an address', text).leader).toEqual({ node: 2, address: null });
    expect(decodeWrongShard(6, 0, '127.0.0.1:1', text).leader).toBeNull();
    expect(decodeWrongShard('6', 2, undefined, undefined)).toMatchObject({ epoch: null, owner: null });
    expect(decodeWrongShard(6, 2, undefined, '1;12;6;zz')).toMatchObject({ owner: null, dropped: '4 fields' });
  });

  it('teaches the cache: a newer owner evicts the stale entry; anything less drops the entry that routed', () => {
    const cache = new ShardCache();
    cache.update(desc(12, 'g', null, '1v 2v 3v', 5), { node: 1, address: null });
    const learned = learnWrongShard(cache, k('h'), decodeWrongShard(6, 2, undefined, encodeShardWire(owner)));
    expect(learned.kind).toBe('updated');
    expect(cache.locate(k('h'))).toMatchObject({ kind: 'hit', leader: { node: 2 } });
    expect(cache.locate(k('q')).kind).toBe('miss');

    // Epoch only, newer than the cached owner of the key: dropped, load it.
    expect(learnWrongShard(cache, k('h'), decodeWrongShard(7, null, null, '1;12;7')).kind).toBe('refresh');
    expect(cache.locate(k('h')).kind).toBe('miss');

    // A descriptor that does not hold the key is not learned, and the entry that routed the request goes.
    cache.update(owner);
    const elsewhere = desc(13, 'p', null, '1v 2v 3v', 99);
    const hint = decodeWrongShard(99, null, null, encodeShardWire(elsewhere));
    expect(learnWrongShard(cache, k('h'), hint)).toMatchObject({ kind: 'refresh', why: /does not hold the key/ });
    expect(cache.descriptors()).toEqual([]);
  });

  it('heals a forged descriptor with a huge epoch at the first WRONG_SHARD through it', () => {
    const cache = new ShardCache();
    cache.update(desc(12, 'g', 'p', '1v 2v 3v', 6));
    const forged = desc(666, '', null, '9v', Number.MAX_SAFE_INTEGER);
    expect(learnWrongShard(cache, k('h'), decodeWrongShard(forged.epoch, 9, null, encodeShardWire(forged))).kind).toBe(
      'updated',
    );
    // The node the forged descriptor routes to answers with the truth, which is older: the forged entry goes.
    const truth = desc(12, 'g', 'p', '1v 2v 3v', 7);
    const learned = learnWrongShard(cache, k('h'), decodeWrongShard(7, 1, null, encodeShardWire(truth)));
    expect(learned).toMatchObject({ kind: 'refresh', why: /not cached \(stale\)/ });
    expect(cache.size).toBe(0);
    expect(cache.update(truth).kind).toBe('added'); // what the meta shard says is taken again
  });
});
