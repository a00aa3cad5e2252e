/**
 * The dashboard's shapes: what the node gives the collector each sample (SampleInput, plain data read from
 * the node host and the metrics), and the JSON the page polls (DashboardSnapshot, /api/dashboard).
 * Keys in the snapshot are display strings (format.ts): printable ASCII, everything else as \xNN escapes.
 */

/** A node of the cluster as the node registry (meta shard) or the group configs know it. */
export interface NodeInput {
  id: number;
  address: string;
  /** Registry state (e.g. "active", "removed"); "" when only a group config names the node. */
  state: string;
}

/** One group (shard or the meta shard) as this node's replica sees it. */
export interface GroupInput {
  id: number;
  kind: 'data' | 'meta';
  start: Buffer;
  /** null: unbounded. */
  end: Buffer | null;
  /** 0 when unknown. */
  leader: number;
  term: number;
  role: string;
  commit: number;
  applied: number;
  /** match is only meaningful on the leader (0 elsewhere). */
  members: { id: number; address: string; voter: boolean; match: number }[];
}

/** A histogram's cumulative state: counts per upper bound (ascending, +Inf last) plus count and sum. */
export interface HistogramTotals {
  upperBounds: number[];
  cumulative: number[];
  count: number;
  sum: number;
}

/** Counter and histogram totals of the node's metrics at one instant (metrics-reader.ts). */
export interface MetricTotals {
  /** Reads answered ok. */
  reads: number;
  /** Client writes from proposal to applied result (its count is the writes that succeeded). */
  commitSeconds: HistogramTotals;
  fsyncSeconds: HistogramTotals;
}

export interface SampleInput {
  /** Wall clock (Date.now()), shown in the page. */
  wallMs: number;
  /** Monotonic clock (performance.now()), the same clock as heardMs. */
  monoMs: number;
  selfId: number;
  selfAddress: string;
  /** The node registry; empty when it is unknown (meta shard not bootstrapped). */
  nodes: NodeInput[];
  /** When each peer was last heard from, on the monoMs clock. */
  heardMs: ReadonlyMap<number, number>;
  groups: GroupInput[];
  /** null: not read this time (the sampler reads the metrics less often while nobody watches). */
  totals: MetricTotals | null;
}

export interface NodeRow {
  id: number;
  address: string;
  state: string;
  up: boolean;
  self: boolean;
  /** ms since the node was last heard from; null for this node or a node never heard. */
  heardAgoMs: number | null;
  /** Groups hosted here whose leader (as this node sees it) is this node. */
  leads: number;
}

export interface GroupRow {
  id: number;
  kind: 'data' | 'meta';
  range: string;
  leader: number;
  term: number;
  role: string;
  commit: number;
  applied: number;
  /** commit - applied on this replica. */
  lag: number;
  /** Followers' lag behind the commit index (only when this node leads; else null). */
  replicas: { id: number; voter: boolean; behind: number | null }[];
}

export interface LeaderChange {
  atMs: number;
  group: number;
  /** 0: no leader. */
  from: number;
  to: number;
  term: number;
}

/** One point of the charts: rates over the previous sample interval. */
export interface RatePoint {
  atMs: number;
  /** Client writes this node (as a leader) committed and applied. */
  writesPerSec: number;
  readsPerSec: number;
  /** Log entries this node's replicas applied (every replica of a group applies each write). */
  appliedPerSec: number;
  /** null when nothing was observed in the interval. */
  commitP50Ms: number | null;
  commitP99Ms: number | null;
  fsyncP99Ms: number | null;
}

export interface DashboardSnapshot {
  self: { id: number; address: string };
  /** Wall time of the last sample (0: none yet). */
  sampledAtMs: number;
  downAfterMs: number;
  nodes: NodeRow[];
  groups: GroupRow[];
  groupsTotal: number;
  /** Groups left out of `groups` (the list is capped). */
  groupsCut: number;
  leaderChanges: LeaderChange[];
  /** Columns for the charts, oldest first; seconds since the epoch in `t`. */
  series: {
    t: number[];
    writesPerSec: number[];
    readsPerSec: number[];
    appliedPerSec: number[];
    commitP50Ms: (number | null)[];
    commitP99Ms: (number | null)[];
    fsyncP99Ms: (number | null)[];
  };
}
