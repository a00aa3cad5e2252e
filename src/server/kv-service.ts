/**
 * The public KV service (proto/kv.proto) on top of NodeHost. Every request field is validated
 * (requests.ts); writes go through the group's log, reads through ReadIndex unless consistency is STALE.
 * A node that does not lead the key's group answers FAILED_PRECONDITION + NOT_LEADER with leader hints
 * (tessera-leader-id, tessera-leader-address); the SDK then goes to the leader.
 * A CAS or Batch whose comparison fails is a normal answer (succeeded: false), not an error.
 */
import type * as grpc from '@grpc/grpc-js';
import { TesseraError } from '../base';
import type { CommandResult } from '../codec';
import type { NodeConfig } from '../config';
import type { NodeHost } from '../node';
import type { NodeMetrics } from '../obs';
import {
  CONSISTENCY_STALE,
  batchCommand,
  casCommand,
  checkKey,
  deleteCommand,
  putCommand,
  scanPlan,
  type BatchWire,
  type CasWire,
  type DeleteWire,
  type GetWire,
  type PutWire,
  type ScanWire,
} from './requests';
import { unary } from './unary';

const EMPTY = Buffer.alloc(0);

function expect<T extends CommandResult['type']>(result: CommandResult, type: T): Extract<CommandResult, { type: T }> {
  if (result.type === type) return result as Extract<CommandResult, { type: T }>;
  if (result.type === 'wrongShard') throw new TesseraError('WRONG_SHARD', 'the key moved to another shard before the write applied', { epoch: 0 });
  if (result.type === 'sessionExpired') {
    // Not retryable and not a definite failure: the session's newer write superseded this one, or the
    // session was evicted. Reported as FAILED_PRECONDITION + tessera-reason SESSION_EXPIRED.
    throw new TesseraError('INTERNAL', 'the write session expired; the outcome of this write is unknown', { reason: 'SESSION_EXPIRED' });
  }
  throw new TesseraError('INTERNAL', `unexpected state machine result ${result.type} for a ${type}`);
}

export function kvServiceHandlers(host: () => NodeHost, config: NodeConfig, metrics: NodeMetrics): grpc.UntypedServiceImplementation {
  const limits = config.limits;
  const u = <Req, Res>(method: string, fn: (req: Req, timeoutMs: number) => Promise<Res>) => unary<Req, Res>(method, metrics, config.requestTimeoutMs, fn);

  return {
    get: u('KV.Get', async (req: GetWire, timeoutMs) => {
      const key = checkKey(req.key, limits);
      const h = host();
      const group = h.groupFor(key);
      const mode = req.consistency === CONSISTENCY_STALE ? 'stale' : 'linearizable';
      const { value, header: hd } = await h.read(group, mode, (sm) => sm.get(key), timeoutMs);
      return { header: hd, found: value !== null, value: value ?? EMPTY };
    }),

    put: u('KV.Put', async (req: PutWire, timeoutMs) => {
      const cmd = putCommand(req, limits);
      const h = host();
      const { result, header: hd } = await h.propose(h.groupFor(checkKey(req.key, limits)), cmd, timeoutMs);
      expect(result, 'put');
      return { header: hd };
    }),

    delete: u('KV.Delete', async (req: DeleteWire, timeoutMs) => {
      const cmd = deleteCommand(req, limits);
      const h = host();
      const { result, header: hd } = await h.propose(h.groupFor(checkKey(req.key, limits)), cmd, timeoutMs);
      return { header: hd, existed: expect(result, 'delete').existed };
    }),

    compareAndSwap: u('KV.CompareAndSwap', async (req: CasWire, timeoutMs) => {
      const cmd = casCommand(req, limits);
      const h = host();
      const { result, header: hd } = await h.propose(h.groupFor(checkKey(req.key, limits)), cmd, timeoutMs);
      const r = expect(result, 'cas');
      return { header: hd, succeeded: r.succeeded, currentFound: r.current !== null, current: r.current ?? EMPTY };
    }),

    scan: u('KV.Scan', async (req: ScanWire, timeoutMs) => {
      const plan = scanPlan(req, limits);
      const h = host();
      const group = h.groupFor(plan.start);
      const { value: page, header: hd } = await h.read(group, plan.stale ? 'stale' : 'linearizable', (sm) => sm.scan(plan.start, plan.end, plan.limit, plan.bytesMax), timeoutMs);
      return { header: hd, items: page.items.map((kv) => ({ key: kv.key, value: kv.value })), more: page.more, nextStart: page.nextStart ?? EMPTY };
    }),

    batch: u('KV.Batch', async (req: BatchWire, timeoutMs) => {
      const { command, readSlots } = batchCommand(req, limits);
      const h = host();
      const firstKey = command.compares[0]?.key ?? command.writes[0]?.key ?? (command.reads[0] as Buffer);
      const group = h.groupFor(firstKey);
      for (const k of [...command.compares.map((c) => c.key), ...command.writes.map((w) => w.key), ...command.reads]) {
        if (h.groupFor(k) !== group) throw new TesseraError('INVALID_ARGUMENT', 'a batch must stay within one shard', { limit: 'batchShard' });
      }
      const { result, header: hd } = await h.propose(group, command, timeoutMs);
      const r = expect(result, 'batch');
      const results = readSlots.map((slot) => {
        const v = slot >= 0 ? (r.values[slot] ?? null) : null;
        return { found: v !== null, value: v ?? EMPTY };
      });
      return { header: hd, succeeded: r.succeeded, results };
    }),
  };
}
