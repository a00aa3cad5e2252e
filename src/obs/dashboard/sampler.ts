/**
 * Feeds the collector once per periodMs from the running node: its groups (status of each), the node
 * registry, when peers were last heard, and the metrics totals. A sample is taken every period only while
 * someone watches (the JSON was asked for within watchMs), else every idleMetricsEvery-th period: the charts
 * keep their history at a coarser step while nobody looks, and an idle node with 1,000 shards does not read
 * every group's status each second for nobody. At most one sample runs at a time (a slow one makes the next
 * tick skip); the timer is unref'd and stop() ends it. The node host is
 * seen through DashboardHost, the few NodeHost methods used (obs/ does not import node/).
 */
import { performance } from 'node:perf_hooks';
import type { GroupId } from '../../base';
import { safeJson } from './format';
import { DashboardCollector, type CollectorOptions } from './collector';
import { readMetricTotals, type DashboardMetrics } from './metrics-reader';
import { createDashboardRoutes, type DashboardRoutes } from './routes';
import type { DashboardSnapshot, GroupInput, NodeInput, SampleInput } from './types';

export interface DashboardHost {
  readonly nodeId: number;
  groupIds(): readonly GroupId[];
  groupStatus(groupId: GroupId): {
    leader: number;
    term: number;
    role: string;
    commit: number;
    applied: number;
    members: { id: number; address: string; voter: boolean; match: number }[];
    range: { start: Buffer; end: Buffer | null };
    kind: 'data' | 'meta';
  };
  /** Throws while the node registry is unknown. */
  listNodes(): { id: number; address: string; state: string }[];
  peersHeardMs(): ReadonlyMap<number, number>;
}

export interface DashboardOptions extends CollectorOptions {
  host: DashboardHost;
  metrics: DashboardMetrics;
  selfAddress: string;
  periodMs?: number;
  /** A JSON read keeps a sample every period on this long (default 60 s). */
  watchMs?: number;
  /** Unwatched, a sample is taken every this many periods (default 5). */
  idleMetricsEvery?: number;
}

export interface Dashboard {
  snapshot(): DashboardSnapshot;
  /** The snapshot as served JSON (format.ts safeJson), rendered once per sample. */
  json(): string;
  /** Takes one sample now, metrics included (tests; the timer does it every periodMs). */
  sampleNow(): Promise<void>;
  stop(): void;
}

export const DASHBOARD_PERIOD_MS = 1000;
export const DASHBOARD_WATCH_MS = 60_000;
export const DASHBOARD_IDLE_METRICS_EVERY = 5;

export function startDashboard(options: DashboardOptions): Dashboard {
  const collector = new DashboardCollector(options);
  const watchMs = options.watchMs ?? DASHBOARD_WATCH_MS;
  const idleEvery = options.idleMetricsEvery ?? DASHBOARD_IDLE_METRICS_EVERY;
  let running: Promise<void> | null = null;
  let stopped = false;
  let json: string | null = null;
  let watchedAtMs = -Infinity;
  let periodsSinceSample = 0;
  const sample = (): Promise<void> => {
    if (running !== null) return running;
    running = readSample(options)
      .then((input) => {
        if (stopped) return;
        collector.sample(input);
        json = null;
      })
      .catch(() => undefined) // a group closing under the read: the next tick reads again
      .finally(() => {
        running = null;
      });
    return running;
  };
  const tick = (): void => {
    const watched = performance.now() - watchedAtMs < watchMs;
    if (!watched && ++periodsSinceSample < idleEvery) return;
    periodsSinceSample = 0;
    void sample();
  };
  const timer = setInterval(tick, options.periodMs ?? DASHBOARD_PERIOD_MS);
  timer.unref();
  void sample();
  return {
    snapshot: () => collector.snapshot(),
    json: () => {
      watchedAtMs = performance.now();
      return (json ??= safeJson(collector.snapshot()));
    },
    sampleNow: () => sample(),
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}

async function readSample(options: DashboardOptions): Promise<SampleInput> {
  const { host } = options;
  const totals = await readMetricTotals(options.metrics);
  const groups: GroupInput[] = [];
  for (const id of host.groupIds()) {
    let s: ReturnType<DashboardHost['groupStatus']>;
    try {
      s = host.groupStatus(id);
    } catch {
      continue; // closed between groupIds() and now
    }
    groups.push({ id, kind: s.kind, start: s.range.start, end: s.range.end, ...pickStatus(s) });
  }
  let nodes: NodeInput[] = [];
  try {
    nodes = host.listNodes().map((n) => ({ id: n.id, address: n.address, state: n.state }));
  } catch {
    // the meta shard is not bootstrapped yet: the group configs name the nodes
  }
  return {
    wallMs: Date.now(),
    monoMs: performance.now(),
    selfId: host.nodeId,
    selfAddress: options.selfAddress,
    nodes,
    heardMs: host.peersHeardMs(),
    groups,
    totals,
  };
}

function pickStatus(s: ReturnType<DashboardHost['groupStatus']>): Omit<GroupInput, 'id' | 'kind' | 'start' | 'end'> {
  return {
    leader: s.leader,
    term: s.term,
    role: s.role,
    commit: s.commit,
    applied: s.applied,
    members: s.members.map((m) => ({ id: m.id, address: m.address, voter: m.voter, match: m.match })),
  };
}

/** The node's dashboard: the sampler and its HTTP routes (closing the routes stops the sampler). */
export function startNodeDashboard(options: DashboardOptions & { staticDir?: string }): DashboardRoutes {
  const dashboard = startDashboard(options);
  return createDashboardRoutes({
    json: () => dashboard.json(),
    nodeId: options.host.nodeId,
    address: options.selfAddress,
    staticDir: options.staticDir,
    onClose: () => dashboard.stop(),
  });
}
