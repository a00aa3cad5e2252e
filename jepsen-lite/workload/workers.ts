/**
 * Concurrent client workers. Each worker owns one SDK client and runs one operation at a time as a
 * history process: invoke, execute (with the SDK deadline plus a harness backstop), complete. A worker
 * whose op ended in `info` retires that process id and continues under a fresh one (Jepsen convention:
 * the old op may still take effect later). Workers are paced to the total rate with random stagger.
 *
 * Client placement ('mixed', the default): even workers use every node's client proxy (the SDK finds
 * the leader); odd workers are read-only and pinned to one node's client proxy each, so reads keep
 * arriving on every side of a partition (how Jepsen's per-node clients catch stale reads).
 */
import type { Random } from '../../src/base';
import { completionForError, withTimeout } from './outcome';
import type { Completion, HistoryRecorder } from './recorder';
import type { KvClient, OpSpec, Workload } from './workload';

export type ClientMode = 'all' | 'pinned' | 'mixed';
export const clientModes: readonly ClientMode[] = ['all', 'pinned', 'mixed'];

export interface WorkerSpec {
  index: number;
  endpoints: string[];
  readOnly: boolean;
}

/** Which endpoints each worker's client gets, and whether it only reads. */
export function planWorkers(
  clients: number,
  endpoints: readonly string[],
  mode: ClientMode,
  canReadOnly: boolean,
): WorkerSpec[] {
  const out: WorkerSpec[] = [];
  for (let i = 0; i < clients; i++) {
    const pinnedTo = endpoints[Math.floor(i / (mode === 'mixed' ? 2 : 1)) % endpoints.length]!;
    if (mode === 'all' || (mode === 'mixed' && i % 2 === 0))
      out.push({ index: i, endpoints: [...endpoints], readOnly: false });
    else out.push({ index: i, endpoints: [pinnedTo], readOnly: mode === 'mixed' && canReadOnly });
  }
  return out;
}

export interface WorkerPoolOptions {
  workload: Workload;
  recorder: HistoryRecorder;
  specs: readonly WorkerSpec[];
  makeClient: (spec: WorkerSpec) => KvClient;
  rng: Random;
  /** Total target rate of operations per second (all workers). */
  ratePerSec: number;
  /** SDK per-call deadline. */
  opTimeoutMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs one operation as `process`, recording invoke and completion. */
export async function runOp(
  workload: Workload,
  recorder: HistoryRecorder,
  client: KvClient,
  process: number,
  op: OpSpec,
  opTimeoutMs: number,
): Promise<Completion> {
  recorder.invoke({ process, f: op.f, key: op.key, value: op.value });
  let c: Completion;
  try {
    c = await withTimeout(workload.execute(client, op, opTimeoutMs), opTimeoutMs + 2000);
  } catch (e) {
    c = completionForError(e, workload.readOnly(op));
  }
  recorder.complete(process, c);
  return c;
}

export class WorkerPool {
  private stopped = false;
  private failure: unknown = null;
  private readonly loops: Promise<void>[] = [];
  private readonly clients: KvClient[] = [];

  constructor(private readonly opts: WorkerPoolOptions) {}

  start(): void {
    for (const spec of this.opts.specs) {
      const client = this.opts.makeClient(spec);
      this.clients.push(client);
      // A worker that throws (a harness bug) stops; the error is re-thrown by stop().
      this.loops.push(
        this.loop(spec, client, this.opts.rng.fork()).catch((e: unknown) => {
          this.failure ??= e;
        }),
      );
    }
  }

  private nextOp(spec: WorkerSpec, rng: Random): OpSpec {
    for (let i = 0; i < 64; i++) {
      const op = this.opts.workload.nextOp(rng);
      if (!spec.readOnly || this.opts.workload.readOnly(op)) return op;
    }
    throw new Error(`workload ${this.opts.workload.name} produced no read-only op in 64 tries`);
  }

  private async loop(spec: WorkerSpec, client: KvClient, rng: Random): Promise<void> {
    const { recorder, workload } = this.opts;
    const meanGapMs = (1000 * this.opts.specs.length) / Math.max(this.opts.ratePerSec, 0.001);
    let process = recorder.newProcess();
    await sleep(rng.float() * meanGapMs);
    while (!this.stopped) {
      const t0 = performance.now();
      const c = await runOp(workload, recorder, client, process, this.nextOp(spec, rng), this.opts.opTimeoutMs);
      if (c.type === 'info') process = recorder.newProcess();
      const gap = rng.float() * 2 * meanGapMs - (performance.now() - t0);
      if (gap > 0 && !this.stopped) await sleep(gap);
    }
  }

  /** Stops generating; resolves when every worker's current op has completed. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    await Promise.all(this.clients.map((c) => c.close()));
    if (this.failure !== null) throw this.failure;
  }
}
