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
import { processLoopLag, shedAfterMsFor, type NodeMetrics } from '../obs';
import {
  batchCommand,
  casCommand,
  checkKey,
  consistencyOf,
  deleteCommand,
  openSessionCommand,
  openSessionKey,
  putCommand,
  scanPlan,
  type BatchWire,
  type CasWire,
  type DeleteWire,
  type GetWire,
  type OpenSessionWire,
  type PutWire,
  type ScanPlan,
  type ScanWire,
} from './requests';
import { SessionOpenLimiter, clientAddressOf } from './session-limiter';
import { toRequestError } from './errors';
import { servePipeline, type OpenPipelines, type PipelineOpWire } from './pipeline';
import { pipelineOpDenial } from './auth-guard';
import { unary } from './unary';
import { serveMulti } from './multi';
import {
  deriveOverloadBounds,
  InflightBudget,
  overloadError,
  SCAN_QUEUED_MAX,
  SCAN_WAIT_MS_MAX,
  type OverloadBounds,
} from './memory-budget';
import { LOOP_LAG_REFUSAL, LOOP_LAG_REFUSAL_WIRE, LoopAdmission, type LagSource } from './loop-admission';
import { ScanGate } from './scan-gate';

export { MULTI_OPS_MAX } from './multi';

/**
 * The node's budget and the bounds derived from its memory budget (memory-budget.ts), the gate of the Scans
 * running at once (scan-gate.ts), and shedding on event-loop lag (loop-admission.ts).
 */
export interface Admission {
  budget: InflightBudget;
  bounds: OverloadBounds;
  scans: ScanGate;
  loop: LoopAdmission;
}

const SCAN_REFUSAL = overloadError('scans in flight');

/**
 * The node's Admission from its config; refusals are counted in `metrics` (tessera_overload_refused_total).
 * `lag`: the event loop's lag (default the process's sampler, obs/loop-lag.ts).
 */
export function admissionFor(
  config: NodeConfig,
  metrics: NodeMetrics | null = null,
  lag: LagSource = processLoopLag(),
): Admission {
  const bounds = deriveOverloadBounds(config.memoryBudgetBytes, config.limits.scanBytesMax);
  const scanRefused = metrics?.overloadRefused.labels({ reason: 'scan' });
  const loopRefused = metrics?.overloadRefused.labels({ reason: 'loop' });
  const scans = new ScanGate(bounds.scanBytesInFlightMax, SCAN_QUEUED_MAX, () => {
    scanRefused?.inc();
    return SCAN_REFUSAL;
  });
  const loop = new LoopAdmission(lag, shedAfterMsFor(config.timing), () => loopRefused?.inc());
  const refused = metrics
    ? {
        bytes: metrics.overloadRefused.labels({ reason: 'bytes' }),
        ops: metrics.overloadRefused.labels({ reason: 'ops' }),
      }
    : null;
  const observer = refused ? { refused: (reason: 'bytes' | 'ops') => refused[reason].inc() } : null;
  return { bounds, budget: new InflightBudget(bounds.inflightBytesMax, bounds.opsInFlightMax, observer), scans, loop };
}

/** Runs `fn` as one admitted op of `bytes` bytes from `connection` (RESOURCE_EXHAUSTED at once when full). */
async function admitted<T>(
  budget: InflightBudget,
  bytes: number,
  connection: string | null,
  fn: () => Promise<T>,
): Promise<T> {
  if (!budget.tryAcquireOp(bytes, connection)) throw overloadError('bytes or requests in flight');
  try {
    return await fn();
  } finally {
    budget.releaseOp(bytes, connection);
  }
}

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
  admission: Admission = admissionFor(config, metrics),
): grpc.UntypedServiceImplementation {
  const limits = config.limits;
  const { budget, bounds, loop } = admission;
  const streamBounds = { budget, callQueuedBytesMax: bounds.callQueuedBytesMax };
  /** A unary method: refused while the event loop lags, else admitted by the node's budget with its bytes. */
  const u = <Req, Res>(method: string, fn: (req: Req, timeoutMs: number) => Promise<Res>, read = false) =>
    unary<Req, Res>(method, metrics, config.requestTimeoutMs, (req, timeoutMs, connection) =>
      loop.shed(budget.isLight(connection))
        ? Promise.reject(LOOP_LAG_REFUSAL)
        : admitted(budget, budget.opBytes(req, read), connection, () => fn(req, timeoutMs)),
    );
  /** One op of a Multi or Pipeline: refused while the event loop lags (no error allocated), else run. */
  const op = (o: MultiOpWire, timeoutMs: number, peer: string): Promise<Record<string, unknown>> =>
    loop.shed(budget.isLight(peer))
      ? Promise.resolve({ error: LOOP_LAG_REFUSAL_WIRE })
      : multiOne(fns, openSessionFn, o, timeoutMs, peer);
  const fns = kvFunctions(host, limits);
  /** OpenSession from the client at grpc-js peer `peer`: rate-limited by its address, then proposed. */
  const openSessionFn = async (req: OpenSessionWire, timeoutMs: number, peer: string) => {
    const cmd = openSessionCommand(req);
    const key = openSessionKey(req, limits);
    sessionLimiter.take(clientAddressOf(peer));
    const h = host();
    // Each shard keeps its own session table: the session is registered in the shard owning `key`.
    const { result, header: hd } = await h.propose(h.groupFor(key), cmd, timeoutMs);
    const r = expectResult(result, 'registerSession');
    return { header: hd, clientId: Buffer.from(r.clientId, 'hex') };
  };
  const openSession = u('KV.OpenSession', (req: OpenSessionWire & { peer: string }, timeoutMs) =>
    openSessionFn(req, timeoutMs, req.peer),
  );

  return {
    get: u(
      'KV.Get',
      async (req: GetWire, timeoutMs: number) => {
        const res = await fns.get(req, timeoutMs);
        budget.noteRead(res.value.length);
        return res;
      },
      true,
    ),
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
      serveMulti(call, (o, timeoutMs) => op(o, timeoutMs, peer), metrics, config.requestTimeoutMs, streamBounds);
    },
    pipeline: (call: grpc.ServerDuplexStream<{ ops: PipelineOpWire[] }, { results: Record<string, unknown>[] }>) => {
      const peer = call.getPeer();
      servePipeline(
        call,
        // With access control each op is checked as it arrives (auth-guard.ts); null: allowed, or auth off.
        (o, timeoutMs) => {
          const denied = pipelineOpDenial(call, o);
          return denied === null ? op(o as MultiOpWire, timeoutMs, peer) : Promise.resolve(denied);
        },
        pipelines,
        metrics,
        config.requestTimeoutMs,
        streamBounds,
      );
    },

    // A Scan page holds at most scanPageBytesMax bytes, taken from the scan gate (a few pages at once, more
    // wait briefly, the rest RESOURCE_EXHAUSTED at once) and reserved in the node's budget (on top of the
    // op's own bytes) until the page is read and its answer serialized.
    scan: u('KV.Scan', (req: ScanWire, timeoutMs) =>
      scanWithinBudget(host, limits, admission, metrics, req, timeoutMs),
    ),
    batch: u('KV.Batch', (req: BatchWire, timeoutMs) => batchFn(host, limits, req, timeoutMs)),
  };
}

type KvFunctions = ReturnType<typeof kvFunctions>;
type OpenSessionFn = (req: OpenSessionWire, timeoutMs: number, peer: string) => Promise<unknown>;

/** The request a Multi/Pipeline op carries (its `op` oneof case, or the first field set). */
function multiOpKind(op: MultiOpWire): MultiOpWire['op'] {
  if (op.op !== undefined) return op.op;
  if (op.put) return 'put';
  if (op.get) return 'get';
  if (op.delete) return 'delete';
  if (op.compareAndSwap) return 'compareAndSwap';
  if (op.openSession) return 'openSession';
  return undefined;
}

/** One request of a Multi call: its result, or its error as the single call would have returned it. */
function multiOne(
  fns: KvFunctions,
  openSession: OpenSessionFn,
  op: MultiOpWire,
  timeoutMs: number,
  peer: string,
): Promise<Record<string, unknown>> {
  let run: Promise<unknown>;
  const kind = multiOpKind(op);
  try {
    if (kind === 'put' && op.put) run = fns.put(op.put, timeoutMs);
    else if (kind === 'get' && op.get) run = fns.get(op.get, timeoutMs);
    else if (kind === 'delete' && op.delete) run = fns.delete(op.delete, timeoutMs);
    else if (kind === 'compareAndSwap' && op.compareAndSwap) run = fns.compareAndSwap(op.compareAndSwap, timeoutMs);
    else if (kind === 'openSession' && op.openSession) run = openSession(op.openSession, timeoutMs, peer);
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
}

/** One Scan page as the request's plan asks it (its byte bound already capped by the node's). */
async function scanPage(host: () => NodeHost, plan: ScanPlan, timeoutMs: number) {
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
}

/**
 * A Scan whose page (at most scanPageBytesMax bytes) holds room in the scan gate and is reserved in the
 * node's budget from before its read until its answer was serialized: the release waits for a later loop
 * turn (setImmediate), and grpc-js serializes the answer synchronously in the callback of this promise.
 */
async function scanWithinBudget(
  host: () => NodeHost,
  limits: NodeConfig['limits'],
  { budget, bounds, scans }: Admission,
  metrics: NodeMetrics,
  req: ScanWire,
  timeoutMs: number,
) {
  const plan = scanPlan(req, limits);
  plan.bytesMax = Math.min(plan.bytesMax, bounds.scanPageBytesMax);
  const leave = await scans.acquire(plan.bytesMax, Math.min(SCAN_WAIT_MS_MAX, timeoutMs / 2));
  if (!budget.tryAcquireBytes(plan.bytesMax)) {
    leave();
    metrics.overloadRefused.inc({ reason: 'scan' });
    throw SCAN_REFUSAL;
  }
  try {
    return await scanPage(host, plan, timeoutMs);
  } finally {
    setImmediate(() => {
      budget.releaseBytes(plan.bytesMax);
      leave();
    });
  }
}

/** A Batch: one command in the log, within one shard. */
async function batchFn(host: () => NodeHost, limits: NodeConfig['limits'], req: BatchWire, timeoutMs: number) {
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
