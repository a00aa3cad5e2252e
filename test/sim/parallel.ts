/**
 * Runs a list of seeds on several worker threads (the CLI's --workers): seeds are dealt round-robin in
 * chunks; each worker stops at its first failure and the pool stops every worker at the first failure
 * reported. Results are the same as a serial run (every seed is independent and deterministic).
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { SeedOptions, SeedResult } from './run-seed';
import type { RangeSummary } from './seed-runner';

export interface WorkerJob {
  seeds: number[];
  base: Omit<SeedOptions, 'seed' | 'traceEcho' | 'factory' | 'baseConfig'>;
  stopOnFailure: boolean;
}

export type WorkerMessage =
  | { type: 'progress'; done: number; ticks: number; messages: number; ops: number; reads: number; crashes: number }
  | { type: 'failure'; result: SeedResult }
  | { type: 'done' };

/** Worker threads do not inherit tsx's loader: register it, then load the TypeScript worker. */
const workerBootstrap = `require('tsx/cjs/api').register(); require(${JSON.stringify(join(__dirname, 'worker.ts'))});`;

export function runSeedsParallel(
  seeds: number[],
  base: WorkerJob['base'],
  workers: number,
  opts: { stopOnFailure: boolean; onFailure: (r: SeedResult) => void; onProgress: (done: number) => void },
): Promise<RangeSummary> {
  const started = performance.now();
  const chunk = 50;
  const jobs: number[][] = Array.from({ length: workers }, () => []);
  for (let i = 0; i < seeds.length; i++) jobs[Math.floor(i / chunk) % workers]!.push(seeds[i]!);
  const summary: RangeSummary = {
    seeds: 0,
    failures: [],
    elapsedMs: 0,
    totals: { ticks: 0, messages: 0, ops: 0, reads: 0, crashes: 0 },
  };
  const pool: Worker[] = [];
  return new Promise((resolve, reject) => {
    let running = 0;
    const finish = (): void => {
      summary.elapsedMs = performance.now() - started;
      resolve(summary);
    };
    for (const job of jobs) {
      if (job.length === 0) continue;
      const w = new Worker(workerBootstrap, {
        eval: true,
        workerData: { seeds: job, base, stopOnFailure: opts.stopOnFailure } satisfies WorkerJob,
      });
      pool.push(w);
      running++;
      w.on('message', (m: WorkerMessage) => {
        if (m.type === 'progress') {
          summary.seeds += m.done;
          summary.totals.ticks += m.ticks;
          summary.totals.messages += m.messages;
          summary.totals.ops += m.ops;
          summary.totals.reads += m.reads;
          summary.totals.crashes += m.crashes;
          opts.onProgress(summary.seeds);
        } else if (m.type === 'failure') {
          summary.failures.push(m.result);
          opts.onFailure(m.result);
          if (opts.stopOnFailure) for (const other of pool) if (other !== w) void other.terminate();
        }
      });
      w.on('error', (e) => {
        for (const other of pool) void other.terminate();
        reject(e);
      });
      w.on('exit', () => {
        if (--running === 0) finish();
      });
    }
    if (running === 0) finish();
  });
}
