/**
 * Runs ranges and lists of seeds and formats failures (seed, fault mix, last trace events, replay
 * command). Shared by the CLI and the vitest seed files.
 */
import type { SeedOptions, SeedResult } from './run-seed';
import { runSeed } from './run-seed';

export interface RangeSummary {
  seeds: number;
  failures: SeedResult[];
  elapsedMs: number;
  totals: { ticks: number; messages: number; ops: number; reads: number; crashes: number };
}

/** Runs seeds in order; stops at the first failure when stopOnFailure. */
export function runSeeds(
  seeds: Iterable<number>,
  base: Omit<SeedOptions, 'seed'>,
  opts: { stopOnFailure: boolean; onResult?: (r: SeedResult) => void },
): RangeSummary {
  const started = performance.now();
  const summary: RangeSummary = {
    seeds: 0,
    failures: [],
    elapsedMs: 0,
    totals: { ticks: 0, messages: 0, ops: 0, reads: 0, crashes: 0 },
  };
  for (const seed of seeds) {
    const r = runSeed({ ...base, seed });
    summary.seeds++;
    summary.totals.ticks += r.stats.ticks;
    summary.totals.messages += r.stats.messages;
    summary.totals.ops += r.stats.opsCompleted;
    summary.totals.reads += r.stats.readsChecked;
    summary.totals.crashes += r.stats.crashes;
    opts.onResult?.(r);
    if (!r.ok) {
      summary.failures.push(r);
      if (opts.stopOnFailure) break;
    }
  }
  summary.elapsedMs = performance.now() - started;
  return summary;
}

export function* range(from: number, count: number): Generator<number> {
  for (let i = 0; i < count; i++) yield from + i;
}

export function formatFailure(r: SeedResult): string {
  return [
    `SEED ${r.seed} FAILED: ${r.failure?.message}`,
    `fault mix: ${r.mixText}`,
    `last ${r.trace.length} trace events:`,
    ...r.trace.map((l) => `  ${l}`),
    `replay: ${r.replay}`,
  ].join('\n');
}

/** Fresh random seeds for this run (printed by callers so any failure can be replayed). */
export function freshSeeds(count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(Math.floor(Math.random() * 2 ** 31));
  return out;
}
