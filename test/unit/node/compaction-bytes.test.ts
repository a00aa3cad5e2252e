/**
 * Compaction by bytes (node/compaction.ts): the host compacts once the applied entries in the in-memory log
 * hold more than snapshotBytes, and then keeps at most a quarter of that behind the applied index, whatever
 * logRetainEntries says; with small entries the entry-count policy is unchanged. Before the byte bound,
 * 2,000 values of 64 KiB stayed in the leader's log (compaction waited for 10,000 entries: 640 MiB).
 * The group here is the policy's structural shape with a stub core (the policy reads only the config).
 */
import { describe, expect, it } from 'vitest';
import { Random } from '../../../src/base';
import {
  appliedLogBytes,
  compactAt,
  noteApplied,
  openedLog,
  resetCompaction,
  takeCompactionPoint,
  type CompactionGroup,
  type CompactionLimits,
} from '../../../src/node/compaction';
import type { Entry, RawNode } from '../../../src/raft';

const KIB = 1024;
const MIB = 1024 * KIB;

class FakeGroup implements CompactionGroup {
  readonly id = 1;
  readonly sm = { applied: 0 };
  compactionPoints: CompactionGroup['compactionPoints'] = [];
  firstIndex = 1;
  bytesApplied = 0;
  bytesCompacted = 0;
  compactedTo = 0;
  /** Every entry applied, to check the byte count against. */
  readonly log: Entry[] = [];
  readonly core = {
    status: () => ({ config: { voters: [1, 2, 3], learners: [], votersOutgoing: [] } }),
    compact: (index: number) => (this.compactedTo = index),
  } as unknown as RawNode;

  /** Applies entries of the given sizes (one Ready), then compacts when due, as NodeHost does. */
  apply(sizes: number[], cfg: CompactionLimits): number | null {
    const entries = sizes.map((n): Entry => {
      const index = this.sm.applied + 1;
      this.sm.applied = index;
      return { kind: 'normal', index, term: 1, data: new Uint8Array(n) };
    });
    this.log.push(...entries);
    noteApplied(this, entries, cfg);
    const point = takeCompactionPoint(this, cfg);
    if (point === null) return null;
    const store = { persist: () => undefined, compactLog: () => undefined };
    for (const wait of compactAt(this, point, store, { info: () => undefined })) expect(wait).toBeUndefined();
    return point.index;
  }

  /** The payload of the applied entries still in the log, counted from scratch. */
  trueLogBytes(): number {
    let n = 0;
    for (const e of this.log) if (e.index >= this.firstIndex && e.kind === 'normal') n += e.data.length;
    return n;
  }
}

describe('compaction by bytes', () => {
  it('compacts 64 KiB values once the log holds more than snapshotBytes, keeping a quarter of it', () => {
    const cfg: CompactionLimits = { snapshotEntries: 10_000, logRetainEntries: 1000, snapshotBytes: 4 * MIB };
    const g = new FakeGroup();
    const compactions: number[] = [];
    let firstAppliedAt = 0;
    for (let i = 0; i < 200; i++) {
      const at = g.apply([64 * KIB], cfg);
      if (at !== null && compactions.length === 0) firstAppliedAt = g.sm.applied;
      if (at !== null) compactions.push(at);
      expect(appliedLogBytes(g)).toBe(g.trueLogBytes());
      expect(appliedLogBytes(g)).toBeLessThanOrEqual(cfg.snapshotBytes);
    }
    // 4 MiB / 64 KiB = 64 entries: the first compaction comes with the 65th, far below 10,000 entries.
    expect(firstAppliedAt).toBe(65);
    expect(firstAppliedAt - (compactions[0] as number)).toBeLessThanOrEqual(16); // a quarter: 1 MiB of 64 KiB
    expect(compactions.length).toBeGreaterThanOrEqual(3);
    expect(g.compactedTo).toBe(compactions[compactions.length - 1]);
    expect(g.firstIndex).toBe(g.compactedTo + 1);
  });

  it('keeps logRetainEntries behind the applied index while they are under the byte bound', () => {
    const cfg: CompactionLimits = { snapshotEntries: 100, logRetainEntries: 20, snapshotBytes: 64 * MIB };
    const g = new FakeGroup();
    let at: number | null = null;
    for (let i = 0; i < 101 && at === null; i++) at = g.apply([100], cfg);
    // The entry-count policy as before: past 100 entries, at the newest point 20 or more behind applied.
    expect(g.sm.applied).toBe(101);
    expect(at).not.toBeNull();
    expect(g.sm.applied - (at as number)).toBeGreaterThanOrEqual(20);
    expect(g.sm.applied - (at as number)).toBeLessThan(30);
  });

  it('keeps the log within snapshotBytes plus one Ready under random sizes (seeded)', () => {
    const seed = 9_000 + Math.floor(Math.random() * 1000);
    console.log(`compaction-bytes seed ${seed} (replay: set seed = ${seed} in this test)`);
    const random = new Random(seed);
    const cfg: CompactionLimits = {
      snapshotEntries: random.int(50, 5000),
      logRetainEntries: random.int(0, 40),
      snapshotBytes: random.int(1, 8) * MIB,
    };
    const g = new FakeGroup();
    let maxReadyBytes = 0;
    let compactions = 0;
    while (g.bytesApplied < 3 * cfg.snapshotBytes) {
      const sizes = Array.from({ length: random.int(1, 8) }, () => random.int(0, 256 * KIB));
      maxReadyBytes = Math.max(
        maxReadyBytes,
        sizes.reduce((a, b) => a + b, 0),
      );
      if (g.apply(sizes, cfg) !== null) compactions++;
      expect(appliedLogBytes(g), `seed ${seed}`).toBe(g.trueLogBytes());
      expect(appliedLogBytes(g), `seed ${seed}`).toBeLessThanOrEqual(cfg.snapshotBytes + maxReadyBytes);
    }
    expect(compactions, `seed ${seed}`).toBeGreaterThanOrEqual(2);
  });

  it('counts the applied part of a reopened log, and nothing after a snapshot install', () => {
    const g = new FakeGroup();
    g.sm.applied = 12;
    const entries: Entry[] = [10, 11, 12, 13].map((index) => ({
      kind: 'normal',
      index,
      term: 2,
      data: new Uint8Array(index * 100),
    }));
    openedLog(g, 10, entries);
    expect(g.firstIndex).toBe(10);
    expect(appliedLogBytes(g)).toBe(1000 + 1100 + 1200); // 13 is not applied yet
    resetCompaction(g, 40);
    expect(g.firstIndex).toBe(41);
    expect(g.compactionPoints).toEqual([]);
    expect(appliedLogBytes(g)).toBe(0);
  });
});
