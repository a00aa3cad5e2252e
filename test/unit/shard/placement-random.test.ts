/**
 * Property test of the placement planner over random clusters: random nodes (some down, draining, dead,
 * removed), replication factors, shards with random replicas, leaders and progress, and random limits.
 * A chaos phase (nodes die, come back, drain, join while plans are applied), then a quiet phase to the
 * planner's fixed point. Every action is checked by the simulator (placement-sim.ts: never below N
 * up-to-date voters, never without a reachable quorum, never the leader removed, targets live) and every
 * plan must not depend on the order of the snapshot's lists. At the fixed point, with at least N live
 * nodes, every shard that has a reachable quorum has exactly N voters, all on live nodes, no learner, and
 * no replica is left on a non-live node and (when rebalancing is on) replica counts over live nodes differ
 * by at most 1, when no shard has lost its quorum.
 * Seeds are printed on failure; replay one with
 *   SHARD_PLACEMENT_SEED=<seed> npx vitest run test/unit/shard/placement-random.test.ts
 * (SHARD_PLACEMENT_SEEDS=<count> SHARD_PLACEMENT_SEED_FROM=<first> runs others).
 */
import { describe, expect, it } from 'vitest';
import { Random, epochOf, shardIdOf } from '../../../src/base';
import { defaultPlacementConfig, makeDescriptor } from '../../../src/shard';
import type { PlacementConfig, Replica } from '../../../src/shard';
import { PlacementSim } from './placement-sim';

const DEAD_MS = 10_000;

function randomCluster(rnd: Random): PlacementSim {
  const nodes = rnd.int(1, 8);
  const config: PlacementConfig = {
    ...defaultPlacementConfig,
    replicas: rnd.pick([1, 3, 3, 3, 5]),
    deadNodeTimeoutMs: DEAD_MS,
    suspectAfterMs: 3_000,
    caughtUpLagEntriesMax: rnd.pick([0, 5, 20]),
    shardActionsInFlightMax: rnd.int(1, 2),
    planActionsMax: rnd.pick([1, 2, 5, 64]),
    rebalanceMovesMax: rnd.int(0, 4),
  };
  const sim = new PlacementSim(config);
  sim.checkOrder = true;
  for (let id = 1; id <= nodes; id++)
    sim.addNode(id, rnd.chance(0.85) ? 'up' : rnd.pick(['draining', 'removed'] as const));
  const shards = rnd.int(1, 25);
  const ids = Array.from({ length: nodes }, (_, i) => i + 1);
  for (let i = 0; i < shards; i++) {
    const on = rnd.shuffle([...ids]).slice(0, rnd.int(1, Math.min(nodes, config.replicas + 2)));
    const replicas: Replica[] = on.map((node, j) => ({ node, role: j === 0 || rnd.chance(0.8) ? 'voter' : 'learner' }));
    const enc = (n: number): Uint8Array => new TextEncoder().encode(`k${String(n).padStart(3, '0')}`);
    const d = makeDescriptor({
      id: shardIdOf(i + 1),
      start: i === 0 ? new Uint8Array(0) : enc(i),
      end: i === shards - 1 ? null : enc(i + 1),
      replicas,
      epoch: epochOf(rnd.int(0, 50)),
    });
    const voters = replicas.filter((r) => r.role === 'voter');
    sim.addShard(d, rnd.chance(0.9) ? rnd.pick(voters).node : 0);
    for (const r of replicas) sim.shards.get(d.id)!.match.set(r.node, rnd.chance(0.7) ? 100 : rnd.int(0, 100));
  }
  for (let id = 1; id <= nodes; id++) if (rnd.chance(0.15)) sim.kill(id);
  return sim;
}

function chaos(sim: PlacementSim, rnd: Random, rounds: number): void {
  for (let i = 0; i < rounds; i++) {
    if (rnd.chance(0.25)) {
      const ids = [...sim.nodes.keys()];
      const id = rnd.pick(ids);
      const event = rnd.int(0, 4);
      if (event === 0) sim.kill(id);
      else if (event === 1) Object.assign(sim.node(id), { silent: false, state: 'up' });
      else if (event === 2 && !sim.node(id).silent) sim.node(id).state = 'draining';
      else if (event === 3) sim.addNode(Math.max(...ids) + 1);
      else if (sim.node(id).silent) sim.node(id).state = 'removed';
    }
    sim.advance(rnd.pick([0, 1000, 6000]));
    sim.round();
  }
}

function checkFixedPoint(sim: PlacementSim): void {
  const N = sim.config.replicas;
  const live = [...sim.nodes.values()].filter((n) => n.state === 'up' && !n.silent).map((n) => n.id);
  if (live.length < N) return;
  let lost = 0;
  for (const s of sim.shards.values()) {
    if (!sim.hasQuorum(s, sim.voters(s))) {
      lost++;
      continue;
    }
    const what = `shard ${s.d.id} {${s.d.replicas.map((r) => `${r.node}${r.role[0]}`).join(' ')}}`;
    expect(s.d.replicas.length, what).toBe(N);
    expect(
      s.d.replicas.every((r) => r.role === 'voter' && live.includes(r.node)),
      what,
    ).toBe(true);
  }
  const { replicas } = sim.counts();
  for (const id of sim.nodes.keys())
    if (!live.includes(id) && lost === 0) expect(replicas.get(id) ?? 0, `replicas left on non-live node ${id}`).toBe(0);
  if (lost > 0 || sim.config.rebalanceMovesMax === 0) return;
  const onLive = live.map((id) => replicas.get(id) ?? 0);
  expect(Math.max(...onLive) - Math.min(...onLive), `replica counts ${onLive.join(',')}`).toBeLessThanOrEqual(1);
}

function runSeed(seed: number): number {
  const rnd = new Random(seed);
  const sim = randomCluster(rnd);
  chaos(sim, rnd, 30);
  sim.advance(DEAD_MS + 1000); // every silent node is now dead
  sim.runToFixedPoint(600);
  checkFixedPoint(sim);
  return sim.log.length;
}

/**
 * Seeds that once failed: 62 (a learner added to a draining node that had stopped heartbeating: fixed by
 * suspectAfterMs), 395 (a surplus voter that leads with no voter to take over blocked the removal of the
 * other surplus voter), 1419 (a blocked removal counted in the projected replica counts: a move looped).
 */
const regressions = [62, 395, 1419];
const envSeed = process.env['SHARD_PLACEMENT_SEED'];
const seedCount = Number(process.env['SHARD_PLACEMENT_SEEDS'] ?? 150);
const seedFrom = Number(process.env['SHARD_PLACEMENT_SEED_FROM'] ?? 1);
const seeds = envSeed
  ? [Number(envSeed)]
  : [
      ...regressions,
      ...Array.from({ length: seedCount }, (_, i) => seedFrom + i).filter((s) => !regressions.includes(s)),
    ];

describe('placement planner on random clusters', () => {
  it(`${seeds.length} seeds: safe at every step, converges, and balances`, () => {
    let actions = 0;
    for (const seed of seeds) {
      try {
        actions += runSeed(seed);
      } catch (err) {
        throw new Error(
          `seed ${seed} failed (replay: SHARD_PLACEMENT_SEED=${seed} npx vitest run test/unit/shard/placement-random.test.ts): ${(err as Error).message}`,
        );
      }
    }
    expect(actions).toBeGreaterThan(seeds.length); // the clusters gave the planner real work
  });
});
