/**
 * --snapshot-bytes (TESSERA_SNAPSHOT_BYTES, snapshotBytes): the bytes of applied entries the in-memory
 * Raft log may hold before compaction. Defaults to an eighth of the memory budget; at least 1 MiB and at
 * most half the budget (the log is part of the node's baseline).
 */
import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { loadNodeConfig } from '../../../src/config';

const MIB = 1024 * 1024;
const base = ['--id', '1', '--listen', '127.0.0.1:7001', '--peers', '1=127.0.0.1:7001', '--data-dir', '/tmp/x'];

function load(argv: string[], env: Record<string, string> = {}) {
  return loadNodeConfig({ argv: [...base, ...argv], env, readFile: () => '{}' });
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    expect((e as TesseraError).code).toBe('CONFIG');
    return (e as Error).message;
  }
  throw new Error('expected a CONFIG error');
}

describe('--snapshot-bytes', () => {
  it('defaults to an eighth of the memory budget', () => {
    expect(load([]).snapshotBytes).toBe(64 * MIB);
    expect(load(['--memory-budget-mib', '256']).snapshotBytes).toBe(32 * MIB);
    expect(load(['--memory-budget-mib', '64']).snapshotBytes).toBe(8 * MIB);
  });

  it('is read from the flag and the environment', () => {
    expect(load(['--snapshot-bytes', String(3 * MIB)]).snapshotBytes).toBe(3 * MIB);
    expect(load([], { TESSERA_SNAPSHOT_BYTES: String(5 * MIB) }).snapshotBytes).toBe(5 * MIB);
  });

  it('refuses values below 1 MiB, above half the budget, and non-integers', () => {
    expect(configError(() => load(['--snapshot-bytes', '1000']))).toMatch(/--snapshot-bytes.*out of range/);
    expect(configError(() => load(['--memory-budget-mib', '128', '--snapshot-bytes', String(65 * MIB)]))).toMatch(
      /--snapshot-bytes .* at most half the memory budget/,
    );
    expect(load(['--memory-budget-mib', '128', '--snapshot-bytes', String(64 * MIB)]).snapshotBytes).toBe(64 * MIB);
    expect(configError(() => load(['--snapshot-bytes', '2MiB']))).toMatch(/--snapshot-bytes.*not an integer/);
  });
});
