/**
 * The placement driver (src/placement/driver.ts) against a fake cluster (fake-cluster.ts): it acts only on
 * the meta leader, re-creates a dead node's replicas after the dead timeout (not before), empties a draining
 * node, keeps an action in flight until it settled and was seen in a report, and retries a failed action.
 */
import { describe, expect, it, vi } from 'vitest';
import type { Epoch, ShardId } from '../../../src/base';
import { makeDescriptor } from '../../../src/shard';
import { ACTIONS_PER_LEADER_MAX } from '../../../src/placement';
import { FakeCluster } from './fake-cluster';

/** Five nodes, shard 1 on 1, 2, 3 led by 1; shard 3 on 1, 2, 3 led by 2. */
function cluster(): FakeCluster {
  const c = new FakeCluster([1, 2, 3, 4, 5]);
  c.addShard(1, [1, 2, 3], 1, '', 'm');
  c.addShard(3, [1, 2, 3], 2, 'm', null);
  return c;
}

describe('the placement driver', () => {
  it('does nothing, not even polling, unless this node leads the meta shard', async () => {
    const c = cluster();
    c.metaLeader = false;
    const d = c.driver(1);
    await c.rounds(d, 3);
    expect(c.reportCalls).toEqual([]);
    expect(c.acts).toEqual([]);
    expect(d.lastView()).toBeNull();
    c.metaLeader = true;
    await c.rounds(d, 1);
    expect(new Set(c.reportCalls)).toEqual(new Set([2, 3, 4, 5]));
    const view = d.lastView()!;
    expect(view.shards.map((s) => [s.id, s.leader])).toEqual([
      [1, 1],
      [3, 2],
    ]);
    expect(view.nodes.find((n) => n.id === 1)).toMatchObject({ replicas: 2, leaders: 1, state: 'up' });
    c.metaLeader = false;
    await c.rounds(d, 1);
    expect(d.lastView()).toBeNull();
  });

  it("re-creates a dead node's replicas on live nodes after the dead timeout, and not before", async () => {
    const c = cluster();
    c.dead.add(3);
    const d = c.driver(1, { deadNodeTimeoutMs: 30_000 });
    // Rebalancing onto the empty nodes 4 and 5 is allowed; nothing may replace node 3 yet.
    await c.rounds(d, 20);
    expect(c.acts.filter((a) => a.request.kind === 'removeReplica' && a.request.node === 3)).toEqual([]);
    expect(c.replicasOf(1).voters).toContain(3);
    await c.rounds(d, 30);
    for (const shard of [1, 3]) {
      const r = c.replicasOf(shard);
      expect(r.voters).toHaveLength(3);
      expect(r.voters).not.toContain(3);
      expect(r.learners).toEqual([]);
    }
    const added = c.acts.filter((a) => a.request.kind === 'addLearner' && a.request.node !== 3);
    expect(added.length).toBeGreaterThanOrEqual(2);
    // addLearner carries the target's own addresses from its report.
    expect(added[0]!.request.client).toMatch(/^c[45]:1$/);
    expect(await c.counted({ cause: 'dead-node', outcome: 'ok' })).toBeGreaterThan(0);
  });

  it('moves every replica and leadership off a draining node', async () => {
    const c = cluster();
    c.setState(2, 'draining');
    const d = c.driver(1);
    await c.rounds(d, 30);
    for (const shard of [1, 3]) {
      const r = c.replicasOf(shard);
      expect(r.voters).toHaveLength(3);
      expect([...r.voters, ...r.learners]).not.toContain(2);
      expect(c.shards.get(shard)!.leader).not.toBe(2);
    }
    const view = d.lastView()!;
    expect(view.nodes.find((n) => n.id === 2)).toMatchObject({ state: 'draining', replicas: 0, leaders: 0 });
  });

  it('removes a learner that never catches up after the stall limit and places the replica on another node', async () => {
    const c = cluster();
    c.setState(2, 'draining');
    c.neverCatchUp.add(4); // the first target (fewest replicas, lowest id)
    const d = c.driver(1, { learnerStallMs: 10_000 });
    await c.rounds(d, 5);
    expect(c.replicasOf(1)).toEqual({ voters: [1, 2, 3], learners: [4] }); // waited for while within the limit
    await c.rounds(d, 30);
    for (const shard of [1, 3]) expect(c.replicasOf(shard)).toEqual({ voters: [1, 3, 5], learners: [] });
    expect(await c.counted({ kind: 'removeReplica', cause: 'stalled-learner', outcome: 'ok' })).toBe(2);
  });

  it('keeps one membership change per shard in flight until it settled, and never repeats it meanwhile', async () => {
    const c = cluster();
    c.setState(2, 'draining');
    c.hold = true;
    const d = c.driver(1);
    await c.rounds(d, 5);
    const perShard = (shard: number) => c.acts.filter((a) => a.request.shard === shard);
    expect(perShard(1)).toHaveLength(1);
    expect(perShard(3)).toHaveLength(1);
    expect(d.actionsInFlight()).toHaveLength(2);
    // Released: the changes apply; the next round sees them in fresh reports and takes the next step.
    c.hold = false;
    for (const release of c.held.splice(0)) release();
    await d.whenIdle();
    await c.rounds(d, 1);
    expect(perShard(1)).toHaveLength(2);
    expect(perShard(1)[1]!.request.kind).toBe('promoteLearner');
    expect(perShard(1)[1]!.request.node).toBe(perShard(1)[0]!.request.node);
  });

  it('does not plan a change again from reports taken before it finished', async () => {
    const c = new FakeCluster([1, 2, 3, 4]);
    c.addShard(1, [1, 2], 1);
    c.hold = true;
    const d = c.driver(1);
    await c.rounds(d, 1);
    expect(c.acts.map((a) => a.request.kind)).toEqual(['addLearner']);
    // The learner is added while the next round polls: node 1's report (taken first) does not show it yet.
    c.hold = false;
    c.onReportCall = () => {
      for (const release of c.held.splice(0)) release();
    };
    await c.rounds(d, 1);
    c.onReportCall = null;
    await c.rounds(d, 3);
    const kinds = c.acts.map((a) => `${a.request.kind} ${a.request.node}`);
    expect(kinds.filter((k) => k.startsWith('addLearner'))).toEqual(['addLearner 3']);
    expect(c.replicasOf(1).voters).toEqual([1, 2, 3]);
  });

  it('never puts a new replica on a registered node it has not heard from', async () => {
    const c = new FakeCluster([1, 2, 3, 4]);
    c.addShard(1, [1, 2], 1);
    c.dead.add(3);
    const d = c.driver(1);
    await c.rounds(d, 3);
    expect(c.acts[0]!.request).toMatchObject({ kind: 'addLearner', node: 4 });
    expect(c.replicasOf(1).voters).toEqual([1, 2, 4]);
  });

  it(`runs at most ${ACTIONS_PER_LEADER_MAX} actions at one shard leader at once`, async () => {
    const c = new FakeCluster([1, 2, 3, 4]);
    for (let i = 0; i < 20; i++) c.addShard(10 + i, [1, 2], 2, `k${10 + i}`, `k${11 + i}`);
    c.hold = true;
    const d = c.driver(1);
    await c.rounds(d, 3);
    expect(c.acts).toHaveLength(ACTIONS_PER_LEADER_MAX);
    c.hold = false;
    for (const release of c.held.splice(0)) release();
    await d.whenIdle();
    await c.rounds(d, 2);
    const added = c.acts.filter((a) => a.request.kind === 'addLearner').map((a) => a.request.shard);
    expect(new Set(added).size).toBe(20);
  });

  it('a new meta leader counts a silent node dead only a full dead timeout after it took over', async () => {
    const c = cluster();
    c.dead.add(3);
    const d = c.driver(1, { deadNodeTimeoutMs: 30_000 });
    await c.rounds(d, 20);
    c.metaLeader = false;
    await c.rounds(d, 5);
    c.metaLeader = true;
    // 45 s of silence in all, but only 25 s since this node leads the meta shard again.
    await c.rounds(d, 25);
    const replaced = () => c.acts.filter((a) => a.request.kind === 'removeReplica' && a.request.node === 3);
    expect(replaced()).toEqual([]);
    await c.rounds(d, 15);
    expect(replaced().length).toBeGreaterThan(0);
  });

  it('plans nothing when it lost the meta leadership while polling', async () => {
    const c = new FakeCluster([1, 2, 3, 4]);
    c.addShard(1, [1, 2], 1);
    c.onReportCall = () => {
      c.metaLeader = false;
    };
    const d = c.driver(1);
    await c.rounds(d, 1);
    expect(c.reportCalls.length).toBeGreaterThan(0);
    expect(c.acts).toEqual([]);
  });

  it('asks a node holding a stale replica (removed without knowing it) to destroy it, once per retry period', async () => {
    const c = cluster();
    c.stale.set(4, [1]); // node 4 still reports shard 1, whose leader lists 1, 2, 3
    const d = c.driver(1);
    await c.rounds(d, 1);
    await d.whenIdle();
    await new Promise((r) => setTimeout(r, 10));
    expect(c.gcCalls).toEqual([{ to: 4, shard: 1, appliedMax: 50 }]);
    expect(await c.counted({ kind: 'destroyStale', cause: 'stale-replica', outcome: 'ok' })).toBe(1);
    await c.rounds(d, 1);
    await new Promise((r) => setTimeout(r, 10));
    expect(c.gcCalls).toHaveLength(1);
  });

  it('counts a failed action and plans it again in the next round', async () => {
    const c = new FakeCluster([1, 2, 3, 4]);
    c.addShard(1, [1, 2], 1);
    c.failNext = 1;
    const d = c.driver(1);
    await c.rounds(d, 1);
    expect(c.acts).toHaveLength(1);
    expect(c.acts[0]!.request).toMatchObject({ kind: 'addLearner', node: 3 });
    expect(await c.counted({ kind: 'addLearner', cause: 'under-replicated', outcome: 'failed' })).toBe(1);
    expect(c.replicasOf(1).learners).toEqual([]);
    await c.rounds(d, 1);
    expect(c.acts).toHaveLength(2);
    expect(c.acts[1]!.request).toMatchObject({ kind: 'addLearner', node: 3 });
    expect(await c.counted({ kind: 'addLearner', outcome: 'ok' })).toBe(1);
    expect(c.replicasOf(1).learners).toEqual([3]);
  });

  it("records a change of the meta group's membership in the meta shard, at the meta descriptor's epoch", async () => {
    const c = new FakeCluster([1, 2, 3, 4]);
    c.addShard(2, [1, 2, 3, 4], 1, 'meta', null);
    c.metaDescriptors = [
      makeDescriptor({
        id: 2 as ShardId,
        start: Buffer.from('meta'),
        end: null,
        epoch: 6 as Epoch,
        replicas: [1, 2, 3, 4].map((node) => ({ node, role: 'voter' as const })),
      }),
    ];
    c.applyMeta = (command) => ({ type: 'refused', reason: 'epoch-mismatch', message: `not now: ${command.type}` });
    const d = c.driver(1);
    await c.rounds(d, 4);
    const removed = c.acts.find((a) => a.request.kind === 'removeReplica')!;
    expect(removed.request).toMatchObject({ shard: 2, epoch: 6 });
    expect(c.applied).toContainEqual({
      type: 'changeReplicas',
      shard: 2,
      epoch: 6,
      change: 'removeReplica',
      node: removed.request.node,
    });
  });

  it("sends each action to the shard's leader as the reports name it, the meta leader's own directly", async () => {
    const c = new FakeCluster([1, 2, 3, 4]);
    c.addShard(1, [2, 3], 2);
    const d = c.driver(1);
    await c.rounds(d, 1);
    expect(c.acts.map((a) => a.at)).toEqual([2]);
  });
});

describe('the placement driver pace', () => {
  it('stretches the wait between quiet rounds up to its cap and goes back to the interval on a change', async () => {
    const c = new FakeCluster([1, 2, 3]);
    c.addShard(1, [1, 2, 3], 1, '', 'g');
    c.addShard(3, [1, 2, 3], 2, 'g', 'p');
    c.addShard(5, [1, 2, 3], 3, 'p', null);
    const d = c.driver(1, { deadNodeTimeoutMs: 60_000 });
    expect(d.nextRoundMs()).toBe(1000);
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      await c.rounds(d, 1);
      waits.push(d.nextRoundMs());
    }
    // The first round sees a new registry; then 2 s, then the cap: 4 intervals, a tenth of the dead timeout
    // (6 s) and a quarter of the suspect time (10 s) give 2.5 s.
    expect(waits).toEqual([1000, 2000, 2500, 2500, 2500, 2500]);
    expect(c.acts).toEqual([]);
    c.dead.add(3); // no answer from node 3: back to the interval at once
    await c.rounds(d, 1);
    expect(d.nextRoundMs()).toBe(1000);
    // A draining node (a registry change) also keeps the driver at the interval while it acts.
    c.dead.delete(3);
    c.setState(2, 'draining');
    await c.rounds(d, 1);
    expect(d.nextRoundMs()).toBe(1000);
  });
});

describe('the placement driver timer', () => {
  it('runs one chain of rounds: a stop and start while a round runs leaves no second one behind', async () => {
    vi.useFakeTimers();
    try {
      const c = new FakeCluster([1, 2, 3]);
      c.addShard(1, [1, 2, 3], 1, '', null);
      const d = c.driver(1);
      let restarted = false;
      c.onReportCall = () => {
        if (restarted) return;
        restarted = true; // while the first round polls: stop and start again
        d.stop();
        d.start();
      };
      d.start();
      await vi.advanceTimersByTimeAsync(10_000);
      expect(restarted).toBe(true);
      expect(c.reportCalls.length).toBeGreaterThan(2);
      d.stop();
      const stopped = c.reportCalls.length;
      await vi.advanceTimersByTimeAsync(20_000);
      expect(c.reportCalls.length).toBe(stopped); // no round after stop(): no chain was left running
    } finally {
      vi.useRealTimers();
    }
  });
});
