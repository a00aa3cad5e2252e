/**
 * The public KV service (proto/kv.proto) on top of NodeHost. Every request field is validated
 * (requests.ts); writes go through the group's log, reads through ReadIndex unless consistency is STALE.
 * A node that does not lead the key's group answers FAILED_PRECONDITION + NOT_LEADER with leader hints
 * (tessera-leader-id, tessera-leader-address); the SDK then goes to the leader.
 * A CAS or Batch whose comparison fails is a normal answer (succeeded: false), not an error.
 * OpenSession registers a client session in the log (a registerSession command) before its first write;
 * new sessions are rate-limited per client address on the node that receives the call (session-limiter.ts):
 * past the limit, RESOURCE_EXHAUSTED. A write from a session the state machine does not know is answered
 * SESSION_EXPIRED; a reused seq with another request INVALID_ARGUMENT (limit sessionSeq).
 */
import * as grpc from '@grpc/grpc-js';
import { TesseraError } from '../base';
import type { CommandResult } from '../codec';
import type { NodeConfig } from '../config';
import type { NodeHost } from '../node';
import type { NodeMetrics } from '../obs';
import {
  batchCommand,
  casCommand,
  checkKey,
  consistencyOf,
  deleteCommand,
  openSessionCommand,
  putCommand,
  scanPlan,
  type BatchWire,
  type CasWire,
  type DeleteWire,
  type GetWire,
  type OpenSessionWire,
  type PutWire,
  type ScanWire,
} from './requests';
import { SessionOpenLimiter, clientAddressOf } from './session-limiter';
import { toGrpcStatus, toRequestError } from './errors';
import { servePipeline, type OpenPipelines, type PipelineOpWire } from './pipeline';
import { remainingMs, unary } from './unary';

const EMPTY = Buffer.alloc(0);

/** The result of a proposed command as the request expects it, or the error its reply carries. */
export function expectResult<T extends CommandResult['type']>(
  result: CommandResult,
  type: T,
): Extract<CommandResult, { type: T }> {
  if (result.type === type) return result as Extract<CommandResult, { type: T }>;
  if (result.type === 'wrongShard')
    throw new TesseraError('WRONG_SHARD', 'the key moved to another shard before the write applied', { epoch: 0 });
  if (result.type === 'sessionExpired') {
    // Not retryable and not a definite failure: the session is unknown to the state machine (never
    // registered, evicted or expired), or its newer write superseded this one. Nothing was applied by this
    // request; an earlier attempt of the write may have been.
    throw new TesseraError(
      'SESSION_EXPIRED',
      'the write session is unknown or moved on; nothing was applied by this request and the outcome of the write is unknown',
    );
  }
  if (result.type === 'sessionSeqReused') {
    throw new TesseraError('INVALID_ARGUMENT', `session seq ${result.seq} was used for a different request`, {
      limit: 'sessionSeq',
    });
  }
  if (result.type === 'undecodable') {
    throw new TesseraError(
      'INTERNAL',
      `the state machine could not decode this write's log entry; nothing was applied (${result.message})`,
    );
  }
  throw new TesseraError('INTERNAL', `unexpected state machine result ${result.type} for a ${type}`);
}

/** Most requests in one Multi call (the SDK sends far fewer). */
export const MULTI_OPS_MAX = 4096;

interface MultiOpWire {
  op?: 'get' | 'put' | 'delete' | 'compareAndSwap' | 'openSession';
  get?: GetWire | null;
  put?: PutWire | null;
  delete?: DeleteWire | null;
  compareAndSwap?: CasWire | null;
  openSession?: OpenSessionWire | null;
}

export function kvServiceHandlers(
  host: () => NodeHost,
  config: NodeConfig,
  metrics: NodeMetrics,
  pipelines: OpenPipelines,
  sessionLimiter: SessionOpenLimiter = new SessionOpenLimiter(config.sessionsNewPerClientPerSecond),
): grpc.UntypedServiceImplementation {
  const limits = config.limits;
  const u = <Req, Res>(method: string, fn: (req: Req, timeoutMs: number) => Promise<Res>) =>
    unary<Req, Res>(method, metrics, config.requestTimeoutMs, fn);
  const fns = kvFunctions(host, limits);
  /** OpenSession from the client at grpc-js peer `peer`: rate-limited by its address, then proposed. */
  const openSessionFn = async (req: OpenSessionWire, timeoutMs: number, peer: string) => {
    const cmd = openSessionCommand(req);
    sessionLimiter.take(clientAddressOf(peer));
    const h = host();
    // One group spans the keyspace today: the session is registered in the group of the first key.
    const { result, header: hd } = await h.propose(h.groupFor(EMPTY), cmd, timeoutMs);
    const r = expectResult(result, 'registerSession');
    return { header: hd, clientId: Buffer.from(r.clientId, 'hex') };
  };
  const openSession = u('KV.OpenSession', (req: OpenSessionWire & { peer: string }, timeoutMs) =>
    openSessionFn(req, timeoutMs, req.peer),
  );

  /** One request of a Multi call: its result, or its error as the single call would have returned it. */
  const multiOne = (op: MultiOpWire, timeoutMs: number, peer: string): Promise<Record<string, unknown>> => {
    let run: Promise<unknown>;
    const kind =
      op.op ??
      (op.put
        ? 'put'
        : op.get
          ? 'get'
          : op.delete
            ? 'delete'
            : op.compareAndSwap
              ? 'compareAndSwap'
              : op.openSession
                ? 'openSession'
                : undefined);
    try {
      if (kind === 'put' && op.put) run = fns.put(op.put, timeoutMs);
      else if (kind === 'get' && op.get) run = fns.get(op.get, timeoutMs);
      else if (kind === 'delete' && op.delete) run = fns.delete(op.delete, timeoutMs);
      else if (kind === 'compareAndSwap' && op.compareAndSwap) run = fns.compareAndSwap(op.compareAndSwap, timeoutMs);
      else if (kind === 'openSession' && op.openSession) run = openSessionFn(op.openSession, timeoutMs, peer);
      else
        throw new TesseraError(
          'INVALID_ARGUMENT',
          'a Multi op has no request (get, put, delete, compare_and_swap or open_session)',
        );
    } catch (e) {
      run = Promise.reject(e);
    }
    return run.then(
      (res) => ({ [kind as string]: res }),
      (e: unknown) => ({ error: toRequestError(e) }),
    );
  };

  return {
    get: u('KV.Get', fns.get),
    put: u('KV.Put', fns.put),
    delete: u('KV.Delete', fns.delete),
    compareAndSwap: u('KV.CompareAndSwap', fns.compareAndSwap),
    openSession: (
      call: grpc.ServerUnaryCall<OpenSessionWire & { peer: string }, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      call.request.peer = call.getPeer(); // set here, after decoding: not a field a client can send
      openSession(call, callback);
    },

    multi: (call: grpc.ServerWritableStream<{ ops: MultiOpWire[] }, { results: Record<string, unknown>[] }>) => {
      const peer = call.getPeer();
      serveMulti(call, (op, timeoutMs) => multiOne(op, timeoutMs, peer), metrics, config.requestTimeoutMs);
    },
    pipeline: (call: grpc.ServerDuplexStream<{ ops: PipelineOpWire[] }, { results: Record<string, unknown>[] }>) => {
      const peer = call.getPeer();
      servePipeline(
        call,
        (op, timeoutMs) => multiOne(op as MultiOpWire, timeoutMs, peer),
        pipelines,
        metrics,
        config.requestTimeoutMs,
      );
    },

    scan: u('KV.Scan', async (req: ScanWire, timeoutMs) => {
      const plan = scanPlan(req, limits);
      const h = host();
      const group = h.groupFor(plan.start);
      const { value: page, header: hd } = await h.read(
        group,
        plan.stale ? 'stale' : 'linearizable',
        (sm) => sm.scan(plan.start, plan.end, plan.limit, plan.bytesMax),
        timeoutMs,
      );
      return {
        header: hd,
        items: page.items.map((kv) => ({ key: kv.key, value: kv.value })),
        more: page.more,
        nextStart: page.nextStart ?? EMPTY,
      };
    }),

    batch: u('KV.Batch', async (req: BatchWire, timeoutMs) => {
      const { command, readSlots } = batchCommand(req, limits);
      const h = host();
      const firstKey = command.compares[0]?.key ?? command.writes[0]?.key ?? (command.reads[0] as Buffer);
      const group = h.groupFor(firstKey);
      for (const k of [...command.compares.map((c) => c.key), ...command.writes.map((w) => w.key), ...command.reads]) {
        if (h.groupFor(k) !== group)
          throw new TesseraError('INVALID_ARGUMENT', 'a batch must stay within one shard', { limit: 'batchShard' });
      }
      const { result, header: hd } = await h.propose(group, command, timeoutMs);
      const r = expectResult(result, 'batch');
      const results = readSlots.map((slot) => {
        const v = slot >= 0 ? (r.values[slot] ?? null) : null;
        return { found: v !== null, value: v ?? EMPTY };
      });
      return { header: hd, succeeded: r.succeeded, results };
    }),
  };
}

/**
 * KV.Multi (server streaming): runs every request at once and streams the results as they complete; the
 * results completing in one event-loop turn share one message. Ends the stream after the last result.
 */
function serveMulti(
  call: grpc.ServerWritableStream<{ ops: MultiOpWire[] }, { results: Record<string, unknown>[] }>,
  one: (op: MultiOpWire, timeoutMs: number) => Promise<Record<string, unknown>>,
  metrics: NodeMetrics,
  requestTimeoutMs: number,
): void {
  const t0 = performance.now();
  const ops = call.request.ops ?? [];
  const fail = (e: TesseraError): void => {
    const st = toGrpcStatus(e);
    metrics.grpcLatencySeconds.observe(
      { method: 'KV.Multi', code: grpc.status[st.code] ?? String(st.code) },
      (performance.now() - t0) / 1000,
    );
    call.emit('error', { code: st.code, details: st.details, metadata: st.metadata });
  };
  if (ops.length > MULTI_OPS_MAX) {
    fail(
      new TesseraError('INVALID_ARGUMENT', `Multi has ${ops.length} requests, over the limit of ${MULTI_OPS_MAX}`, {
        limit: 'multiOpsMax',
      }),
    );
    return;
  }
  const timeoutMs = remainingMs(call.getDeadline(), requestTimeoutMs);
  if (timeoutMs <= 0) {
    fail(new TesseraError('DEADLINE_EXCEEDED', 'the request deadline passed before it was handled'));
    return;
  }
  let left = ops.length;
  let ready: Record<string, unknown>[] = [];
  let flushScheduled = false;
  const flush = (): void => {
    flushScheduled = false;
    const results = ready;
    ready = [];
    if (call.cancelled) return;
    if (results.length > 0) call.write({ results });
    if (left === 0) {
      metrics.grpcLatencySeconds.observe({ method: 'KV.Multi', code: 'OK' }, (performance.now() - t0) / 1000);
      call.end();
    }
  };
  if (left === 0) {
    flush();
    return;
  }
  for (let i = 0; i < ops.length; i++) {
    void one(ops[i] as MultiOpWire, timeoutMs).then((result) => {
      result.index = i;
      ready.push(result);
      left--;
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush); // results completing in this turn (e.g. many reads) share one message
      }
    });
  }
}

/** The single-key requests, shared by their own RPCs and by Multi. */
function kvFunctions(host: () => NodeHost, limits: NodeConfig['limits']) {
  return {
    get: async (req: GetWire, timeoutMs: number) => {
      const key = checkKey(req.key, limits);
      const mode = consistencyOf(req.consistency);
      const h = host();
      const group = h.groupFor(key);
      const { value, header: hd } = await h.read(group, mode, (sm) => sm.get(key), timeoutMs);
      return { header: hd, found: value !== null, value: value ?? EMPTY };
    },

    put: async (req: PutWire, timeoutMs: number) => {
      const cmd = putCommand(req, limits);
      const h = host();
      const { result, header: hd } = await h.propose(h.groupFor(checkKey(req.key, limits)), cmd, timeoutMs);
      expectResult(result, 'put');
      return { header: hd };
    },

    delete: async (req: DeleteWire, timeoutMs: number) => {
      const cmd = deleteCommand(req, limits);
      const h = host();
      const { result, header: hd } = await h.propose(h.groupFor(checkKey(req.key, limits)), cmd, timeoutMs);
      return { header: hd, existed: expectResult(result, 'delete').existed };
    },

    compareAndSwap: async (req: CasWire, timeoutMs: number) => {
      const cmd = casCommand(req, limits);
      const h = host();
      const { result, header: hd } = await h.propose(h.groupFor(checkKey(req.key, limits)), cmd, timeoutMs);
      const r = expectResult(result, 'cas');
      return { header: hd, succeeded: r.succeeded, currentFound: r.current !== null, current: r.current ?? EMPTY };
    },
  };
}
