/**
 * The placement driver on real in-process nodes (NodeHost, Transport, LevelDB; test/unit/node/harness.ts),
 * over the real Raft.Placement RPC: four bootstrap nodes with --replicas 3 end with three voters per
 * shard (the meta group included); after a node dies for longer than the dead timeout, every shard is
 * back to three voters on the live nodes; a draining node ends with no replica and no leadership.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeId, ShardId } from '../../../src/base';
import { encodeMetaCommand } from '../../../src/meta';
import { silentLogger } from '../../../src/obs';
import { startPlacementDriver, type PlacementDriver } from '../../../src/placement';
import { HARNESS_CLUSTER_ID, TestCluster, until } from '../node/harness';

let cluster: TestCluster | null = null;
const drivers: PlacementDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) d.stop();
  await cluster?.close();
  cluster = null;
});

/** Whether node `n` leads group `g` (false when it hosts none: a removed replica destroys itself). */
const leads = (n: { host: { groupIds(): number[]; groupStatus(g: number): { role: string } } }, g: number) =>
  n.host.groupIds().includes(g) && n.host.groupStatus(g).role === 'leader';

/** Voters of group `id` as its leader (among running nodes) sees them; null when no leader. */
function votersOf(c: TestCluster, id: number): NodeId[] | null {
  for (const n of c.running()) {
    if (!n.host.groupIds().includes(id)) continue;
    const st = n.host.groupStatus(id);
    if (st.role === 'leader') return st.members.filter((m) => m.voter).map((m) => m.id);
  }
  return null;
}

/** Every running node serves Raft.Placement and runs a driver (as tessera-node does); `only`: just these. */
function startDrivers(c: TestCluster, deadNodeTimeoutMs: number, only?: number[]): void {
  for (const n of c.running()) {
    if (only !== undefined && !only.includes(n.id)) continue;
    const config = { ...n.config, replicas: 3, placementIntervalMs: 200, deadNodeTimeoutMs };
    drivers.push(startPlacementDriver(n.host, n.transport, config, silentLogger(), n.metrics));
  }
}

describe('the placement driver on real nodes', () => {
  it("brings four-voter shards to three voters, then re-creates a dead node's replicas", async () => {
    const c = (cluster = await TestCluster.start(4));
    await c.waitForLeader();
    startDrivers(c, 2000);
    const groups = [1, 2];
    await until(() => groups.every((g) => votersOf(c, g)?.length === 3), 40_000);
    // The meta shard's own copy of shard 1 follows: the driver records each change in it.
    const recorded = (): string => {
      const d = c
        .running()
        .find((n) => leads(n, 2))
        ?.host.metaState()
        ?.shardMap?.get(1 as ShardId);
      return JSON.stringify(d?.replicas.map((r) => `${r.node}${r.role[0]}`).sort() ?? null);
    };
    await until(
      () =>
        recorded() ===
        JSON.stringify(
          votersOf(c, 1)!
            .map((id) => `${id}v`)
            .sort(),
        ),
      20_000,
    );
    // Node with a replica of shard 1 (not the meta leader's node: its driver keeps running).
    const metaLeader = c.running().find((n) => leads(n, 2))!.id;
    const victim = votersOf(c, 1)!.find((id) => id !== metaLeader)!;
    await c.stop(victim);
    await until(
      () =>
        groups.every((g) => {
          const v = votersOf(c, g);
          return v !== null && v.length === 3 && !v.includes(victim);
        }),
      45_000,
    );
    const counted = await c.nodes
      .get(metaLeader)!
      .metrics.registry.getSingleMetricAsString('tessera_placement_actions_total');
    expect(counted).toMatch(/kind="addLearner",cause="dead-node",outcome="ok"} [1-9]/);
  }, 120_000);

  it('gives a node that joins and registers its share of the replicas', async () => {
    const c = (cluster = await TestCluster.start(3));
    await c.waitForLeader();
    startDrivers(c, 60_000);
    const joined = await c.join(4);
    startDrivers(c, 60_000, [4]);
    const metaLeader = () => c.running().find((n) => leads(n, 2));
    await until(() => metaLeader() !== undefined, 10_000);
    const register = encodeMetaCommand({
      type: 'registerNode',
      clusterId: HARNESS_CLUSTER_ID,
      nodeId: 4,
      address: `127.0.0.1:${joined.port}`,
      atMs: 1,
    });
    await joined.transport.forwardMeta(metaLeader()!.id, register, 5000);
    // Two groups of three replicas over four nodes: the new node gets one or two, and nothing more moves.
    const settled = () => [1, 2].every((g) => votersOf(c, g)?.length === 3);
    await until(() => settled() && [1, 2].some((g) => votersOf(c, g)!.includes(4)), 45_000);
    await new Promise((r) => setTimeout(r, 2000));
    await until(settled, 20_000);
    expect([1, 2].filter((g) => votersOf(c, g)!.includes(4)).length).toBeLessThanOrEqual(2);
  }, 120_000);

  it('moves every replica and leadership off a draining node', async () => {
    const c = (cluster = await TestCluster.start(4));
    await c.waitForLeader();
    startDrivers(c, 60_000);
    const groups = [1, 2];
    await until(() => groups.every((g) => votersOf(c, g)?.length === 3), 40_000);
    const metaLeader = c.running().find((n) => leads(n, 2))!;
    const drained = votersOf(c, 1)!.find((id) => id !== metaLeader.id)!;
    const command = encodeMetaCommand({ type: 'setNodeState', nodeId: drained, state: 'draining', atMs: 1 });
    await metaLeader.host.onForwardMeta(metaLeader.id, command, 5000);
    const holds = (g: number) => {
      for (const n of c.running()) {
        if (!n.host.groupIds().includes(g)) continue;
        const st = n.host.groupStatus(g);
        if (st.role === 'leader') return st.leader === drained || st.members.some((m) => m.id === drained);
      }
      return true;
    };
    await until(() => groups.every((g) => !holds(g) && votersOf(c, g)?.length === 3), 45_000);
    const view = drivers.map((d) => d.lastView()).find((v) => v !== null)!;
    expect(view.nodes.find((n) => n.id === drained)).toMatchObject({ state: 'draining' });
  }, 120_000);
});
