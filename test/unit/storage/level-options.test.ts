/**
 * LevelDB's cache and write buffer derive from the node's memory budget (storage/level-options.ts): the
 * LevelDB defaults at the default 512 MiB budget, smaller with a smaller budget, capped with a large one;
 * a store opens and persists with them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NodeStore, levelMemoryOptions } from '../../../src/storage';

const MIB = 1024 * 1024;

describe('levelMemoryOptions', () => {
  it('derives the block cache (B / 64) and the write buffer (B / 128) from the budget, within bounds', () => {
    expect(levelMemoryOptions(512 * MIB)).toEqual({ cacheSize: 8 * MIB, writeBufferSize: 4 * MIB });
    expect(levelMemoryOptions(64 * MIB)).toEqual({ cacheSize: MIB, writeBufferSize: MIB });
    expect(levelMemoryOptions(1024 * 1024 * MIB)).toEqual({ cacheSize: 64 * MIB, writeBufferSize: 16 * MIB });
    for (let b = 64 * MIB; b <= 8192 * MIB; b *= 2) {
      const o = levelMemoryOptions(b);
      expect(o.cacheSize + 2 * o.writeBufferSize).toBeLessThanOrEqual(b / 16);
    }
  });

  it('opens a store with the options of a 64 MiB budget', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-level-options-'));
    try {
      const store = await NodeStore.open(dir, 64 * MIB);
      const entries = Array.from({ length: 40 }, (_, i) => ({
        kind: 'normal' as const,
        index: i + 1,
        term: 1,
        data: new Uint8Array(64 * 1024).fill(i),
      }));
      await store.persist([{ groupId: 1, hardState: { term: 1, vote: 1, commit: 0 }, entries, snapshot: null }]);
      const loaded = await store.loadGroup(1);
      expect(loaded?.entries.length).toBe(40);
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
