import { describe, expect, it } from 'vitest';
import { createNodeMetrics } from '../../../src/obs';
import {
  DashboardCollector,
  Ring,
  escapeHtml,
  formatKey,
  formatRange,
  histogramDelta,
  histogramQuantile,
  histogramTotalsFromGet,
  safeJson,
  summedHistogramState,
  type GroupInput,
  type HistogramTotals,
  type SampleInput,
} from '../../../src/obs/dashboard';

const BOUNDS = [0.001, 0.01, 0.1, Infinity];
const emptyHistogram = (): HistogramTotals => ({ upperBounds: BOUNDS, cumulative: [0, 0, 0, 0], count: 0, sum: 0 });

function group(id: number, leader: number, term: number, extra: Partial<GroupInput> = {}): GroupInput {
  return {
    id,
    kind: 'data',
    start: Buffer.alloc(0),
    end: null,
    leader,
    term,
    role: leader === 1 ? 'leader' : 'follower',
    commit: 10,
    applied: 10,
    members: [1, 2, 3].map((m) => ({ id: m, address: `127.0.0.1:${7000 + m}`, voter: true, match: 10 })),
    ...extra,
  };
}

function input(second: number, groups: GroupInput[], extra: Partial<SampleInput> = {}): SampleInput {
  return {
    wallMs: 1_700_000_000_000 + second * 1000,
    monoMs: second * 1000,
    selfId: 1,
    selfAddress: '127.0.0.1:7001',
    nodes: [],
    heardMs: new Map(),
    groups,
    totals: { reads: 0, commitSeconds: emptyHistogram(), fsyncSeconds: emptyHistogram() },
    ...extra,
  };
}

describe('Ring', () => {
  it('keeps only the last capacity items, oldest first', () => {
    const r = new Ring<number>(3);
    expect(r.toArray()).toEqual([]);
    expect(r.last()).toBeUndefined();
    for (let i = 1; i <= 7; i++) r.push(i);
    expect(r.size()).toBe(3);
    expect(r.toArray()).toEqual([5, 6, 7]);
    expect(r.last()).toBe(7);
    expect(() => new Ring(0)).toThrow(RangeError);
  });
});

describe('DashboardCollector', () => {
  it('bounds the rate series and the leader changes', () => {
    const c = new DashboardCollector({ downAfterMs: 1000, samplesMax: 5, leaderChangesMax: 4 });
    for (let s = 0; s < 50; s++) c.sample(input(s, [group(1, (s % 3) + 1, s + 1)]));
    const snap = c.snapshot();
    expect(snap.series.t).toHaveLength(5);
    expect(snap.series.t.at(-1)).toBe(1_700_000_000 + 49);
    expect(snap.leaderChanges).toHaveLength(4);
    // newest first
    expect(snap.leaderChanges[0]).toMatchObject({ group: 1, term: 50 });
  });

  it('detects a new leader, a lost leader and a re-election, not a group first seen', () => {
    const c = new DashboardCollector({ downAfterMs: 1000 });
    c.sample(input(0, [group(1, 1, 3)]));
    c.sample(input(1, [group(1, 1, 3), group(5, 2, 1)])); // group 5 appears: no change
    expect(c.snapshot().leaderChanges).toEqual([]);
    c.sample(input(2, [group(1, 0, 4), group(5, 2, 1)])); // leader lost, election running
    c.sample(input(3, [group(1, 0, 5), group(5, 2, 1)])); // still electing: not another change
    c.sample(input(4, [group(1, 3, 5), group(5, 2, 1)])); // node 3 won
    c.sample(input(5, [group(1, 3, 5), group(5, 2, 2)])); // node 2 re-elected in a new term
    const changes = c.snapshot().leaderChanges.reverse();
    expect(changes.map((x) => [x.group, x.from, x.to, x.term])).toEqual([
      [1, 1, 0, 4],
      [1, 0, 3, 5],
      [5, 2, 2, 2],
    ]);
    expect(changes[1]!.atMs).toBe(1_700_000_004_000);
  });

  it('forgets groups no longer hosted (memory bounded by the latest sample)', () => {
    const c = new DashboardCollector({ downAfterMs: 1000 });
    c.sample(input(0, [group(1, 1, 1), group(2, 1, 1)]));
    c.sample(input(1, [group(1, 1, 1)]));
    c.sample(input(2, [group(1, 1, 1), group(2, 3, 9)])); // group 2 is back: first seen again
    expect(c.snapshot().leaderChanges).toEqual([]);
  });

  it('marks peers up or down from when they were last heard', () => {
    const c = new DashboardCollector({ downAfterMs: 1000 });
    const heard = new Map([
      [2, 9_500],
      [3, 8_000],
    ]);
    c.sample(
      input(10, [group(1, 2, 1)], {
        nodes: [
          { id: 1, address: 'a1', state: 'active' },
          { id: 2, address: 'a2', state: 'active' },
          { id: 3, address: 'a3', state: 'active' },
          { id: 4, address: 'a4', state: 'active' },
        ],
        heardMs: heard,
      }),
    );
    const nodes = c.snapshot().nodes;
    expect(nodes.map((n) => [n.id, n.up, n.heardAgoMs, n.self])).toEqual([
      [1, true, null, true],
      [2, true, 500, false],
      [3, false, 2000, false],
      [4, false, null, false], // never heard
    ]);
    expect(nodes.find((n) => n.id === 2)!.leads).toBe(1);
  });

  it('falls back to group members when the registry is unknown', () => {
    const c = new DashboardCollector({ downAfterMs: 1000 });
    c.sample(input(0, [group(1, 1, 1)]));
    expect(c.snapshot().nodes.map((n) => [n.id, n.address])).toEqual([
      [1, '127.0.0.1:7001'],
      [2, '127.0.0.1:7002'],
      [3, '127.0.0.1:7003'],
    ]);
  });

  it('caps the group list, leaderless groups first, and says how many were cut', () => {
    const c = new DashboardCollector({ downAfterMs: 1000, groupsMax: 3 });
    const groups = Array.from({ length: 10 }, (_, i) => group(i + 1, i === 7 ? 0 : 1, 1));
    c.sample(input(0, groups));
    const snap = c.snapshot();
    expect(snap.groups.map((g) => g.id)).toEqual([8, 1, 2]);
    expect(snap.groupsTotal).toBe(10);
    expect(snap.groupsCut).toBe(7);
  });

  it('shows lag and, on the leader, how far each replica is behind', () => {
    const c = new DashboardCollector({ downAfterMs: 1000 });
    const members = [
      { id: 1, address: '', voter: true, match: 20 },
      { id: 2, address: '', voter: true, match: 18 },
      { id: 3, address: '', voter: false, match: 5 },
    ];
    c.sample(input(0, [group(1, 1, 1, { commit: 20, applied: 17, members }), group(2, 2, 1, { members })]));
    const [led, followed] = c.snapshot().groups;
    expect(led).toMatchObject({ lag: 3, role: 'leader' });
    expect(led!.replicas).toEqual([
      { id: 1, voter: true, behind: 0 },
      { id: 2, voter: true, behind: 2 },
      { id: 3, voter: false, behind: 15 },
    ]);
    expect(followed!.replicas.every((r) => r.behind === null)).toBe(true);
  });

  it('turns counters and histograms into rates and quantiles per interval', () => {
    const c = new DashboardCollector({ downAfterMs: 1000 });
    const commit = (counts: number[], count: number): HistogramTotals => ({
      upperBounds: BOUNDS,
      cumulative: counts,
      count,
      sum: 0,
    });
    const totals = (reads: number, h: HistogramTotals) => ({ reads, commitSeconds: h, fsyncSeconds: emptyHistogram() });
    c.sample(input(0, [group(1, 1, 1, { applied: 100 })], { totals: totals(10, commit([5, 5, 5, 5], 5)) }));
    // 2 s later: 40 reads, 100 writes (90 under 1 ms, 10 under 10 ms), 50 entries applied
    c.sample(input(2, [group(1, 1, 1, { applied: 150 })], { totals: totals(50, commit([95, 105, 105, 105], 105)) }));
    const s = c.snapshot().series;
    expect(s.readsPerSec).toEqual([20]);
    expect(s.writesPerSec).toEqual([50]);
    expect(s.appliedPerSec).toEqual([25]);
    expect(s.commitP50Ms[0]).toBeCloseTo(0.5556, 3); // rank 50 of 90 in [0, 1 ms)
    expect(s.commitP99Ms[0]).toBeCloseTo(9.1, 1); // rank 99: 9 of 10 into [1, 10 ms)
    expect(s.fsyncP99Ms).toEqual([null]); // nothing observed
  });
});

describe('DashboardCollector without metric totals in every sample', () => {
  it('still sees leader changes, and makes one rate point over the samples between two totals', () => {
    const c = new DashboardCollector({ downAfterMs: 1000 });
    const totals = (reads: number) => ({ reads, commitSeconds: emptyHistogram(), fsyncSeconds: emptyHistogram() });
    c.sample(input(0, [group(1, 1, 1, { applied: 0 })], { totals: totals(0) }));
    c.sample(input(1, [group(1, 2, 2, { applied: 10 })], { totals: null }));
    c.sample(input(2, [group(1, 2, 2, { applied: 30 })], { totals: null }));
    expect(c.snapshot().series.t).toEqual([]);
    c.sample(input(4, [group(1, 2, 2, { applied: 40 })], { totals: totals(8) }));
    const snap = c.snapshot();
    expect(snap.leaderChanges.map((x) => [x.from, x.to, x.atMs])).toEqual([[1, 2, 1_700_000_001_000]]);
    expect(snap.series.t).toEqual([1_700_000_004]);
    expect(snap.series.appliedPerSec).toEqual([10]); // 40 entries over 4 s
    expect(snap.series.readsPerSec).toEqual([2]);
  });
});

describe('histograms', () => {
  it('sums prom-client state the same as get() does, and refuses a state of another shape', async () => {
    const metrics = createNodeMetrics();
    const h = metrics.commitLatencySeconds;
    const empty = summedHistogramState(h)!;
    expect(empty.count).toBe(0);
    expect(empty.upperBounds.at(-1)).toBe(Infinity);
    for (const [group, v] of [
      ['1', 0.0004],
      ['1', 0.003],
      ['2', 0.003],
      ['3', 0.7],
      ['3', 30],
    ] as const)
      h.observe({ group }, v);
    const fast = summedHistogramState(h);
    expect(fast).toEqual(await histogramTotalsFromGet(h));
    expect(fast!.count).toBe(5);
    expect(summedHistogramState(metrics.fsyncDurationSeconds)).toEqual(
      await histogramTotalsFromGet(metrics.fsyncDurationSeconds),
    );
    expect(
      summedHistogramState({ upperBounds: [1], hashMap: { a: { bucketValues: {}, sum: 0, count: 0 } } }),
    ).toBeNull();
    expect(summedHistogramState({ upperBounds: [1] })).toBeNull();
    expect(summedHistogramState({ upperBounds: [1], hashMap: {}, collect: () => undefined })).toBeNull();
  });

  it('refuses a delta across a reset or different buckets', () => {
    const a: HistogramTotals = { upperBounds: BOUNDS, cumulative: [1, 2, 3, 3], count: 3, sum: 1 };
    const b: HistogramTotals = { upperBounds: BOUNDS, cumulative: [0, 0, 0, 0], count: 0, sum: 0 };
    expect(histogramDelta(a, b)).toBeNull();
    expect(histogramDelta(a, { ...a, upperBounds: [1, 2, 3, Infinity] })).toBeNull();
    expect(histogramDelta(b, a)).toEqual(a);
    // a labelled histogram before its first observation has no buckets at all
    expect(histogramDelta({ upperBounds: [], cumulative: [], count: 0, sum: 0 }, a)).toEqual(a);
  });

  it('answers the highest finite bound for a rank in +Inf, null when empty', () => {
    expect(histogramQuantile({ upperBounds: BOUNDS, cumulative: [0, 0, 0, 4], count: 4, sum: 9 }, 0.5)).toBe(0.1);
    expect(histogramQuantile(emptyHistogram(), 0.99)).toBeNull();
  });
});

describe('escaping', () => {
  it('formats hostile keys as printable, bounded text', () => {
    expect(formatKey(Buffer.from('user/42'))).toBe('user/42');
    expect(formatKey(Buffer.from([0x00, 0x0a, 0x5c, 0xff, 0x41]))).toBe('\\x00\\x0a\\\\\\xffA');
    const long = formatKey(Buffer.alloc(1000, 0x61));
    expect(long).toBe(`${'a'.repeat(32)}... (1000 bytes)`);
    expect(formatRange(Buffer.alloc(0), null)).toBe('[-inf, +inf)');
    expect(formatRange(Buffer.from('a'), Buffer.from('m\n'))).toBe('["a", "m\\x0a")');
  });

  it('escapes HTML and makes JSON safe to sniff', () => {
    expect(escapeHtml(`<img src=x onerror="alert('1')">&`)).toBe(
      '&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;',
    );
    const hostile = { address: '</script><script>alert(1)</script>', sep: '\u2028' };
    const text = safeJson(hostile);
    expect(text).not.toMatch(/[<>\u2028]/);
    expect(JSON.parse(text)).toEqual(hostile);
  });

  it('keeps a hostile key in a group range as inert text', () => {
    const c = new DashboardCollector({ downAfterMs: 1000 });
    c.sample(input(0, [group(1, 1, 1, { start: Buffer.from('<b>\u0000x'), end: Buffer.from('"\'&') })]));
    expect(c.snapshot().groups[0]!.range).toBe('["<b>\\x00x", ""\'&")');
    expect(safeJson(c.snapshot())).not.toContain('<b>');
  });
});
