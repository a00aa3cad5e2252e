import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { toGrpcStatus } from '../../../src/server/errors';
import { batchCommand, casCommand, putCommand, scanPlan, toSession } from '../../../src/server/requests';

const limits = { keyBytesMax: 8, valueBytesMax: 16, batchOpsMax: 3, batchBytesMax: 40, scanItemsMax: 100, scanBytesMax: 1000 };
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
    const s = toGrpcStatus(new TesseraError('NOT_LEADER', 'not the leader', { leaderId: 2, leaderAddress: '127.0.0.1:7002' }));
    expect(s.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(s.metadata.get('tessera-reason')).toEqual(['NOT_LEADER']);
    expect(s.metadata.get('tessera-leader-id')).toEqual(['2']);
    expect(s.metadata.get('tessera-leader-address')).toEqual(['127.0.0.1:7002']);
  });
  it('omits an unknown leader', () => {
    const s = toGrpcStatus(new TesseraError('NOT_LEADER', 'no leader', { leaderId: 0 }));
    expect(s.metadata.get('tessera-leader-id')).toEqual([]);
  });
  it('maps the other codes', () => {
    const cases: [TesseraError, grpc.status, string, string?][] = [
      [new TesseraError('INVALID_ARGUMENT', 'too big', { limit: 'valueBytesMax' }), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT', 'valueBytesMax'],
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
    expect(toGrpcStatus(new TesseraError('WRONG_SHARD', 'moved', { epoch: 4 })).metadata.get('tessera-epoch')).toEqual(['4']);
    const plain = toGrpcStatus(new Error('boom'));
    expect(plain.code).toBe(grpc.status.INTERNAL);
    expect(plain.metadata.get('tessera-reason')).toEqual(['INTERNAL']);
  });
});

describe('request validation', () => {
  it('checks keys and values and names the limit', () => {
    expect(invalid(() => putCommand({ key: b(''), value: b('v'), session: null }, limits)).details.limit).toBe('keyBytesMin');
    const big = invalid(() => putCommand({ key: b('123456789'), value: b('v'), session: null }, limits));
    expect(big.details.limit).toBe('keyBytesMax');
    expect(big.message).toMatch(/key is 9 bytes, over the limit of 8/);
    expect(invalid(() => putCommand({ key: b('k'), value: Buffer.alloc(17), session: null }, limits)).details.limit).toBe('valueBytesMax');
    expect(putCommand({ key: b('k'), value: Buffer.alloc(16), session: null }, limits)).toEqual({ type: 'put', key: b('k'), value: Buffer.alloc(16), session: null });
  });

  it('turns sessions into hex client ids and rejects seq 0', () => {
    expect(toSession({ clientId: Buffer.from([1, 2, 255]), seq: 5 })).toEqual({ clientId: '0102ff', seq: 5 });
    expect(toSession({ clientId: Buffer.alloc(0), seq: 0 })).toBeNull();
    expect(toSession(null)).toBeNull();
    expect(invalid(() => toSession({ clientId: b('x'), seq: 0 })).details.limit).toBe('sessionSeq');
  });

  it('builds CAS commands for absent expectations and delete on success', () => {
    expect(casCommand({ key: b('k'), expected: b(''), expectedAbsent: true, value: b('v'), deleteOnSuccess: false, session: null }, limits)).toMatchObject({ expected: null, value: b('v') });
    expect(casCommand({ key: b('k'), expected: b('a'), expectedAbsent: false, value: b(''), deleteOnSuccess: true, session: null }, limits)).toMatchObject({ expected: b('a'), value: null });
  });

  it('plans batches and enforces op and byte limits', () => {
    const plan = batchCommand({ compares: [], ops: [{ op: 'put', put: { key: b('a'), value: b('1'), session: null } }, { op: 'get', get: { key: b('b'), consistency: 0 } }, { op: 'delete', delete: { key: b('c'), session: null } }], session: null }, limits);
    expect(plan.readSlots).toEqual([-1, 0, -1]);
    expect(plan.command.writes).toEqual([{ op: 'put', key: b('a'), value: b('1') }, { op: 'delete', key: b('c') }]);
    expect(plan.command.reads).toEqual([b('b')]);
    expect(invalid(() => batchCommand({ compares: [], ops: [], session: null }, limits)).message).toMatch(/no operations/);
    const four = Array.from({ length: 4 }, () => ({ op: 'delete' as const, delete: { key: b('k'), session: null } }));
    expect(invalid(() => batchCommand({ compares: [], ops: four, session: null }, limits)).details.limit).toBe('batchOpsMax');
    const heavy = Array.from({ length: 3 }, (_, i) => ({ op: 'put' as const, put: { key: b(`k${i}`), value: Buffer.alloc(16), session: null } }));
    expect(invalid(() => batchCommand({ compares: [], ops: heavy, session: null }, limits)).details.limit).toBe('batchBytesMax');
    expect(invalid(() => batchCommand({ compares: [], ops: [{}], session: null }, limits)).message).toMatch(/ops\[0\] has no operation/);
  });

  it('caps scan pages and rejects inverted ranges', () => {
    expect(scanPlan({ start: b('a'), end: b(''), limit: 0, bytesMax: 0, consistency: 1 }, limits)).toEqual({ start: b('a'), end: null, limit: 100, bytesMax: 1000, stale: true });
    expect(scanPlan({ start: b('a'), end: b('z'), limit: 5000, bytesMax: 10, consistency: 0 }, limits)).toMatchObject({ limit: 100, bytesMax: 10, stale: false });
    expect(invalid(() => scanPlan({ start: b('z'), end: b('a'), limit: 0, bytesMax: 0, consistency: 0 }, limits)).details.limit).toBe('scanRange');
  });
});
