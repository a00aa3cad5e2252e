/**
 * The node's overload bounds, all derived from one number, the memory budget B (--memory-budget-mib):
 * - inflightBytesMax = B / 8: bytes of client requests being served at once (keys and values of admitted
 *   ops, Scan pages being read, results written to a stream and not yet flushed to its socket). A request
 *   that would pass it is refused at once with RESOURCE_EXHAUSTED, before any work or buffering.
 *   A read is admitted with the bytes its result is expected to hold (a running estimate of recent reads'
 *   results), so concurrent large reads are refused before they materialize.
 * - opsInFlightMax = 1,024: client ops (unary or inside Multi/Pipeline) being served at once on the node.
 *   Fairness: a connection holding CONNECTION_LIGHT_OPS ops or more is "heavy", and heavy connections
 *   together get at most opsInFlightMax - opsReserved (3/4 of it); the last quarter is kept for light
 *   connections, so a flood over a few connections cannot refuse every op of a client doing a few at a time.
 *   Admitted writes are applied and answered together, in one loop turn per Ready: with 16,384 a pipeline
 *   flood (20,000 puts over 400 streams) made 0.6 to 1.1 s turns on a loaded 2-core machine (apply, answers,
 *   persist of 10,000 entries at once) and the leader lost its leadership; with 1,024, none in our runs.
 * - callQueuedBytesMax = B / 64 (1..16 MiB): response bytes one stream may have queued unflushed; past it
 *   (or when grpc-js's write() says the stream's buffer is full) the node stops reading that stream's
 *   requests until its responses drain (HTTP/2 flow control then stops the client).
 * - sessionMemoryMb = B / 16 in MB (at least 4): HTTP/2 memory of one gRPC connection (grpc-js
 *   grpc-node.max_session_memory, Node's maxSessionMemory); past it the connection's new streams are refused.
 * - scanPageBytesMax = min(--scan-bytes-max, B / 64): the bytes one Scan page materializes; each Scan
 *   reserves its page bytes in inflightBytesMax while it reads.
 * - scanBytesInFlightMax = 2 * scanPageBytesMax (<= B / 32): the page bytes of the Scans running at once
 *   (scan-gate.ts; two full pages), held from before the read until the answer is serialized; at most
 *   SCAN_QUEUED_MAX more scans wait for room (each at most SCAN_WAIT_MS_MAX, or half its deadline), the rest
 *   get RESOURCE_EXHAUSTED at once. A page exists three times while it is answered (the values read, the
 *   protobuf message, the gRPC frame), and copying and serializing it is one synchronous piece of work: so
 *   few at a time, and one after another in separate loop turns.
 * Why B / 8: one copy of each value is accounted, but a response also exists serialized, and a read
 * refused after it completed leaves garbage until the next GC, so the RSS above the baseline runs well
 * above the accounted bytes. The rest of B is the node's baseline (V8 heap, LevelDB caches, Raft log and outboxes, which have their
 * own bounds: --uncommitted-bytes-max, --outbox-messages-max).
 *
 * Invariant of InflightBudget: inUse never exceeds the maximum (tryAcquire refuses instead), every
 * acquire is released exactly once by its owner, and `inUse` never goes below zero.
 */
import { TesseraError } from '../base';

const MIB = 1024 * 1024;

export interface OverloadBounds {
  memoryBudgetBytes: number;
  inflightBytesMax: number;
  opsInFlightMax: number;
  callQueuedBytesMax: number;
  sessionMemoryMb: number;
  scanPageBytesMax: number;
  scanBytesInFlightMax: number;
}

/** Scans that may wait for room in the scan gate; past it a Scan is refused at once. */
export const SCAN_QUEUED_MAX = 16;
/** The longest a Scan waits for room (and at most half of its own deadline). */
export const SCAN_WAIT_MS_MAX = 1000;

/** Client ops being served at once on one node (what one loop turn may have to apply and answer). */
export const OPS_IN_FLIGHT_MAX = 1024;

/** Ops in flight from which a connection counts as heavy (see the module header). */
export const CONNECTION_LIGHT_OPS = 64;

export function deriveOverloadBounds(memoryBudgetBytes: number, scanBytesMax: number): OverloadBounds {
  const b = Math.max(MIB, Math.floor(memoryBudgetBytes));
  const scanPageBytesMax = Math.max(1, Math.min(scanBytesMax, Math.floor(b / 64)));
  return {
    memoryBudgetBytes: b,
    inflightBytesMax: Math.floor(b / 8),
    opsInFlightMax: OPS_IN_FLIGHT_MAX,
    callQueuedBytesMax: Math.min(16 * MIB, Math.max(MIB, Math.floor(b / 64))),
    sessionMemoryMb: Math.max(4, Math.floor(b / 16 / MIB)),
    scanPageBytesMax,
    scanBytesInFlightMax: 2 * scanPageBytesMax,
  };
}

/** What the node refuses a request with when a budget is full: cheap, with no work done. */
export function overloadError(what: string): TesseraError {
  return new TesseraError('RESOURCE_EXHAUSTED', `the node is overloaded (${what}); retry later with backoff`);
}

/** Callbacks the budget reports to (metrics); kept out of the hot path's allocations. */
export interface BudgetObserver {
  refused(reason: 'bytes' | 'ops'): void;
}

/** Bytes and ops of client requests in flight on the node (see the module header). */
export class InflightBudget {
  private bytes = 0;
  private ops = 0;
  /** Expected bytes of a read's result: rises at once with large results, falls slowly (see noteRead). */
  private readBytesAvg = READ_BYTES_EXPECTED_INITIAL;

  constructor(
    readonly bytesMax: number,
    readonly opsMax: number,
    private readonly observer: BudgetObserver | null = null,
  ) {}

  get bytesInUse(): number {
    return this.bytes;
  }

  get opsInUse(): number {
    return this.ops;
  }

  /** Ops in flight per client connection (grpc-js peer "address:port"); entries at 0 are removed. */
  private readonly opsByConnection = new Map<string, number>();

  /** Ops kept for light connections (see the module header). */
  get opsReserved(): number {
    return Math.floor(this.opsMax / 4);
  }

  /**
   * Admits one op of `bytes` bytes for `connection` (null: not tied to one), or returns false (and admits
   * nothing) when a bound would pass: the node's ops or bytes, or, for a heavy connection, the share of
   * ops that heavy connections may hold.
   */
  tryAcquireOp(bytes: number, connection: string | null = null): boolean {
    const held = connection === null ? 0 : (this.opsByConnection.get(connection) ?? 0);
    if (this.ops >= this.opsMax || (held >= CONNECTION_LIGHT_OPS && this.ops >= this.opsMax - this.opsReserved)) {
      this.observer?.refused('ops');
      return false;
    }
    if (this.bytes + bytes > this.bytesMax) {
      this.observer?.refused('bytes');
      return false;
    }
    this.ops++;
    this.bytes += bytes;
    if (connection !== null) this.opsByConnection.set(connection, held + 1);
    return true;
  }

  /** Releases an op admitted by tryAcquireOp with the same `bytes` and `connection`. */
  releaseOp(bytes: number, connection: string | null = null): void {
    this.ops = Math.max(0, this.ops - 1);
    this.bytes = Math.max(0, this.bytes - bytes);
    if (connection === null) return;
    const held = (this.opsByConnection.get(connection) ?? 0) - 1;
    if (held > 0) this.opsByConnection.set(connection, held);
    else this.opsByConnection.delete(connection);
  }

  /** Whether `connection` holds fewer than CONNECTION_LIGHT_OPS ops (null: not tied to one, counts as heavy). */
  isLight(connection: string | null): boolean {
    return connection !== null && (this.opsByConnection.get(connection) ?? 0) < CONNECTION_LIGHT_OPS;
  }

  /** Connections holding ops now (for tests and metrics). */
  get connectionsHoldingOps(): number {
    return this.opsByConnection.size;
  }

  /**
   * What admitting this op costs: its request bytes, plus for a read the bytes its result is expected to
   * hold, so that concurrent large reads are bounded before they materialize their values.
   */
  opBytes(req: unknown, read: boolean): number {
    return requestBytes(req) + (read ? Math.max(OP_OVERHEAD_BYTES, Math.ceil(this.readBytesAvg)) : 0);
  }

  /** A read's result held `bytes` bytes: the estimate rises halfway to it, or falls by 1/64 of the gap. */
  noteRead(bytes: number): void {
    const avg = this.readBytesAvg;
    this.readBytesAvg = bytes > avg ? (avg + bytes) / 2 : avg + (bytes - avg) / 64;
  }

  /** Reserves bytes that are not an op (queued response bytes), or returns false. */
  tryAcquireBytes(bytes: number): boolean {
    if (this.bytes + bytes > this.bytesMax) {
      this.observer?.refused('bytes');
      return false;
    }
    this.bytes += bytes;
    return true;
  }

  /** Reserves bytes whatever the bound (bytes that already exist and must be accounted, e.g. a result). */
  forceAcquireBytes(bytes: number): void {
    this.bytes += bytes;
  }

  releaseBytes(bytes: number): void {
    this.bytes = Math.max(0, this.bytes - bytes);
  }
}

/** A read's expected result size before any read completed (pessimistic; it learns within ~100 reads). */
export const READ_BYTES_EXPECTED_INITIAL = 256 * 1024;

/** Fixed cost counted per op besides its keys and values (decoded objects, promise, result). */
export const OP_OVERHEAD_BYTES = 256;

/** Bytes a request holds while served: its keys and values (Buffers) plus a fixed overhead. */
export function requestBytes(req: unknown): number {
  return OP_OVERHEAD_BYTES + bufferBytes(req, 4);
}

/**
 * Sum of the Buffer lengths reachable from `v` within `depth` levels of object fields and array items
 * (no allocation; arrays of objects are walked item by item).
 */
export function bufferBytes(v: unknown, depth: number): number {
  if (v === null || typeof v !== 'object') return 0;
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return v.byteLength;
  if (depth <= 0) return 0;
  let n = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) n += bufferBytes(v[i], depth - 1);
    return n;
  }
  for (const k in v) n += bufferBytes((v as Record<string, unknown>)[k], depth - 1);
  return n;
}

/** A call's client connection as grpc-js names it ("address:port"), or null when it cannot say. */
export function peerOf(call: { getPeer(): string }): string | null {
  try {
    return call.getPeer();
  } catch {
    return null;
  }
}
