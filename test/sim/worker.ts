/** A worker thread of parallel.ts: runs its seeds and reports progress in batches and failures at once. */
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerJob, WorkerMessage } from './parallel';
import { runSeed } from './run-seed';

const job = workerData as WorkerJob;
const port = parentPort!;
let batch = { done: 0, ticks: 0, messages: 0, ops: 0, reads: 0, crashes: 0 };
const flush = (): void => {
  if (batch.done > 0) port.postMessage({ type: 'progress', ...batch } satisfies WorkerMessage);
  batch = { done: 0, ticks: 0, messages: 0, ops: 0, reads: 0, crashes: 0 };
};
for (const seed of job.seeds) {
  const r = runSeed({ ...job.base, seed });
  batch.done++;
  batch.ticks += r.stats.ticks;
  batch.messages += r.stats.messages;
  batch.ops += r.stats.opsCompleted;
  batch.reads += r.stats.readsChecked;
  batch.crashes += r.stats.crashes;
  if (!r.ok) {
    flush();
    port.postMessage({ type: 'failure', result: r } satisfies WorkerMessage);
    if (job.stopOnFailure) break;
  }
  if (batch.done >= 25) flush();
}
flush();
port.postMessage({ type: 'done' } satisfies WorkerMessage);
