/**
 * One coalesced batch of single-key requests in flight (Coalescer): sent as one message on the endpoint's
 * KV.Pipeline stream, or as one KV.Multi call, and settled request by request.
 * Invariants: every request settles exactly once (its result, the stream's or call's failure, its own hard
 * deadline, or the batch's "no sign of life" soft timeout); once every request settled the batch is done:
 * its one timer is cleared and late answers are ignored (on the pipeline, abandoned).
 */
import * as grpc from '@grpc/grpc-js';
import { attemptTimeout, classifyGrpcError } from './errors';
import type { AttemptFailure } from './errors';
import type { Pipeline } from './pipeline';
import type { PipelineStub } from './pipeline';

export type AttemptOutcome<T> = { ok: true; value: T } | { ok: false; failure: AttemptFailure };

/** Largest PipelineOp.timeout_ms (uint32). */
const TIMEOUT_MS_MAX = 0xffff_ffff;

/** The server-streaming KV.Multi method of a grpc-js client. */
export type MultiStub = (
  request: { ops: Record<string, unknown>[] },
  options: grpc.CallOptions,
) => grpc.ClientReadableStream<MultiResponseWire>;

interface MultiResponseWire {
  results: Array<Record<string, unknown> & { index: number }>;
}

export interface Item {
  method: string;
  field: string;
  request: unknown;
  bytes: number;
  softMs: number;
  hardAt: number;
  settled: boolean;
  resolve: (out: AttemptOutcome<unknown>) => void;
}

export interface CoalescerHost {
  readonly address: string;
  /** When the node last answered anything (Endpoint.lastReplyMs). */
  lastReplyMs(): number;
  noteReply(nowMs: number): void;
  /** The Multi stub of the endpoint's KV client. */
  multi: MultiStub;
  /** Opens a KV.Pipeline stream; without it every batch is a Multi call. */
  pipeline?: PipelineStub;
  /** Sends one request on its own (fallback for a node without Multi). */
  single(method: string, request: unknown, softMs: number, hardMs: number): Promise<AttemptOutcome<unknown>>;
  /** Test-only: discard a successful reply as if lost (ClientOptions.faultInjection.dropReply). */
  dropReply?: (info: { method: string; endpoint: string }) => boolean;
}

/** What a batch needs of its Coalescer: the stream to send on, and how to fall back on an older node. */
export interface BatchRoute {
  /** The pipeline stream, or null to send one Multi call. */
  pipeline: Pipeline | null;
  /** The node answered UNIMPLEMENTED without a Tessera trailer: it knows neither Pipeline nor Multi. */
  unimplemented(pipelined: boolean): void;
}

type ResultWire = Record<string, unknown>;
type ErrorWire = { code: number; message: string; trailers: Record<string, string> } | undefined | null;

export class CoalescedBatch {
  private readonly pipelined: boolean;
  /** A Multi call runs until the latest deadline of its requests; on the pipeline each has its own. */
  private deadline: number;
  /** The shortest soft timeout of a request whose budget is longer than it (Endpoint.unary). */
  private softMs = Number.POSITIVE_INFINITY;
  private pending: number;
  private done = false;
  private timer: NodeJS.Timeout | null = null;
  private windowStartMs: number;
  private abandon: () => void = () => undefined;

  constructor(
    private readonly host: CoalescerHost,
    private readonly items: Item[],
    private readonly route: BatchRoute,
  ) {
    this.pipelined = route.pipeline !== null;
    this.deadline = this.pipelined ? Number.POSITIVE_INFINITY : 0;
    this.pending = items.length;
    this.windowStartMs = Date.now();
  }

  /** Sends the batch and arms its timer. */
  start(): void {
    const ops = this.buildOps(this.windowStartMs);
    const pipeline = this.route.pipeline;
    if (pipeline !== null) {
      this.abandon = pipeline.send(ops, {
        result: (slot, r) => this.onResult(this.items[slot], r),
        fail: this.onError,
      });
    } else {
      this.startMulti(ops);
    }
    this.arm();
  }

  private buildOps(now: number): Record<string, unknown>[] {
    const items = this.items;
    const ops: Record<string, unknown>[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) {
      const it = items[i] as Item;
      if (!this.pipelined && it.hardAt > this.deadline) this.deadline = it.hardAt;
      if (it.softMs < it.hardAt - now && it.softMs < this.softMs) this.softMs = it.softMs;
      ops[i] = this.pipelined
        ? { timeoutMs: Math.min(TIMEOUT_MS_MAX, Math.max(1, it.hardAt - now)), [it.field]: it.request }
        : { [it.field]: it.request };
    }
    return ops;
  }

  private startMulti(ops: Record<string, unknown>[]): void {
    const call = this.host.multi({ ops }, { deadline: this.deadline });
    this.abandon = () => call.cancel();
    call.on('data', (msg: MultiResponseWire) => {
      if (this.done) return;
      this.host.noteReply(Date.now());
      for (const r of msg.results) this.onResult(this.items[r.index], r);
    });
    call.on('error', this.onError);
    call.on('status', (st: grpc.StatusObject) => {
      if (this.done || st.code !== grpc.status.OK) return;
      // Every result was delivered before the status (grpc-js pushes messages first); a request still
      // unanswered after the data already read means a broken server.
      setImmediate(this.failMissing);
    });
  }

  private settle(it: Item, out: AttemptOutcome<unknown>): void {
    if (it.settled) return;
    it.settled = true;
    it.resolve(out);
    if (--this.pending === 0) this.finish();
  }

  private finish(): void {
    this.done = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.pipelined) this.abandon(); // requests that timed out here: ignore their late answers
  }

  private fail(it: Item, err: grpc.ServiceError): void {
    this.settle(it, { ok: false, failure: classifyGrpcError(err, it.method, this.host.address) });
  }

  private onResult(it: Item | undefined, r: ResultWire): void {
    if (it === undefined || it.settled) return;
    const e = r.error as ErrorWire;
    const host = this.host;
    if (e) {
      this.fail(it, fakeServiceError(e.code, e.message, e.trailers ?? {}));
    } else if (host.dropReply !== undefined && host.dropReply({ method: it.method, endpoint: host.address })) {
      const failure = attemptTimeout(it.method, host.address, it.softMs, 'reply dropped by faultInjection');
      this.settle(it, { ok: false, failure });
    } else {
      this.settle(it, { ok: true, value: r[it.field] });
    }
  }

  private readonly onError = (err: grpc.ServiceError): void => {
    if (this.done) return;
    const t = Date.now();
    const host = this.host;
    if (err.code === grpc.status.UNIMPLEMENTED && !hasTesseraTrailer(err.metadata)) {
      // An older node: Multi (or each request on its own) from now on; these go on their own, with what
      // is left of their budgets.
      this.route.unimplemented(this.pipelined);
      for (const it of this.items) {
        if (it.settled) continue;
        void host
          .single(it.method, it.request, it.softMs, Math.max(1, it.hardAt - t))
          .then((out) => this.settle(it, out));
      }
      return;
    }
    for (const it of this.items) {
      const failure = classifyGrpcError(err, it.method, host.address);
      if (failure.kind === 'server') host.noteReply(t);
      this.settle(it, { ok: false, failure });
    }
  };

  private readonly failMissing = (): void => {
    if (this.done) return;
    for (const it of this.items) {
      this.fail(
        it,
        fakeServiceError(grpc.status.INTERNAL, 'the node ended Multi without answering this request', {
          'tessera-reason': 'INTERNAL',
        }),
      );
    }
  };

  /** Fails the requests whose own deadline passed before the call's deadline (grpc-js ends Multi then). */
  private expireEarly(t: number): void {
    for (const it of this.items) {
      if (!it.settled && it.hardAt <= t && it.hardAt < this.deadline) {
        this.fail(it, fakeServiceError(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded', null));
      }
    }
  }

  /** One timer for the batch: the next soft check, or the earliest per-request deadline before the call's. */
  private arm(): void {
    if (this.done) return;
    let wakeAt = Number.isFinite(this.softMs) ? this.windowStartMs + this.softMs : Number.POSITIVE_INFINITY;
    for (const it of this.items) {
      if (!it.settled && it.hardAt < this.deadline && it.hardAt < wakeAt) wakeAt = it.hardAt;
    }
    if (!Number.isFinite(wakeAt)) return;
    this.timer = setTimeout(this.check, Math.max(0, wakeAt - Date.now()));
  }

  private readonly check = (): void => {
    this.timer = null;
    if (!this.done) setImmediate(this.decide);
  };

  /**
   * Decides in the check phase (setImmediate), after the event loop polled I/O: replies that arrived while
   * this process was busy count as signs of life before a timer can call the node dead (Endpoint.unary).
   */
  private readonly decide = (): void => {
    if (this.done) return;
    const t = Date.now();
    this.expireEarly(t);
    if (this.done) return;
    if (Number.isFinite(this.softMs) && t - this.windowStartMs >= this.softMs) {
      const stalled = t - this.windowStartMs > 2 * this.softMs;
      if (this.host.lastReplyMs() > this.windowStartMs || stalled) {
        this.windowStartMs = t;
      } else {
        this.giveUp();
        return;
      }
    }
    this.arm();
  };

  /** No sign of life from the node within the soft timeout: every request still open fails as a timeout. */
  private giveUp(): void {
    this.finish();
    this.abandon();
    for (const it of this.items) {
      if (it.settled) continue;
      it.settled = true;
      it.resolve({
        ok: false,
        failure: attemptTimeout(it.method, this.host.address, it.softMs, 'no sign of life from the node'),
      });
    }
  }
}

function hasTesseraTrailer(md: grpc.Metadata | undefined): boolean {
  if (!md) return false;
  for (const key of Object.keys(md.getMap())) if (key.startsWith('tessera-')) return true;
  return false;
}

/** A per-request error in the shape grpc-js gives a failed unary call, for classifyGrpcError. */
function fakeServiceError(code: number, message: string, trailers: Record<string, string> | null): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  if (trailers) for (const [k, v] of Object.entries(trailers)) metadata.set(k, v);
  const err = new Error(`${code} ${grpc.status[code] ?? ''}: ${message}`) as grpc.ServiceError;
  err.code = code;
  err.details = message;
  err.metadata = metadata;
  return err;
}
