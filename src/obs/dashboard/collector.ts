/**
 * The dashboard's state, fed one SampleInput per second by the node (sampler.ts) and read as a
 * DashboardSnapshot by /api/dashboard. Pure: no clocks, timers or I/O; time comes in the input.
 *
 * Invariants (every buffer is bounded):
 * - rates: the last samplesMax points (default 600: ten minutes at one point a second); a point is made
 *   from two samples that carry metric totals (the sampler reads them less often while nobody watches),
 *   entries applied counted over every sample in between;
 * - leader changes: the last leaderChangesMax ones, detected by comparing each group's leader and term
 *   with the previous sample (a group first seen is not a change; a leader lost shows as `to: 0`);
 * - per-group memory (last leader, term, applied index) holds only the groups of the latest sample;
 * - a snapshot lists at most groupsMax groups (those without a leader first, then by id) and says how
 *   many were cut.
 */
import { formatRange } from './format';
import { histogramDelta, histogramQuantile } from './histogram';
import { Ring } from './ring';
import type {
  DashboardSnapshot,
  GroupInput,
  GroupRow,
  LeaderChange,
  MetricTotals,
  NodeRow,
  RatePoint,
  SampleInput,
} from './types';

export interface CollectorOptions {
  /** A peer not heard from for longer than this is shown down. */
  downAfterMs: number;
  samplesMax?: number;
  leaderChangesMax?: number;
  groupsMax?: number;
}

export const COLLECTOR_DEFAULTS = { samplesMax: 600, leaderChangesMax: 100, groupsMax: 200 } as const;

interface TotalsAt {
  monoMs: number;
  totals: MetricTotals;
}

interface GroupMemory {
  leader: number;
  term: number;
  applied: number;
}

export class DashboardCollector {
  private readonly rates: Ring<RatePoint>;
  private readonly changes: Ring<LeaderChange>;
  private readonly groupsMax: number;
  private memory = new Map<number, GroupMemory>();
  private last: SampleInput | null = null;
  /** The last sample with metric totals (the start of the next rate point), and entries applied since. */
  private lastTotals: { monoMs: number; totals: MetricTotals } | null = null;
  private appliedSince = 0;

  constructor(private readonly options: CollectorOptions) {
    this.rates = new Ring(options.samplesMax ?? COLLECTOR_DEFAULTS.samplesMax);
    this.changes = new Ring(options.leaderChangesMax ?? COLLECTOR_DEFAULTS.leaderChangesMax);
    this.groupsMax = options.groupsMax ?? COLLECTOR_DEFAULTS.groupsMax;
  }

  sample(input: SampleInput): void {
    const memory = new Map<number, GroupMemory>();
    let applied = 0;
    for (const g of input.groups) {
      const before = this.memory.get(g.id);
      if (before !== undefined) {
        if (before.leader !== g.leader || before.term !== g.term) this.noteLeader(input.wallMs, g, before);
        applied += Math.max(0, g.applied - before.applied);
      }
      memory.set(g.id, { leader: g.leader, term: g.term, applied: g.applied });
    }
    this.memory = memory;
    this.appliedSince += applied;
    if (input.totals !== null) {
      const now = { monoMs: input.monoMs, totals: input.totals };
      if (this.lastTotals !== null) this.rates.push(this.rateSince(this.lastTotals, now, input.wallMs));
      this.lastTotals = now;
      this.appliedSince = 0;
    }
    this.last = input;
  }

  /** A new leader, or a new term with the same leader (it was elected again); a lost leader too. */
  private noteLeader(atMs: number, g: GroupInput, before: GroupMemory): void {
    // A term change with no leader yet is an election in progress: wait for its outcome.
    if (g.leader === 0 && before.leader === 0) return;
    this.changes.push({ atMs, group: g.id, from: before.leader, to: g.leader, term: g.term });
  }

  private rateSince(prev: TotalsAt, now: TotalsAt, wallMs: number): RatePoint {
    const seconds = Math.max(0.001, (now.monoMs - prev.monoMs) / 1000);
    const perSec = (d: number): number => Math.max(0, d) / seconds;
    const commit = histogramDelta(prev.totals.commitSeconds, now.totals.commitSeconds);
    const fsync = histogramDelta(prev.totals.fsyncSeconds, now.totals.fsyncSeconds);
    const ms = (v: number | null): number | null => (v === null ? null : Math.round(v * 1_000_000) / 1000);
    return {
      atMs: wallMs,
      writesPerSec: perSec(commit === null ? 0 : commit.count),
      readsPerSec: perSec(now.totals.reads - prev.totals.reads),
      appliedPerSec: perSec(this.appliedSince),
      commitP50Ms: ms(commit && histogramQuantile(commit, 0.5)),
      commitP99Ms: ms(commit && histogramQuantile(commit, 0.99)),
      fsyncP99Ms: ms(fsync && histogramQuantile(fsync, 0.99)),
    };
  }

  snapshot(): DashboardSnapshot {
    const input = this.last;
    const rates = this.rates.toArray();
    const groups = input === null ? [] : orderGroups(input.groups);
    const shown = groups.slice(0, this.groupsMax);
    return {
      self: { id: input?.selfId ?? 0, address: input?.selfAddress ?? '' },
      sampledAtMs: input?.wallMs ?? 0,
      downAfterMs: this.options.downAfterMs,
      nodes: input === null ? [] : nodeRows(input, this.options.downAfterMs),
      groups: shown.map(groupRow),
      groupsTotal: groups.length,
      groupsCut: groups.length - shown.length,
      leaderChanges: this.changes.toArray().reverse(),
      series: {
        t: rates.map((r) => r.atMs / 1000),
        writesPerSec: rates.map((r) => round2(r.writesPerSec)),
        readsPerSec: rates.map((r) => round2(r.readsPerSec)),
        appliedPerSec: rates.map((r) => round2(r.appliedPerSec)),
        commitP50Ms: rates.map((r) => r.commitP50Ms),
        commitP99Ms: rates.map((r) => r.commitP99Ms),
        fsyncP99Ms: rates.map((r) => r.fsyncP99Ms),
      },
    };
  }
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

/** Groups without a known leader first (they need attention), then the meta shard, then by id. */
function orderGroups(groups: GroupInput[]): GroupInput[] {
  const rank = (g: GroupInput): number => (g.leader === 0 ? 0 : g.kind === 'meta' ? 1 : 2);
  return [...groups].sort((a, b) => rank(a) - rank(b) || a.id - b.id);
}

function groupRow(g: GroupInput): GroupRow {
  const leads = g.role === 'leader';
  return {
    id: g.id,
    kind: g.kind,
    range: g.kind === 'meta' ? 'meta shard' : formatRange(g.start, g.end),
    leader: g.leader,
    term: g.term,
    role: g.role,
    commit: g.commit,
    applied: g.applied,
    lag: Math.max(0, g.commit - g.applied),
    replicas: [...g.members]
      .sort((a, b) => a.id - b.id)
      .map((m) => ({ id: m.id, voter: m.voter, behind: leads ? Math.max(0, g.commit - m.match) : null })),
  };
}

/**
 * Every node the registry or a group config names; this node is up, a peer is up while it was heard from
 * within downAfterMs. Addresses come from the registry, else from a group config.
 */
function nodeRows(input: SampleInput, downAfterMs: number): NodeRow[] {
  const byId = new Map<number, { address: string; state: string }>();
  for (const n of input.nodes) byId.set(n.id, { address: n.address, state: n.state });
  for (const g of input.groups)
    for (const m of g.members) if (!byId.has(m.id)) byId.set(m.id, { address: m.address, state: '' });
  if (!byId.has(input.selfId)) byId.set(input.selfId, { address: input.selfAddress, state: '' });
  const leads = new Map<number, number>();
  for (const g of input.groups) if (g.leader !== 0) leads.set(g.leader, (leads.get(g.leader) ?? 0) + 1);
  return [...byId.entries()]
    .sort(([a], [b]) => a - b)
    .map(([id, n]) => {
      const self = id === input.selfId;
      const heard = input.heardMs.get(id);
      const heardAgoMs = self || heard === undefined ? null : Math.max(0, Math.round(input.monoMs - heard));
      const up = self || (heardAgoMs !== null && heardAgoMs <= downAfterMs);
      return { id, address: n.address, state: n.state, up, self, heardAgoMs, leads: leads.get(id) ?? 0 };
    });
}
