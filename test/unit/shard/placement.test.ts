/**
 * Placement planner scenarios, each run to a fixed point in the simulator (placement-sim.ts), which
 * refuses any unsafe action on its own terms (never below N up-to-date voters, never without quorum).
 */
import { describe, expect, it } from 'vitest';
import { NO_NODE, epochOf, shardIdOf } from '../../../src/base';
import { defaultPlacementConfig, livenessOf, planPlacement } from '../../../src/shard';
import type { ClusterSnapshot, PlacementConfig } from '../../../src/shard';
import { desc } from './helpers';
import { PlacementSim, evenShards } from './placement-sim';

const config: PlacementConfig = {
  ...defaultPlacementConfig,
  deadNodeTimeoutMs: 10_000,
  suspectAfterMs: 3_000,
  caughtUpLagEntriesMax: 0,
};

function cluster(nodes: number, shards: number, cfg: PlacementConfig = config): PlacementSim {
  const sim = new PlacementSim(cfg);
  for (let i = 1; i <= nodes; i++) sim.addNode(i);
  evenShards(
    sim,
    shards,
    Array.from({ length: nodes }, (_, i) => i + 1),
    cfg.replicas,
  );
  return sim;
}

const votersOn = (sim: PlacementSim, node: number): number =>
  [...sim.shards.values()].filter((s) => s.d.replicas.some((r) => r.node === node)).length;

function expectFullyReplicated(sim: PlacementSim, allowed: readonly number[]): void {
  for (const s of sim.shards.values()) {
    const reps = s.d.replicas;
    expect(
      reps.every((r) => r.role === 'voter' && allowed.includes(r.node)),
      `shard ${s.d.id}`,
    ).toBe(true);
    expect(reps.length, `shard ${s.d.id}`).toBe(sim.config.replicas);
  }
}

describe('liveness', () => {
  it('up, down (suspect), draining, silent (suspect), dead after the timeout whatever the state, removed', () => {
    const t = { deadNodeTimeoutMs: 10_000, suspectAfterMs: 3_000 };
    const n = (state: 'up' | 'down' | 'draining' | 'removed', hb: number) => ({ id: 1, state, lastHeartbeatMs: hb });
    expect(livenessOf(n('up', 0), 3_000, t)).toBe('live');
    expect(livenessOf(n('up', 0), 3_001, t)).toBe('suspect'); // the registry still says up: heartbeats decide
    expect(livenessOf(n('draining', 0), 3_001, t)).toBe('suspect');
    expect(livenessOf(n('down', 0), 10_000, t)).toBe('suspect');
    expect(livenessOf(n('down', 0), 10_001, t)).toBe('dead');
    expect(livenessOf(n('up', 0), 10_001, t)).toBe('dead');
    expect(livenessOf(n('draining', 0), 5, t)).toBe('draining');
    expect(livenessOf(n('removed', 5), 5, t)).toBe('removed');
    expect(livenessOf(undefined, 5, t)).toBe('removed');
  });
  it('a node whose heartbeats stopped is not a target even while the registry says up', () => {
    const sim = new PlacementSim(config);
    for (let i = 1; i <= 4; i++) sim.addNode(i);
    sim.addShard(desc(1, '', null, '1v 2v'), 1);
    sim.node(3).silent = true; // state stays 'up'
    sim.advance(4_000);
    expect(planPlacement(sim.snapshot(), config).actions).toMatchObject([{ kind: 'addLearner', node: 4 }]);
  });
});

describe('steady clusters', () => {
  it('a balanced cluster needs nothing', () => {
    const sim = cluster(3, 9);
    expect(sim.round().actions).toEqual([]);
  });
  it('a down node that is not yet dead: no action at all', () => {
    const sim = cluster(4, 12);
    sim.kill(3);
    // leaders fail over (in the simulator) and may then be balanced among the live nodes; nothing else
    for (let i = 0; i < 9; i++) {
      const actions = sim.round().actions;
      expect(
        actions.filter((a) => a.kind !== 'transferLeader'),
        `round ${i}`,
      ).toEqual([]);
      expect(actions.filter((a) => a.kind === 'transferLeader' && a.to === 3)).toEqual([]);
    }
    expect(votersOn(sim, 3)).toBe((12 * 3) / 4);
    // one more round past the 10 s timeout and its replicas are re-created
    for (let i = 0; i < 3; i++) sim.round();
    const membership = sim.log.filter((a) => a.kind !== 'transferLeader');
    expect(membership.length).toBeGreaterThan(0);
    expect(membership.every((a) => a.cause === 'dead-node' || a.cause === 'caught-up')).toBe(true);
  });
});

describe('scale-out', () => {
  for (const shards of [12, 10, 30]) {
    it(`3 nodes, ${shards} shards, a 4th joins: about 1/4 of the replicas move to it, only to it`, () => {
      const sim = cluster(3, shards);
      sim.addNode(4);
      sim.runToFixedPoint();
      const total = shards * 3;
      const { replicas } = sim.counts();
      const moved = sim.log.filter((a) => a.kind === 'addLearner');
      expect(moved.every((a) => a.kind === 'addLearner' && a.node === 4)).toBe(true); // nothing between old nodes
      expect(replicas.get(4)).toBe(moved.length);
      expect(Math.abs(moved.length - total / 4)).toBeLessThanOrEqual(1);
      const counts = [...replicas.values()];
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      expectFullyReplicated(sim, [1, 2, 3, 4]);
      expect(sim.log.filter((a) => a.kind === 'removeReplica').length).toBe(moved.length);
    });
  }
  it('5 nodes, 20 shards, a 6th joins: 10 of the 60 replicas (1/6) move to it', () => {
    const sim = cluster(5, 20);
    sim.addNode(6);
    sim.runToFixedPoint();
    const moved = sim.log.filter((a) => a.kind === 'addLearner');
    expect(moved.length).toBe(10);
    expect(moved.every((a) => a.kind === 'addLearner' && a.node === 6)).toBe(true);
    expect([...sim.counts().replicas.values()]).toEqual([10, 10, 10, 10, 10, 10]);
  });
  it('sweep: 3..7 nodes, 5..40 shards, 1..4 concurrent moves, N=3 or 5, from a balanced start: only the new node receives, exactly its share', () => {
    let runs = 0;
    for (let nodes = 3; nodes <= 7; nodes++)
      for (const shards of [5, 13, 24, 40])
        for (const movesMax of [1, 4])
          for (const replicas of [3, 5]) {
            if (replicas > nodes) continue;
            const sim = cluster(nodes, shards, { ...config, replicas, rebalanceMovesMax: movesMax });
            const before = [...sim.counts().replicas.values()];
            if (Math.max(...before) - Math.min(...before) > 1) continue; // only from a balanced start
            sim.addNode(nodes + 1);
            sim.runToFixedPoint();
            const what = `${nodes}+1 nodes, ${shards} shards, N=${replicas}, ${movesMax} moves`;
            const moved = sim.log.filter((a) => a.kind === 'addLearner');
            expect(
              moved.every((a) => a.kind === 'addLearner' && a.node === nodes + 1),
              what,
            ).toBe(true);
            const share = (shards * replicas) / (nodes + 1);
            expect(moved.length, what).toBeGreaterThanOrEqual(Math.floor(share));
            expect(moved.length, what).toBeLessThanOrEqual(Math.ceil(share));
            runs++;
          }
    expect(runs).toBeGreaterThan(20);
  });
  it('every move is add learner -> promote -> remove, and leaders end balanced', () => {
    const sim = cluster(3, 12);
    sim.addNode(4);
    for (let round = 0; round < 100; round++) {
      if (sim.round().actions.length === 0) break;
      for (const s of sim.shards.values()) {
        const upToDate = sim.voters(s).filter((v) => sim.upToDate(s, v)).length;
        expect(upToDate, `shard ${s.d.id} after round ${round}`).toBeGreaterThanOrEqual(3);
      }
    }
    expect(sim.round().actions).toEqual([]);
    for (const s of sim.shards.values()) {
      const steps = sim.log.filter((a) => a.shard === s.d.id && a.kind !== 'transferLeader').map((a) => a.kind);
      expect(['', 'addLearner,promoteLearner,removeReplica']).toContain(steps.join(','));
    }
    const leaders = [...sim.counts().leaders.values()];
    expect(Math.max(...leaders) - Math.min(...leaders)).toBeLessThanOrEqual(1);
  });
  it('balancing waits for the whole picture: no move while a shard has no known leader, then the same share', () => {
    const sim = cluster(5, 20);
    sim.addNode(6);
    const shard = sim.shards.get(shardIdOf(7))!;
    const leader = shard.leader;
    shard.leader = NO_NODE; // its leader's report did not come this round
    const plan = planPlacement(sim.snapshot(), config);
    expect(plan.actions.filter((a) => a.cause === 'rebalance-replicas' || a.cause === 'rebalance-leaders')).toEqual([]);
    shard.leader = leader;
    sim.runToFixedPoint();
    const moved = sim.log.filter((a) => a.kind === 'addLearner');
    expect(moved.length).toBe(10);
    expect(moved.every((a) => a.kind === 'addLearner' && a.node === 6)).toBe(true);
  });
  it('a drain still moves leadership while a shard has no known leader', () => {
    const sim = cluster(5, 20);
    sim.node(2).state = 'draining';
    sim.shards.get(shardIdOf(7))!.leader = NO_NODE;
    const plan = planPlacement(sim.snapshot(), config);
    expect(plan.actions.some((a) => a.cause === 'drain')).toBe(true);
    expect(plan.actions.some((a) => a.cause === 'rebalance-replicas' || a.cause === 'rebalance-leaders')).toBe(false);
  });
  it('rebalancing starts at most rebalanceMovesMax moves at once', () => {
    const sim = cluster(3, 30, { ...config, rebalanceMovesMax: 2 });
    sim.addNode(4);
    const first = sim.round();
    expect(first.actions.filter((a) => a.cause === 'rebalance-replicas').length).toBe(2);
    const second = sim.round(); // both learners caught up: promoted; no new move while 2 are in progress
    expect(second.actions.map((a) => a.kind)).toEqual(['promoteLearner', 'promoteLearner']);
  });
});

describe('drain', () => {
  it('moves every replica and every leadership off the draining node', () => {
    const sim = cluster(4, 12);
    sim.node(2).state = 'draining';
    sim.runToFixedPoint();
    expect(votersOn(sim, 2)).toBe(0);
    expect(sim.counts().leaders.get(2)).toBe(0);
    expectFullyReplicated(sim, [1, 3, 4]);
    expect(sim.log.some((a) => a.cause === 'drain')).toBe(true);
  });
  it('drained then removed: nothing left to do, every shard fully replicated', () => {
    const sim = cluster(4, 8);
    sim.node(4).state = 'draining';
    sim.runToFixedPoint();
    sim.node(4).state = 'removed';
    expect(sim.round().actions).toEqual([]);
    expectFullyReplicated(sim, [1, 2, 3]);
  });
  it('removed without a drain: its replicas are re-created like a dead node', () => {
    const sim = cluster(4, 8);
    sim.node(4).state = 'removed';
    sim.runToFixedPoint();
    expectFullyReplicated(sim, [1, 2, 3]);
    expect(sim.log.filter((a) => a.kind === 'removeReplica').every((a) => a.cause === 'removed-node')).toBe(true);
  });
  it('with nowhere to go (3 nodes, 3 replicas) leadership leaves but the replicas stay, and the plan says why', () => {
    const sim = cluster(3, 6);
    sim.node(1).state = 'draining';
    const plan = sim.runToFixedPoint();
    expect(sim.counts().leaders.get(1)).toBe(0);
    expect(votersOn(sim, 1)).toBe(6);
    expect(sim.log.every((a) => a.kind === 'transferLeader')).toBe(true);
    expect(plan.blocked.length).toBe(6);
    expect(plan.blocked[0]!.reason).toContain('no live node without a replica');
  });
});

describe('dead nodes', () => {
  it('a node dead past the timeout: replicas re-created elsewhere, removed once the replacement votes', () => {
    const sim = cluster(5, 10);
    const had5 = [...sim.shards.values()].filter((s) => s.d.replicas.some((r) => r.node === 5)).map((s) => s.d.id);
    sim.kill(5);
    sim.advance(20_000);
    sim.runToFixedPoint();
    expect(votersOn(sim, 5)).toBe(0);
    expectFullyReplicated(sim, [1, 2, 3, 4]);
    expect(had5.length).toBe(6);
    for (const id of had5) {
      const steps = sim.log.filter((a) => a.shard === id && a.kind !== 'transferLeader');
      expect(steps.map((a) => a.kind).slice(0, 3)).toEqual(['addLearner', 'promoteLearner', 'removeReplica']);
      expect(steps[0]).toMatchObject({ cause: 'dead-node' });
      expect(steps[2]).toMatchObject({ node: 5, cause: 'dead-node' });
    }
  });
  it('two of five nodes dead, N=3: shards that kept a quorum heal, shards that lost it are left alone', () => {
    const sim = cluster(5, 10);
    sim.kill(1);
    sim.kill(2);
    sim.advance(20_000);
    const lost = [...sim.shards.values()].filter((s) => s.d.replicas.filter((r) => r.node <= 2).length >= 2);
    expect(lost.length).toBeGreaterThan(0);
    const before = new Map(lost.map((s) => [s.d.id, s.d]));
    const plan = sim.runToFixedPoint();
    for (const [id, d] of before) {
      expect(sim.shards.get(id)!.d).toBe(d); // untouched: no change can commit without a quorum
      expect(plan.blocked.find((b) => b.shard === id)?.reason).toContain('quorum lost');
    }
    for (const s of sim.shards.values())
      if (!before.has(s.d.id)) expect(s.d.replicas.map((r) => r.node).every((n) => n >= 3)).toBe(true);
  });
  it('two of three nodes dead, N=3: nothing can be done, nothing is done', () => {
    const sim = cluster(3, 4);
    sim.kill(2);
    sim.kill(3);
    sim.advance(20_000);
    const plan = sim.round();
    expect(plan.actions).toEqual([]);
    expect(plan.blocked.map((b) => b.shard)).toEqual([1, 2, 3, 4]);
  });
  it('a dead voter with no spare node is kept (removing it would not restore the replica count)', () => {
    const sim = cluster(3, 3);
    sim.kill(3);
    sim.advance(20_000);
    const plan = sim.runToFixedPoint();
    expect(sim.log).toEqual([]);
    expect(plan.blocked.length).toBe(3);
  });
  it('a 5-voter shard with 2 dead voters and N=3 sheds both without losing quorum', () => {
    const sim = new PlacementSim(config);
    for (let i = 1; i <= 5; i++) sim.addNode(i);
    sim.addShard(desc(1, '', null, '1v 2v 3v 4v 5v'), 1);
    sim.kill(4);
    sim.kill(5);
    sim.advance(20_000);
    sim.runToFixedPoint();
    expect(sim.shards.get(1)!.d.replicas.map((r) => r.node)).toEqual([1, 2, 3]);
    expect(sim.log.map((a) => a.kind)).toEqual(['removeReplica', 'removeReplica']);
  });
});

describe('leaders', () => {
  it('all leaders on one node are spread by transfers alone', () => {
    const sim = cluster(3, 9);
    for (const s of sim.shards.values()) s.leader = s.d.replicas[0]!.node === 1 ? 1 : s.leader;
    for (const s of sim.shards.values()) if (s.d.replicas.some((r) => r.node === 1)) s.leader = 1;
    expect(sim.counts().leaders.get(1)).toBe(9);
    sim.runToFixedPoint();
    expect(sim.log.every((a) => a.kind === 'transferLeader' && a.cause === 'rebalance-leaders')).toBe(true);
    expect([...sim.counts().leaders.values()]).toEqual([3, 3, 3]);
  });
  it('removing a voter that leads: leadership moves first', () => {
    const sim = new PlacementSim(config);
    for (let i = 1; i <= 4; i++) sim.addNode(i);
    sim.addShard(desc(1, '', null, '1v 2v 3v 4v'), 1); // over-replicated; node 1 ties for most replicas, lowest id
    sim.addShard(desc(2, '', null, '1v 2v 3v'), 2); // (not in a ShardMap: the planner only needs descriptors)
    sim.runToFixedPoint();
    const s1 = sim.log.filter((a) => a.shard === 1);
    expect(s1.map((a) => a.kind).slice(0, 2)).toEqual(['transferLeader', 'removeReplica']);
    expect(s1[0]).toMatchObject({ from: 1, cause: 'leader-off-removed-replica' });
    expect(sim.shards.get(1)!.d.replicas.length).toBe(3);
  });
});

describe('repair details', () => {
  it('an under-replicated shard (1 voter, N=3) grows one learner at a time', () => {
    const sim = new PlacementSim(config);
    for (let i = 1; i <= 3; i++) sim.addNode(i);
    sim.addShard(desc(1, '', null, '1v'), 1);
    sim.runToFixedPoint();
    expect(sim.log.map((a) => `${a.kind}:${'node' in a ? a.node : ''}`)).toEqual([
      'addLearner:2',
      'promoteLearner:2',
      'addLearner:3',
      'promoteLearner:3',
    ]);
  });
  it('a learner that has not caught up is waited for, not promoted', () => {
    const sim = new PlacementSim(config);
    for (let i = 1; i <= 4; i++) sim.addNode(i);
    sim.addShard(desc(1, '', null, '1v 2v 3l'), 1);
    sim.shards.get(1)!.match.set(3, 50);
    expect(sim.round().actions).toEqual([]);
    expect(sim.round().actions.map((a) => a.kind)).toEqual(['promoteLearner']); // caught up in between
  });
  it('a stalled learner is removed, and the replacement avoids its node unless no other can take it', () => {
    const sim = new PlacementSim(config);
    for (let i = 1; i <= 5; i++) sim.addNode(i);
    sim.addShard(desc(1, '', null, '1v 2v 3l'), 1);
    sim.shards.get(1)!.match.set(3, 0);
    const snap = sim.snapshot();
    const stalled = { ...snap, status: snap.status.map((st) => ({ ...st, stalledLearners: [3] })) };
    expect(planPlacement(snap, config).actions).toEqual([]); // catching up: waited for
    const removal = planPlacement(stalled, config).actions;
    expect(removal.map((a) => [a.kind, 'node' in a && a.node, a.cause])).toEqual([
      ['removeReplica', 3, 'stalled-learner'],
    ]);
    // After the removal: nodes 3 and 4 have the fewest replicas; 3 is avoided, so 4 gets the learner.
    sim.addShard(desc(1, '', null, '1v 2v'), 1);
    const after = sim.snapshot();
    const avoiding = (avoid: number[]) => ({
      ...after,
      status: after.status.map((st) => ({ ...st, avoidTargets: avoid })),
    });
    expect(planPlacement(after, config).actions.map((a) => 'node' in a && a.node)).toEqual([3]);
    expect(planPlacement(avoiding([3]), config).actions.map((a) => 'node' in a && a.node)).toEqual([4]);
    // Only avoided nodes left: one of them after all (better than staying under-replicated).
    expect(planPlacement(avoiding([3, 4, 5]), config).actions.map((a) => 'node' in a && a.node)).toEqual([3]);
  });
  it('a learner on a dead node is removed; on a down node it is left alone', () => {
    const sim = new PlacementSim(config);
    for (let i = 1; i <= 5; i++) sim.addNode(i);
    sim.addShard(desc(1, '', null, '1v 2v 3v 4l'), 1);
    sim.addShard(desc(2, '', null, '1v 2v 3v 5l'), 1);
    sim.kill(4);
    sim.kill(5);
    sim.node(4).lastHeartbeatMs -= 20_000;
    const plan = sim.round();
    expect(plan.actions.map((a) => [a.shard, a.kind, 'node' in a && a.node])).toEqual([[1, 'removeReplica', 4]]);
  });
  it('no known leader: the shard is blocked, not changed', () => {
    const sim = new PlacementSim(config);
    for (let i = 1; i <= 4; i++) sim.addNode(i);
    sim.addShard(desc(1, '', null, '1v 2v'), 0);
    const plan = planPlacement(sim.snapshot(), config);
    expect(plan.actions).toEqual([]);
    expect(plan.blocked[0]!.reason).toContain('no known leader');
  });
});

describe('bounds and determinism', () => {
  const snap = (): ClusterSnapshot => {
    const sim = cluster(3, 30);
    sim.addNode(4);
    sim.addNode(5);
    sim.kill(1);
    sim.advance(20_000);
    return sim.snapshot();
  };
  it('at most planActionsMax actions, and none for a shard with a membership change in flight', () => {
    const s = snap();
    expect(planPlacement(s, { ...config, planActionsMax: 3 }).actions.length).toBe(3);
    const all = planPlacement(s, config).actions;
    const first = all[0]!;
    const status = s.status.map((x) => (x.shard === first.shard ? { ...x, inFlight: [first] } : x));
    const again = planPlacement({ ...s, status }, config).actions;
    expect(again.some((a) => a.shard === first.shard)).toBe(false);
  });
  it('actions carry the epoch they were planned at, a cause and a reason naming the shard', () => {
    for (const a of planPlacement(snap(), config).actions) {
      expect(a.epoch).toBe(epochOf(1));
      expect(a.reason).toContain(`shard ${a.shard} `);
      expect(a.cause.length).toBeGreaterThan(0);
    }
  });
  it('the same snapshot in any order gives the same plan', () => {
    const s = snap();
    const reversed: ClusterSnapshot = {
      ...s,
      nodes: [...s.nodes].reverse(),
      shards: [...s.shards].reverse(),
      status: [...s.status].reverse(),
    };
    expect(planPlacement(reversed, config)).toEqual(planPlacement(s, config));
  });
  it('at most shardActionsInFlightMax actions per shard in flight, membership changes one at a time', () => {
    const sim = new PlacementSim(config);
    for (let i = 1; i <= 4; i++) sim.addNode(i);
    sim.addShard(desc(1, '', null, '1v 2v'), 1);
    const s = sim.snapshot();
    const transfer = {
      kind: 'transferLeader' as const,
      shard: shardIdOf(1),
      epoch: epochOf(1),
      from: 1,
      to: 2,
      cause: 'rebalance-leaders' as const,
      reason: 'test',
    };
    const add = { ...transfer, kind: 'addLearner' as const, node: 3, cause: 'under-replicated' as const };
    const withInFlight = (inFlight: never[], k: number) =>
      planPlacement({ ...s, status: [{ ...s.status[0]!, inFlight }] }, { ...config, shardActionsInFlightMax: k })
        .actions;
    expect(withInFlight([transfer as never], 1)).toEqual([]);
    expect(withInFlight([transfer as never], 2).map((a) => a.kind)).toEqual(['addLearner']);
    expect(withInFlight([add as never], 2)).toEqual([]); // a membership change in flight: wait for it
  });
  it('refuses a malformed snapshot or configuration', () => {
    const s = snap();
    const st = s.status[0]!;
    const withStatus = (x: object) => ({ ...s, status: [{ ...st, ...x }] });
    expect(() => planPlacement(withStatus({ commitIndex: -1 }), config)).toThrow(/commitIndex/);
    expect(() => planPlacement(withStatus({ leader: 1.5 }), config)).toThrow(/leader/);
    expect(() => planPlacement(withStatus({ match: new Map([[1, Number.NaN]]) }), config)).toThrow(/match/);
    expect(() => planPlacement(withStatus({ shard: 999 }), config)).toThrow(/unknown or repeated/);
    expect(() => planPlacement({ ...s, status: [st, st] }, config)).toThrow(/unknown or repeated/);
    expect(() => planPlacement(s, { ...config, suspectAfterMs: config.deadNodeTimeoutMs + 1 })).toThrow(
      /suspectAfterMs/,
    );
    expect(() => planPlacement(s, { ...config, replicas: 0 })).toThrow(/replicas/);
    expect(() => planPlacement({ ...s, nodes: [...s.nodes, s.nodes[0]!] }, config)).toThrow(/repeated/);
    expect(() => planPlacement({ ...s, shards: [...s.shards, s.shards[0]!] }, config)).toThrow(/repeated/);
    expect(() =>
      planPlacement({ ...s, shards: [{ ...desc(99, '', null), id: shardIdOf(99), replicas: [] }] }, config),
    ).toThrow(/no voter/);
  });
});

describe('leaderBalanceIgnores', () => {
  // Node 1 leads shards 1 and 2 (2: the meta group, say); nodes 2 and 3 lead nothing.
  const snapshot = (): ClusterSnapshot => ({
    nowMs: 0,
    nodes: [1, 2, 3].map((id) => ({ id, state: 'up' as const, lastHeartbeatMs: 0 })),
    shards: [desc(1, '', 'm'), desc(2, 'm', null)],
    status: [1, 2].map((shard) => ({
      shard: shardIdOf(shard),
      leader: 1,
      commitIndex: 10,
      match: new Map([1, 2, 3].map((n) => [n, 10])),
      inFlight: [],
    })),
  });

  it('a shard it names is neither counted nor moved for balance', () => {
    const moves = (cfg: PlacementConfig) =>
      planPlacement(snapshot(), cfg).actions.filter((a) => a.kind === 'transferLeader');
    expect(moves(config)).toHaveLength(1); // 2 leaderships against 0: one moves
    expect(moves({ ...config, leaderBalanceIgnores: [2] })).toEqual([]); // 1 against 0: balanced enough
  });

  it('a drain still moves its leadership', () => {
    const s = snapshot();
    const draining = { ...s, nodes: s.nodes.map((n) => (n.id === 1 ? { ...n, state: 'draining' as const } : n)) };
    const moved = planPlacement(draining, { ...config, leaderBalanceIgnores: [2] }).actions.filter(
      (a) => a.kind === 'transferLeader' && a.shard === 2,
    );
    expect(moved).toHaveLength(1);
  });
});

describe('up to date', () => {
  it('a learner that acknowledged nothing is not promoted, even on a shard younger than the lag bound', () => {
    const snapshot = (learnerMatch: number): ClusterSnapshot => ({
      nowMs: 0,
      nodes: [1, 2, 3, 4].map((id) => ({ id, state: 'up' as const, lastHeartbeatMs: 0 })),
      shards: [desc(1, '', null, '1v 2v 4l')],
      status: [
        {
          shard: shardIdOf(1),
          leader: 1,
          commitIndex: 10,
          match: new Map([
            [1, 10],
            [2, 10],
            [4, learnerMatch],
          ]),
          inFlight: [],
        },
      ],
    });
    const promotes = (m: number) =>
      planPlacement(snapshot(m), { ...config, caughtUpLagEntriesMax: 64 }).actions.filter(
        (a) => a.kind === 'promoteLearner' && a.node === 4,
      );
    expect(promotes(0)).toEqual([]);
    expect(promotes(10)).toHaveLength(1);
  });
});
