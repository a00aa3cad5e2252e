/**
 * LevelDB's own memory, derived from the node's memory budget B (--memory-budget-mib), so that it stays a
 * small, fixed share of the node's baseline:
 * - cacheSize = B / 64, 1 to 64 MiB: the block cache of uncompressed table blocks (8 MiB at 512 MiB, the
 *   LevelDB default);
 * - writeBufferSize = B / 128, 1 to 16 MiB: the memtable; LevelDB may hold two of them (one being flushed),
 *   4 MiB at 512 MiB (the default).
 * So LevelDB's buffers take at most B / 16 (B / 32 from 128 MiB up), plus the table cache of open files' index blocks.
 */
const MIB = 1024 * 1024;

export interface LevelMemoryOptions {
  cacheSize: number;
  writeBufferSize: number;
}

function clamp(value: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.floor(value)));
}

export function levelMemoryOptions(memoryBudgetBytes: number): LevelMemoryOptions {
  return {
    cacheSize: clamp(memoryBudgetBytes / 64, MIB, 64 * MIB),
    writeBufferSize: clamp(memoryBudgetBytes / 128, MIB, 16 * MIB),
  };
}
