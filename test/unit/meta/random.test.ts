/**
 * Seeded random command sequences against the meta state machine, checked after every batch by an
 * independent model (its own ranges, epochs and registry, not the code under test) and by invariants:
 * the data shards tile the keyspace without gaps or overlaps, every key's owner epoch and every shard's
 * epoch only grow, node ids are unique, replicas sit on registered nodes, shard ids are unique and below
 * nextShardId. Commands are often stale or racing (old epochs, a second split of one parent, unreserved
 * ids, removed nodes). Every replica is deterministic: a second replica applying the same log in other
 * batch sizes, and a third restored from a snapshot part-way, end with the same digest; a reopen too.
 * A failure prints its seed; replay one with
 *   META_RANDOM_SEED=<seed> npx vitest run test/unit/meta/random.test.ts
 * (META_RANDOM_SEEDS=<count> META_RANDOM_SEED_FROM=<first> runs others).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Random } from '../../../src/base';
import { META_SHARD_ID, MetaStateMachine } from '../../../src/meta';
import type { MetaCommand, MetaResult, NodeState, ReplicaChangeKind } from '../../../src/meta';
import type { Entry } from '../../../src/raft';
import { MetaHarness, CLUSTER, OTHER_CLUSTER, Stores, addr, bootstrap, ep, sid } from './helpers';

const stores = new Stores();
afterEach(() => stores.cleanup());

const COMMANDS = 120;
const one = process.env.META_RANDOM_SEED;
const count = Number(process.env.META_RANDOM_SEEDS ?? 12);
const from = Number(process.env.META_RANDOM_SEED_FROM ?? 1);
const seeds = one !== undefined ? [Number(one)] : Array.from({ length: count }, (_, i) => from + i);

/** The model: ranges by string keys (single letters, '' = start, null = +inf), epochs, registry. */
interface ModelShard {
  id: number;
  start: string;
  end: string | null;
  epoch: number;
  replicas: Map<number, 'voter' | 'learner'>;
}

class Model {
  shards = new Map<number, ModelShard>();
  meta: ModelShard | null = null;
  nodes = new Map<number, { address: string; state: NodeState }>();
  nextShardId = 0;
  used = new Set<number>();

  shard(id: number): ModelShard | undefined {
    return this.meta?.id === id ? this.meta : this.shards.get(id);
  }

  /** The expected outcome of `c` (the result type, or refused:<reason> for the reasons the model decides). */
  expect(c: MetaCommand): string {
    if (c.type === 'bootstrap') return this.meta ? 'refused:already-bootstrapped' : this.bootstrap(c);
    if (!this.meta) return 'refused:not-bootstrapped';
    if (c.type === 'registerNode') return this.register(c);
    if (c.type === 'setNodeState') return this.setState(c);
    if (c.type === 'reserveShardIds') {
      this.nextShardId += c.count;
      return 'shardIdsReserved';
    }
    const s = this.shard(c.shard);
    if (!s) return 'refused:unknown-shard';
    if (s.epoch !== c.epoch) return 'refused:epoch-mismatch';
    if (c.type === 'setReplicas') return this.set(c, s);
    return c.type === 'split' ? this.split(c, s) : this.change(c, s);
  }

  private set(c: Extract<MetaCommand, { type: 'setReplicas' }>, s: ModelShard): string {
    if (c.replicas.some((r) => !this.nodes.has(r.node))) return 'refused:unknown-node';
    s.replicas = new Map(c.replicas.map((r) => [r.node, r.role]));
    s.epoch = c.newEpoch;
    return 'replicasChanged';
  }

  private bootstrap(c: Extract<MetaCommand, { type: 'bootstrap' }>): string {
    const replicas = new Map(c.nodes.map((n) => [n.id, 'voter' as const]));
    this.meta = { id: c.metaShardId, start: '', end: null, epoch: 1, replicas: new Map(replicas) };
    this.shards.set(c.dataShardId, { id: c.dataShardId, start: '', end: null, epoch: 1, replicas });
    for (const n of c.nodes) this.nodes.set(n.id, { address: n.address, state: 'up' });
    this.nextShardId = Math.max(c.metaShardId, c.dataShardId) + 1;
    this.used = new Set([c.metaShardId, c.dataShardId]);
    return 'bootstrapped';
  }

  private register(c: Extract<MetaCommand, { type: 'registerNode' }>): string {
    if (c.clusterId !== CLUSTER) return 'refused:cluster-mismatch';
    const known = this.nodes.get(c.nodeId);
    if (known?.state === 'removed') return 'refused:node-removed';
    if (known) return known.address === c.address ? 'registered' : 'refused:node-id-taken';
    for (const n of this.nodes.values())
      if (n.address === c.address && n.state !== 'removed') return 'refused:address-taken';
    this.nodes.set(c.nodeId, { address: c.address, state: 'up' });
    return 'registered';
  }

  private setState(c: Extract<MetaCommand, { type: 'setNodeState' }>): string {
    const n = this.nodes.get(c.nodeId);
    if (!n) return 'refused:unknown-node';
    const ok: Record<NodeState, NodeState[]> = {
      up: ['up', 'down', 'draining', 'removed'],
      down: ['down', 'up', 'draining', 'removed'],
      draining: ['draining', 'up', 'removed'],
      removed: ['removed'],
    };
    if (!ok[n.state].includes(c.state)) return 'refused:illegal-transition';
    n.state = c.state;
    return 'nodeState';
  }

  private split(c: Extract<MetaCommand, { type: 'split' }>, s: ModelShard): string {
    if (s === this.meta) return 'refused:bad-split';
    if (c.rightId >= this.nextShardId || this.used.has(c.rightId)) return 'refused:shard-id-not-reserved';
    const k = Buffer.from(c.key).toString('latin1');
    if (!(k > s.start && (s.end === null || k < s.end))) return 'refused:bad-split';
    this.used.add(c.rightId);
    this.shards.set(c.rightId, { ...s, id: c.rightId, start: k, epoch: s.epoch + 1, replicas: new Map(s.replicas) });
    s.end = k;
    s.epoch++;
    return 'split';
  }

  private change(c: Extract<MetaCommand, { type: 'changeReplicas' }>, s: ModelShard): string {
    const role = s.replicas.get(c.node);
    const node = this.nodes.get(c.node);
    if (c.change !== 'removeReplica' || role === undefined) {
      if (!node) return 'refused:unknown-node';
      if (node.state === 'removed') return 'refused:node-removed';
    }
    const voters = [...s.replicas.values()].filter((r) => r === 'voter').length;
    if (c.change === 'addLearner' && role === undefined) s.replicas.set(c.node, 'learner');
    else if (c.change === 'promoteLearner' && role === 'learner') s.replicas.set(c.node, 'voter');
    else if (c.change === 'removeReplica' && role !== undefined && !(role === 'voter' && voters === 1))
      s.replicas.delete(c.node);
    else return 'refused:bad-replica-change';
    s.epoch++;
    return 'replicasChanged';
  }
}

const LETTERS = 'bcdefghijklmnopqrstuvwxy';

function randomCommand(rnd: Random, m: Model): MetaCommand {
  const nodeId = (): number => (rnd.chance(0.85) && m.nodes.size > 0 ? rnd.pick([...m.nodes.keys()]) : rnd.int(1, 12));
  const shard = (): ModelShard | undefined => {
    const all = [...m.shards.values(), ...(m.meta ? [m.meta] : [])];
    return all.length > 0 ? rnd.pick(all) : undefined;
  };
  const epochNear = (s: ModelShard | undefined): number =>
    Math.max(0, (s?.epoch ?? 1) - (rnd.chance(0.75) ? 0 : rnd.int(-1, 2)));
  const kind = rnd.int(0, 10);
  if (kind === 0)
    return rnd.chance(0.1) ? bootstrap([rnd.int(1, 3)]) : { type: 'reserveShardIds', count: rnd.int(1, 3) };
  if (kind === 1 || kind === 2) {
    const id = nodeId();
    const address = rnd.chance(0.8) ? addr(id) : addr(rnd.int(1, 12));
    return { type: 'registerNode', clusterId: rnd.chance(0.9) ? CLUSTER : OTHER_CLUSTER, nodeId: id, address };
  }
  if (kind === 3)
    return {
      type: 'setNodeState',
      nodeId: nodeId(),
      state: rnd.pick(['up', 'down', 'draining', 'removed', 'up', 'draining'] as NodeState[]),
    };
  const s = shard();
  const id = s?.id ?? rnd.int(1, 5);
  if (kind <= 6) {
    const rightId = rnd.chance(0.8) ? Math.max(1, m.nextShardId - rnd.int(1, 3)) : rnd.int(1, m.nextShardId + 2);
    return {
      type: 'split',
      shard: sid(id),
      epoch: ep(epochNear(s)),
      key: Buffer.from(rnd.pick([...LETTERS]).repeat(rnd.int(1, 2))),
      rightId: sid(rightId),
    };
  }
  if (kind === 10) {
    const nodes = [...new Set(Array.from({ length: rnd.int(1, 4) }, nodeId))];
    const replicas = nodes.map(
      (node, i) => ({ node, role: i === 0 || rnd.chance(0.6) ? 'voter' : 'learner' }) as const,
    );
    const epoch = epochNear(s);
    return { type: 'setReplicas', shard: sid(id), epoch: ep(epoch), newEpoch: ep(epoch + rnd.int(1, 3)), replicas };
  }
  const change = rnd.pick<ReplicaChangeKind>(['addLearner', 'promoteLearner', 'removeReplica']);
  return { type: 'changeReplicas', shard: sid(id), epoch: ep(epochNear(s)), change, node: nodeId() };
}

/** Invariants of the state machine's state, checked without its own helpers. */
function checkInvariants(sm: MetaStateMachine, epochs: Map<number, number>, ownerEpochs: Map<string, number>): void {
  const ds = sm.shardMap?.descriptors() ?? [];
  if (ds.length === 0) return;
  let cursor: string | null = '';
  const ids = new Set<number>([sm.metaDescriptor!.id]);
  const nodes = sm.nodes();
  const registered = new Set(nodes.map((n) => n.id));
  for (const d of [...ds].sort((a, b) => Buffer.compare(Buffer.from(a.start), Buffer.from(b.start)))) {
    const start = Buffer.from(d.start).toString('latin1');
    expect(start, 'descriptors tile the keyspace: no gap, no overlap').toBe(cursor);
    cursor = d.end === null ? null : Buffer.from(d.end).toString('latin1');
    expect(ids.has(d.id), `shard id ${d.id} unique`).toBe(false);
    ids.add(d.id);
  }
  expect(cursor, 'the last shard reaches +infinity').toBeNull();
  for (const d of [...ds, sm.metaDescriptor!]) {
    expect(d.id).toBeLessThan(sm.cluster!.nextShardId);
    expect(d.epoch, `shard ${d.id} epoch only grows`).toBeGreaterThanOrEqual(epochs.get(d.id) ?? 0);
    epochs.set(d.id, d.epoch);
    for (const r of d.replicas) expect(registered.has(r.node), `replica on registered node ${r.node}`).toBe(true);
  }
  for (const probe of ['', ...LETTERS, 'zz']) {
    const e = sm.shardMap!.locate(Buffer.from(probe)).epoch;
    expect(e, `owner epoch of '${probe}' only grows`).toBeGreaterThanOrEqual(ownerEpochs.get(probe) ?? 0);
    ownerEpochs.set(probe, e);
  }
  for (let i = 1; i < nodes.length; i++) expect(nodes[i]!.id).toBeGreaterThan(nodes[i - 1]!.id);
  const live = nodes.filter((n) => n.state !== 'removed').map((n) => n.address);
  expect(new Set(live).size, 'addresses unique among registered nodes').toBe(live.length);
}

async function applyInBatches(sm: MetaStateMachine, entries: Entry[], rnd: Random): Promise<void> {
  for (let i = 0; i < entries.length;) {
    const n = rnd.int(1, 8);
    await sm.apply(entries.slice(0, i + n));
    i += n;
  }
}

describe('meta state machine under random command sequences', () => {
  for (const seed of seeds) {
    it(`seed ${seed}`, async () => {
      try {
        await runSeed(seed);
      } catch (e) {
        console.error(
          `meta random test failed with seed ${seed}; replay: META_RANDOM_SEED=${seed} npx vitest run test/unit/meta/random.test.ts`,
        );
        throw e;
      }
    });
  }
});

async function runSeed(seed: number): Promise<void> {
  const rnd = new Random(seed);
  const s = await stores.make();
  const h = await MetaHarness.open(s.store);
  const model = new Model();
  const epochs = new Map<number, number>();
  const owners = new Map<string, number>();
  const snapshotAt = rnd.int(10, COMMANDS - 10);
  let restored: MetaStateMachine | null = null;
  let outcomes = 0;
  const first = model.expect(bootstrap());
  expect(outcomeOf(await h.one(bootstrap()))).toBe(first);
  for (let i = 0; i < COMMANDS;) {
    const batch = Array.from({ length: rnd.int(1, 5) }, () => randomCommand(rnd, model));
    const expected = batch.map((c) => model.expect(c));
    const results = await h.run(...batch);
    results.forEach((r, j) => expect(outcomeOf(r), `command ${i + j}: ${JSON.stringify(batch[j])}`).toBe(expected[j]));
    outcomes += results.filter((r) => r.type !== 'refused').length;
    checkInvariants(h.sm, epochs, owners);
    i += batch.length;
    if (restored === null && i >= snapshotAt) restored = await restoreFrom(h.sm, `seed-${seed}`);
  }
  expect(outcomes, 'some commands were accepted').toBeGreaterThan(COMMANDS / 5);
  const digest = await h.sm.digest();
  // Another replica, other batch sizes; the restored one catches up from the log.
  const other = await MetaHarness.open((await stores.make()).store);
  await applyInBatches(other.sm, h.log.entries, rnd);
  expect(await other.sm.digest()).toEqual(digest);
  await restored!.apply(h.log.entries);
  expect(await restored!.digest()).toEqual(digest);
  const reopened = await MetaStateMachine.open(await stores.reopen(s), META_SHARD_ID);
  expect(await reopened.digest()).toEqual(digest);
}

const outcomeOf = (r: MetaResult): string => (r.type === 'refused' ? `refused:${r.reason}` : r.type);

async function restoreFrom(sm: MetaStateMachine, id: string): Promise<MetaStateMachine> {
  const target = await MetaStateMachine.open((await stores.make()).store, META_SHARD_ID);
  await target.beginSnapshotStaging(id);
  for await (const chunk of sm.openSnapshot({ chunkBytes: 300 })) await target.stageChunk(id, chunk);
  await target.installStaged(id, {
    index: sm.applied,
    term: 1,
    config: { voters: [1], learners: [], votersOutgoing: [] },
  });
  expect(await target.digest()).toEqual(await sm.digest());
  return target;
}
