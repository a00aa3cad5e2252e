import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { toGrpcStatus } from '../../../src/server/errors';
import { notLeaderError } from '../../../src/node/errors';
import { commandFingerprint } from '../../../src/codec';
import type { CommandResult } from '../../../src/codec';
import { expectResult } from '../../../src/server/kv-service';
import {
  batchCommand,
  casCommand,
  consistencyOf,
  deleteCommand,
  openSessionCommand,
  putCommand,
  scanPlan,
  toSession,
} from '../../../src/server/requests';

const limits = {
  keyBytesMax: 8,
  valueBytesMax: 16,
  batchOpsMax: 3,
  batchBytesMax: 40,
  scanItemsMax: 100,
  scanBytesMax: 1000,
};
const b = (s: string) => Buffer.from(s);

function invalid(fn: () => unknown): TesseraError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    expect((e as TesseraError).code).toBe('INVALID_ARGUMENT');
    return e as TesseraError;
  }
  throw new Error('expected INVALID_ARGUMENT');
}

describe('error mapping', () => {
  it('maps NOT_LEADER to FAILED_PRECONDITION with leader hints', () => {
    const s = toGrpcStatus(
      new TesseraError('NOT_LEADER', 'not the leader', { leaderId: 2, leaderAddress: '127.0.0.1:7002' }),
    );
    expect(s.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(s.metadata.get('tessera-reason')).toEqual(['NOT_LEADER']);
    expect(s.metadata.get('tessera-leader-id')).toEqual(['2']);
    expect(s.metadata.get('tessera-leader-address')).toEqual(['127.0.0.1:7002']);
  });
  it('names the group of a NOT_LEADER built by the node layer (tessera-group: the SDK caches a leader per shard)', () => {
    const s = toGrpcStatus(notLeaderError(1, 7, 3, '127.0.0.1:7003'));
    expect(s.metadata.get('tessera-reason')).toEqual(['NOT_LEADER']);
    expect(s.metadata.get('tessera-group')).toEqual(['7']);
    expect(s.metadata.get('tessera-leader-id')).toEqual(['3']);
  });
  it('omits an unknown leader', () => {
    const s = toGrpcStatus(new TesseraError('NOT_LEADER', 'no leader', { leaderId: 0 }));
    expect(s.metadata.get('tessera-leader-id')).toEqual([]);
  });
  it('maps the other codes', () => {
    const cases: [TesseraError, grpc.status, string, string?][] = [
      [
        new TesseraError('INVALID_ARGUMENT', 'too big', { limit: 'valueBytesMax' }),
        grpc.status.INVALID_ARGUMENT,
        'INVALID_ARGUMENT',
        'valueBytesMax',
      ],
      [new TesseraError('WRONG_SHARD', 'moved', { epoch: 4 }), grpc.status.FAILED_PRECONDITION, 'WRONG_SHARD'],
      [new TesseraError('UNAVAILABLE', 'no quorum'), grpc.status.UNAVAILABLE, 'UNAVAILABLE'],
      [new TesseraError('RESOURCE_EXHAUSTED', 'full'), grpc.status.RESOURCE_EXHAUSTED, 'RESOURCE_EXHAUSTED'],
      [new TesseraError('DEADLINE_EXCEEDED', 'late'), grpc.status.DEADLINE_EXCEEDED, 'DEADLINE_EXCEEDED'],
      [new TesseraError('CORRUPTION', 'bad'), grpc.status.DATA_LOSS, 'CORRUPTION'],
    ];
    for (const [e, code, reason, limit] of cases) {
      const s = toGrpcStatus(e);
      expect(s.code).toBe(code);
      expect(s.metadata.get('tessera-reason')).toEqual([reason]);
      expect(s.details).toBe(e.message);
      if (limit) expect(s.metadata.get('tessera-limit')).toEqual([limit]);
    }
    expect(toGrpcStatus(new TesseraError('WRONG_SHARD', 'moved', { epoch: 4 })).metadata.get('tessera-epoch')).toEqual([
      '4',
    ]);
    const plain = toGrpcStatus(new Error('boom'));
    expect(plain.code).toBe(grpc.status.INTERNAL);
    expect(plain.metadata.get('tessera-reason')).toEqual(['INTERNAL']);
  });
});

describe('request validation', () => {
  it('checks keys and values and names the limit', () => {
    expect(invalid(() => putCommand({ key: b(''), value: b('v'), session: null }, limits)).details.limit).toBe(
      'keyBytesMin',
    );
    const big = invalid(() => putCommand({ key: b('123456789'), value: b('v'), session: null }, limits));
    expect(big.details.limit).toBe('keyBytesMax');
    expect(big.message).toMatch(/key is 9 bytes, over the limit of 8/);
    expect(
      invalid(() => putCommand({ key: b('k'), value: Buffer.alloc(17), session: null }, limits)).details.limit,
    ).toBe('valueBytesMax');
    expect(putCommand({ key: b('k'), value: Buffer.alloc(16), session: null }, limits)).toEqual({
      type: 'put',
      key: b('k'),
      value: Buffer.alloc(16),
      session: null,
    });
  });

  it('turns sessions into hex client ids and rejects seq 0', () => {
    expect(toSession({ clientId: Buffer.from([1, 2, 255]), seq: 5 })).toEqual({ clientId: '0102ff', seq: 5 });
    expect(toSession({ clientId: Buffer.alloc(0), seq: 0 })).toBeNull();
    expect(toSession(null)).toBeNull();
    expect(invalid(() => toSession({ clientId: b('x'), seq: 0 })).details.limit).toBe('sessionSeq');
  });

  it('builds CAS commands for absent expectations and delete on success', () => {
    expect(
      casCommand(
        { key: b('k'), expected: b(''), expectedAbsent: true, value: b('v'), deleteOnSuccess: false, session: null },
        limits,
      ),
    ).toMatchObject({ expected: null, value: b('v') });
    expect(
      casCommand(
        { key: b('k'), expected: b('a'), expectedAbsent: false, value: b(''), deleteOnSuccess: true, session: null },
        limits,
      ),
    ).toMatchObject({ expected: b('a'), value: null });
  });

  it('plans batches and enforces op and byte limits', () => {
    const plan = batchCommand(
      {
        compares: [],
        ops: [
          { op: 'put', put: { key: b('a'), value: b('1'), session: null } },
          { op: 'get', get: { key: b('b'), consistency: 0 } },
          { op: 'delete', delete: { key: b('c'), session: null } },
        ],
        session: null,
      },
      limits,
    );
    expect(plan.readSlots).toEqual([-1, 0, -1]);
    expect(plan.command.writes).toEqual([
      { op: 'put', key: b('a'), value: b('1') },
      { op: 'delete', key: b('c') },
    ]);
    expect(plan.command.reads).toEqual([b('b')]);
    expect(invalid(() => batchCommand({ compares: [], ops: [], session: null }, limits)).message).toMatch(
      /no operations/,
    );
    const four = Array.from({ length: 4 }, () => ({ op: 'delete' as const, delete: { key: b('k'), session: null } }));
    expect(invalid(() => batchCommand({ compares: [], ops: four, session: null }, limits)).details.limit).toBe(
      'batchOpsMax',
    );
    const heavy = Array.from({ length: 3 }, (_, i) => ({
      op: 'put' as const,
      put: { key: b(`k${i}`), value: Buffer.alloc(16), session: null },
    }));
    expect(invalid(() => batchCommand({ compares: [], ops: heavy, session: null }, limits)).details.limit).toBe(
      'batchBytesMax',
    );
    expect(invalid(() => batchCommand({ compares: [], ops: [{}], session: null }, limits)).message).toMatch(
      /ops\[0\] has no operation/,
    );
  });

  it('caps scan pages and rejects inverted ranges', () => {
    expect(scanPlan({ start: b('a'), end: b(''), limit: 0, bytesMax: 0, consistency: 1 }, limits)).toEqual({
      start: b('a'),
      end: null,
      limit: 100,
      bytesMax: 1000,
      stale: true,
    });
    expect(scanPlan({ start: b('a'), end: b('z'), limit: 5000, bytesMax: 10, consistency: 0 }, limits)).toMatchObject({
      limit: 100,
      bytesMax: 10,
      stale: false,
    });
    expect(
      invalid(() => scanPlan({ start: b('z'), end: b('a'), limit: 0, bytesMax: 0, consistency: 0 }, limits)).details
        .limit,
    ).toBe('scanRange');
  });
});

describe('sessions and enums (issue 8)', () => {
  it('maps SESSION_EXPIRED to FAILED_PRECONDITION with its reason (and the older INTERNAL + reason form)', () => {
    for (const e of [
      new TesseraError('SESSION_EXPIRED', 'gone'),
      new TesseraError('INTERNAL', 'gone', { reason: 'SESSION_EXPIRED' }),
    ]) {
      const s = toGrpcStatus(e);
      expect(s.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(s.metadata.get('tessera-reason')).toEqual(['SESSION_EXPIRED']);
    }
    expect(new TesseraError('SESSION_EXPIRED', 'gone').retryable).toBe(false);
  });

  it('writes with a session carry the request fingerprint; writes without one do not change', () => {
    const s = { clientId: Buffer.alloc(16, 7), seq: 3 };
    const p = putCommand({ key: b('k'), value: b('v'), session: s }, limits);
    expect(p).toEqual({
      type: 'put',
      key: b('k'),
      value: b('v'),
      session: { clientId: '07'.repeat(16), seq: 3, fingerprint: commandFingerprint(p) },
    });
    const other = putCommand({ key: b('k2'), value: b('v'), session: s }, limits);
    expect(other.type === 'put' && other.session?.fingerprint).not.toBe(p.type === 'put' && p.session?.fingerprint);
    const d = deleteCommand({ key: b('k'), session: s }, limits);
    expect(d.type === 'delete' && d.session?.fingerprint).toBe(commandFingerprint(d));
    const c = casCommand(
      { key: b('k'), expected: b(''), expectedAbsent: true, value: b('v'), deleteOnSuccess: false, session: s },
      limits,
    );
    expect(c.type === 'cas' && c.session?.fingerprint).toBe(commandFingerprint(c));
    const { command } = batchCommand(
      { compares: [], ops: [{ put: { key: b('a'), value: b('1'), session: null } }], session: s },
      limits,
    );
    expect(command.session?.fingerprint).toBe(commandFingerprint(command));
  });

  it('OpenSession wants 16 to 64 bytes of client id and becomes a registerSession command', () => {
    expect(openSessionCommand({ clientId: Buffer.alloc(16, 0xab) })).toEqual({
      type: 'registerSession',
      clientId: 'ab'.repeat(16),
    });
    expect(invalid(() => openSessionCommand({ clientId: Buffer.alloc(15) })).details.limit).toBe('clientIdBytes');
    expect(invalid(() => openSessionCommand({ clientId: Buffer.alloc(65) })).details.limit).toBe('clientIdBytes');
    expect(invalid(() => openSessionCommand({ clientId: Buffer.alloc(0) })).details.limit).toBe('clientIdBytes');
  });

  it('rejects unknown Consistency values naming the field, in Get, Scan and Batch gets', () => {
    expect(consistencyOf(0)).toBe('linearizable');
    expect(consistencyOf(1)).toBe('stale');
    for (const v of [7, -1, 2, 1.5, 'STALE']) {
      const e = invalid(() => consistencyOf(v));
      expect(e.message).toMatch(/^consistency is /);
      expect(e.details.field).toBe('consistency');
    }
    const scan = { start: b('a'), end: b('z'), limit: 0, bytesMax: 0 };
    expect(scanPlan({ ...scan, consistency: 1 }, limits).stale).toBe(true);
    expect(invalid(() => scanPlan({ ...scan, consistency: 7 }, limits)).details.field).toBe('consistency');
    expect(invalid(() => scanPlan({ ...scan, consistency: -1 }, limits)).details.field).toBe('consistency');
    const e = invalid(() =>
      batchCommand({ compares: [], ops: [{ get: { key: b('a'), consistency: 7 } }], session: null }, limits),
    );
    expect(e.details.field).toBe('ops[0].get.consistency');
  });
});

describe('state machine results as replies', () => {
  it('maps sessionExpired, a reused seq and an undecodable entry to their errors, never to a silent success', () => {
    const codeOf = (r: CommandResult, want: CommandResult['type']) => {
      try {
        expectResult(r, want);
        return 'OK';
      } catch (e) {
        return `${(e as TesseraError).code}: ${(e as TesseraError).message}`;
      }
    };
    expect(codeOf({ type: 'put' }, 'put')).toBe('OK');
    expect(codeOf({ type: 'sessionExpired' }, 'delete')).toMatch(/^SESSION_EXPIRED: .*outcome of the write is unknown/);
    expect(codeOf({ type: 'sessionSeqReused', seq: 4 }, 'cas')).toBe(
      'INVALID_ARGUMENT: session seq 4 was used for a different request',
    );
    expect(codeOf({ type: 'undecodable', message: 'bad' }, 'put')).toMatch(
      /^INTERNAL: .*could not decode.*nothing was applied/,
    );
    expect(codeOf({ type: 'registerSession', clientId: 'ab' }, 'registerSession')).toBe('OK');
  });
});
