/**
 * The meta leader's in-memory liveness table and what the placement planner reads from the meta state:
 * heartbeats refused for unknown, removed or foreign nodes; the receiver's clock, never going back; a new
 * leader's grace (silence counts from its takeover); and the planner re-creating a dead node's replicas.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { LivenessTable, META_SHARD_ID, clusterSnapshot, clusterView, nodeSummaries } from '../../../src/meta';
import type { MetaStateMachine } from '../../../src/meta';
import { defaultPlacementConfig, planPlacement } from '../../../src/shard';
import type { PlacementConfig, ShardStatus } from '../../../src/shard';
import { CLUSTER, MetaHarness, OTHER_CLUSTER, Stores, addr, bootstrap, sid } from './helpers';

const stores = new Stores();
afterEach(() => stores.cleanup());

const registry = (sm: MetaStateMachine) => ({ clusterId: sm.clusterId, node: (id: number) => sm.node(id) });
const hb = (nodeId: number, over: Partial<{ clusterId: string; leaders: number }> = {}) => ({
  nodeId,
  clusterId: CLUSTER,
  sentAtMs: 1,
  replicas: 2,
  leaders: 0,
  ...over,
});

async function cluster(nodes = 4): Promise<MetaHarness> {
  const { store } = await stores.make();
  const h = await MetaHarness.open(store);
  await h.run(bootstrap([1, 2, 3]));
  for (let id = 4; id <= nodes; id++)
    await h.one({ type: 'registerNode', clusterId: CLUSTER, nodeId: id, address: addr(id) });
  return h;
}

function codeOf(fn: () => unknown): [string, unknown] {
  try {
    fn();
    return ['none', undefined];
  } catch (e) {
    return [(e as TesseraError).code, (e as TesseraError).details.rule];
  }
}

describe('LivenessTable', () => {
  it('records heartbeats on the receiver clock, never backwards; silence counts from the takeover', async () => {
    const h = await cluster();
    const t = new LivenessTable(10_000);
    expect(t.of(1)).toEqual({ lastHeartbeatMs: 10_000, heard: false, report: null });
    expect(t.record(hb(1, { leaders: 2 }), 12_000, registry(h.sm)).lastHeartbeatMs).toBe(12_000);
    expect(t.record(hb(1), 11_000, registry(h.sm)).lastHeartbeatMs).toBe(12_000);
    expect(t.of(1).heard).toBe(true);
    expect(t.of(1).report?.leaders).toBe(0);
    expect(t.record(hb(2), 5_000, registry(h.sm)).lastHeartbeatMs).toBe(10_000);
  });

  it('refuses unknown, removed and foreign nodes and records nothing for them', async () => {
    const h = await cluster();
    const t = new LivenessTable(0);
    expect(codeOf(() => t.record(hb(9), 1, registry(h.sm)))).toEqual(['NOT_FOUND', 'unknown-node']);
    expect(codeOf(() => t.record(hb(1, { clusterId: OTHER_CLUSTER }), 1, registry(h.sm)))).toEqual([
      'INVALID_ARGUMENT',
      'cluster-mismatch',
    ]);
    t.record(hb(4), 5, registry(h.sm));
    await h.one({ type: 'setNodeState', nodeId: 4, state: 'removed' });
    expect(codeOf(() => t.record(hb(4), 6, registry(h.sm)))).toEqual(['INVALID_ARGUMENT', 'node-removed']);
    expect(t.size).toBe(0);
    expect(codeOf(() => t.record(hb(1), 1, { clusterId: null, node: () => undefined }))).toEqual([
      'UNAVAILABLE',
      'not-bootstrapped',
    ]);
    t.record(hb(3), 5, registry(h.sm));
    await h.one({ type: 'setNodeState', nodeId: 3, state: 'removed' });
    t.prune(registry(h.sm));
    expect(t.size).toBe(0);
  });
});

describe('cluster snapshot for the planner', () => {
  const config: PlacementConfig = { ...defaultPlacementConfig, deadNodeTimeoutMs: 60_000, suspectAfterMs: 5_000 };
  const statusOf = (sm: MetaStateMachine): ShardStatus[] =>
    [sm.metaDescriptor!, ...sm.shardMap!.descriptors()].map((d) => ({
      shard: d.id,
      leader: 1,
      commitIndex: 10,
      match: new Map(d.replicas.map((r) => [r.node, 10])),
      inFlight: [],
    }));

  it('gives every node, every shard (the meta group included) and the liveness the planner acts on', async () => {
    const h = await cluster(4);
    const t = new LivenessTable(0);
    for (const id of [1, 2, 3, 4]) t.record(hb(id), 1_000, registry(h.sm));
    const snap = clusterSnapshot(h.sm, t, 2_000, statusOf(h.sm));
    expect(snap.shards.map((d) => d.id).sort()).toEqual([1, META_SHARD_ID].sort());
    expect(snap.nodes.map((n) => [n.id, n.state, n.lastHeartbeatMs])).toEqual([
      [1, 'up', 1_000],
      [2, 'up', 1_000],
      [3, 'up', 1_000],
      [4, 'up', 1_000],
    ]);
    expect(clusterSnapshot(h.sm, t, 2_000, [], { includeMeta: false }).shards.map((d) => d.id)).toEqual([1]);
    // Healthy: nothing to repair.
    expect(
      planPlacement(snap, { ...config, rebalanceMovesMax: 0 }).actions.filter((a) => a.cause !== 'rebalance-leaders'),
    ).toEqual([]);
    // Node 3 goes silent past the dead timeout: both groups get a replacement on node 4.
    for (const id of [1, 2, 4]) t.record(hb(id), 70_000, registry(h.sm));
    const view = clusterView(h.sm, t, 70_000, statusOf(h.sm), config);
    expect(view.liveness.get(3)).toBe('dead');
    expect(view.liveNodes).toEqual([1, 2, 4]);
    const plan = planPlacement(clusterSnapshot(h.sm, t, 70_000, statusOf(h.sm)), config);
    const adds = plan.actions
      .filter((a) => a.kind === 'addLearner')
      .map((a) => [a.shard, a.kind === 'addLearner' && a.node]);
    expect(adds.sort()).toEqual(
      [
        [sid(1), 4],
        [META_SHARD_ID, 4],
      ].sort(),
    );
    // A new meta leader has heard from nobody: no node is dead until the timeout passes after its takeover.
    const fresh = new LivenessTable(70_000);
    expect(clusterView(h.sm, fresh, 120_000, statusOf(h.sm), config).liveness.get(3)).toBe('suspect');
  });

  it('summarises nodes for `tessera node list`', async () => {
    const h = await cluster(4);
    const t = new LivenessTable(0);
    t.record(hb(2, { leaders: 2 }), 500, registry(h.sm));
    expect(nodeSummaries(h.sm, t).map((n) => [n.id, n.address, n.state, n.replicas, n.leaders, n.heard])).toEqual([
      [1, addr(1), 'up', 2, 0, false],
      [2, addr(2), 'up', 2, 2, true],
      [3, addr(3), 'up', 2, 0, false],
      [4, addr(4), 'up', 0, 0, false],
    ]);
  });
});
