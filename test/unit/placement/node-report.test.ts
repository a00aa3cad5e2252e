/**
 * The serving side of Raft.Placement (src/placement/node-report.ts, wire.ts): a node's report from its
 * host, actions only on a group it leads and at the planned epoch, the learner's addresses learned before
 * it is added, hostile bodies refused; and the meta records the driver makes (meta-record.ts).
 */
import { describe, expect, it } from 'vitest';
import { TesseraError, type Epoch, type GroupId, type NodeId, type ShardId } from '../../../src/base';
import type { GroupStatusInfo, LocalShardInfo, MemberInfo } from '../../../src/node';
import {
  buildReport,
  decodeReport,
  decodeRequest,
  encodeReport,
  encodeRequest,
  placementHandler,
  plannedRecords,
  runAction,
  type PlacementHost,
  type ReportContext,
} from '../../../src/placement';
import { encodeRecord } from '../../../src/codec';
import {
  addLearner,
  makeDescriptor,
  printableKey,
  promoteLearner,
  rangesOverlap,
  removeReplica,
  type ShardDescriptor,
} from '../../../src/shard';
import type { MetaCommand } from '../../../src/meta';

const members = (voters: NodeId[]): MemberInfo[] => voters.map((id) => ({ id, address: '', voter: true, match: 40 }));

function fakeHost(role: 'leader' | 'follower') {
  const calls: string[] = [];
  const status = (groupId: GroupId): GroupStatusInfo => {
    if (groupId !== 1 && groupId !== 2) throw new TesseraError('WRONG_SHARD', `group ${groupId} not hosted`);
    return {
      groupId,
      leader: role === 'leader' ? 1 : 3,
      term: 4,
      role,
      commit: 40,
      applied: 40,
      firstIndex: 1,
      lastIndex: 40,
      members: members([1, 2, 3]),
      range: { start: Buffer.from(groupId === 2 ? 'meta' : ''), end: null },
      kind: groupId === 2 ? 'meta' : 'data',
    };
  };
  const shard: LocalShardInfo = {
    id: 1,
    start: Buffer.alloc(0),
    end: null,
    epoch: 5,
    replicas: [],
    leader: 1,
    applied: 40,
  };
  const host: PlacementHost = {
    nodeId: 1,
    groupIds: () => [1, 2],
    groupStatus: status,
    listShards: () => [shard],
    changeReplica: async (groupId, change) => {
      calls.push(`change ${groupId} ${change.kind} ${change.node}`);
      return members([1, 2, 3, change.node]);
    },
    transferLeader: async (groupId, to, timeoutMs) => {
      calls.push(`transfer ${groupId} ${to}${timeoutMs === undefined ? '' : ` within ${timeoutMs}`}`);
      return to;
    },
    learnNodeAddress: (id, client, peer) => calls.push(`learn ${id} ${client} ${peer}`),
  };
  const ctx: ReportContext = {
    host,
    clusterId: () => 'c'.repeat(32),
    client: 'h1:7001',
    peer: 'h1:8001',
    metaGroupId: 2,
    metaEpoch: () => 9,
    wallMs: () => 1234,
  };
  return { ctx, calls };
}

/** The TesseraError `p` rejects with. */
const refusal = (p: Promise<unknown>): Promise<TesseraError> =>
  p.then(
    () => expect.fail('expected a refusal'),
    (e: unknown) => e as TesseraError,
  );

const act = (
  o: Partial<{ epoch: number; kind: 'addLearner' | 'removeReplica' | 'transferLeader'; shard: number }>,
) => ({
  shard: (o.shard ?? 1) as ShardId,
  epoch: (o.epoch ?? 5) as Epoch,
  kind: o.kind ?? ('addLearner' as const),
  node: 4,
  client: 'h4:7004',
  peer: 'h4:8004',
});

describe('a node serving placement calls', () => {
  it("reports every group it hosts, the leader's progress only where it leads, and round-trips the wire", () => {
    const leader = buildReport(fakeHost('leader').ctx);
    expect(leader).toMatchObject({ nodeId: 1, client: 'h1:7001', peer: 'h1:8001', sentAtMs: 1234 });
    expect(leader.groups.map((g) => [g.id, g.epoch, g.isLeader, g.commit])).toEqual([
      [1, 5, true, 40],
      [2, 9, true, 40],
    ]);
    expect(leader.groups[0]!.members.map((m) => m.match)).toEqual([40, 40, 40]);
    const follower = buildReport(fakeHost('follower').ctx);
    expect(follower.groups[0]).toMatchObject({ isLeader: false, leader: 3, commit: 0 });
    expect(follower.groups[0]!.members.map((m) => m.match)).toEqual([0, 0, 0]);
    expect(decodeReport(encodeReport(leader))).toEqual(leader);
  });

  it('adds a learner only after learning its addresses, on the leader, at the planned epoch', async () => {
    const { ctx, calls } = fakeHost('leader');
    const answer = await runAction(ctx, act({}), 1000);
    expect(calls).toEqual(['learn 4 h4:7004 h4:8004', 'change 1 addLearner 4']);
    expect(answer.members.map((m) => m.node)).toEqual([1, 2, 3, 4]);
    // A leadership transfer keeps the node's own short bound, not the action's long one.
    await runAction(ctx, act({ kind: 'transferLeader' }), 300_000);
    expect(calls.at(-1)).toBe('transfer 1 4');
    const stale = await refusal(runAction(ctx, act({ epoch: 4 }), 1000));
    expect([stale.code, stale.details.epoch]).toEqual(['WRONG_SHARD', 5]);
    const notLeader = await refusal(runAction(fakeHost('follower').ctx, act({}), 1000));
    expect([notLeader.code, notLeader.details.leaderId]).toEqual(['NOT_LEADER', 3]);
    const unknown = await refusal(runAction(ctx, act({ shard: 7 }), 1000));
    expect(unknown.code).toBe('WRONG_SHARD');
    expect(calls).toHaveLength(3);
  });

  it("reads the acted-on shard's epoch alone where the host can (a node with 1,000 shards lists none per action)", async () => {
    const { ctx } = fakeHost('leader');
    let listings = 0;
    const list = ctx.host.listShards.bind(ctx.host);
    ctx.host.listShards = () => {
      listings++;
      return list();
    };
    ctx.host.shardInfo = (id) => list().find((s) => s.id === id) ?? null;
    await runAction(ctx, act({}), 1000);
    expect(listings).toBe(0);
    const stale = await refusal(runAction(ctx, act({ epoch: 4 }), 1000));
    expect([stale.code, stale.details.epoch, listings]).toEqual(['WRONG_SHARD', 5, 0]);
  });

  it('refuses hostile request bodies with INVALID_ARGUMENT, before anything is done', async () => {
    const { ctx, calls } = fakeHost('leader');
    const handle = placementHandler(ctx);
    const bodies = [
      Buffer.from('not a record'),
      encodeRecord([3]),
      encodeRecord([2, 1, 5, 9, 4, '', '']), // unknown kind
      encodeRecord([2, 1, 5, 0, 4, '', '']), // addLearner without addresses
      encodeRecord([2, 0, 5, 1, 4, '', '']), // shard 0
      encodeRecord([2, 1, -1, 1, 4, '', '']), // epoch
      encodeRecord([2, 1, 5, 1, 2 ** 33, '', '']), // node id
      encodeRecord([2, 1, 5, 0, 4, 'no port', 'h:1']), // address
    ];
    for (const body of bodies) {
      const e = await handle(2, body, 1000).catch((x: TesseraError) => x);
      expect(e).toBeInstanceOf(TesseraError);
      expect((e as TesseraError).code).toBe('INVALID_ARGUMENT');
    }
    expect(calls).toEqual([]);
    const req = { type: 'act' as const, ...act({ kind: 'removeReplica' }), client: '', peer: '' };
    expect(decodeRequest(encodeRequest(req))).toEqual(req);
    expect(decodeReport(await handle(2, encodeRequest({ type: 'report' }), 1000)).nodeId).toBe(1);
  });

  it('takes actions only from the node it knows leads the meta shard (any node may ask for a report)', async () => {
    const { ctx, calls } = fakeHost('follower'); // its meta replica knows node 3 as the meta leader
    const handle = placementHandler(ctx);
    const body = encodeRequest({ type: 'act', ...act({}) });
    const refused = await refusal(handle(2, body, 1000));
    expect([refused.code, refused.details.leaderId]).toEqual(['NOT_LEADER', 3]);
    expect(calls).toEqual([]);
    expect(decodeReport(await handle(2, encodeRequest({ type: 'report' }), 1000)).nodeId).toBe(1);
    // From the meta leader it goes on to the node's own checks (this replica does not lead shard 1).
    expect((await refusal(handle(3, body, 1000))).code).toBe('NOT_LEADER');
    expect((await refusal(handle(3, body, 1000))).details.groupId).toBe(1);
  });
});

const d = (id: number, epoch: number, replicas: [NodeId, 'voter' | 'learner'][]): ShardDescriptor =>
  makeDescriptor({
    id: id as ShardId,
    start: Buffer.from(id === 2 ? 'meta' : ''),
    end: null,
    epoch: epoch as Epoch,
    replicas: replicas.map(([node, role]) => ({ node, role })),
  });

/** The records as the meta shard applies them (a split's halves and a step at the epoch + 1). */
function applyRecords(records: MetaCommand[], recorded: ShardDescriptor[], made: string[]): ShardDescriptor[] {
  for (const c of records) {
    if (c.type === 'split') {
      made.push(`split ${c.shard}@${c.epoch} at ${Buffer.from(c.key).toString()} -> ${c.rightId}`);
      const p = recorded.find((r) => r.id === c.shard)!;
      const e = (p.epoch + 1) as Epoch;
      recorded = [
        ...recorded.filter((r) => r.id !== c.shard),
        { ...p, end: Buffer.from(c.key), epoch: e },
        { ...p, id: c.rightId, start: Buffer.from(c.key), epoch: e },
      ];
    } else if (c.type === 'setReplicas') {
      made.push(`set ${c.shard}@${c.epoch} e${c.newEpoch}`);
      recorded = recorded.map((r) => (r.id === c.shard ? { ...r, epoch: c.newEpoch, replicas: c.replicas } : r));
    } else if (c.type === 'changeReplicas') {
      made.push(`${c.shard}@${c.epoch} ${c.change} ${c.node}`);
      const step = { addLearner, promoteLearner, removeReplica }[c.change];
      recorded = recorded.map((r) => (r.id === c.shard ? step(r, c.node) : r));
    }
  }
  return recorded;
}

describe("the driver's meta records", () => {
  it('records the meta group step by step, and a data shard only when its epoch moved by exactly that step', () => {
    const recorded = [
      d(2, 3, [[1, 'voter']]),
      d(1, 5, [
        [1, 'voter'],
        [2, 'voter'],
      ]),
      d(3, 5, [[1, 'voter']]),
      d(4, 5, [[1, 'voter']]),
    ];
    const truth = [
      d(2, 3, [
        [1, 'voter'],
        [2, 'voter'],
      ]),
      // One step, one epoch: recorded.
      d(1, 6, [
        [1, 'voter'],
        [2, 'voter'],
        [3, 'learner'],
      ]),
      // The shard did not count the change (same epoch): recording it would put the meta epoch ahead.
      d(3, 5, [
        [1, 'voter'],
        [2, 'learner'],
      ]),
      // Two steps in one epoch: no step sequence fits, so the report is recorded as it is.
      d(4, 6, [
        [1, 'voter'],
        [2, 'voter'],
      ]),
    ];
    expect(plannedRecords(truth, recorded, 2)).toEqual([
      { type: 'changeReplicas', shard: 2, epoch: 3, change: 'addLearner', node: 2 },
      { type: 'changeReplicas', shard: 1, epoch: 5, change: 'addLearner', node: 3 },
      { type: 'setReplicas', shard: 4, epoch: 5, newEpoch: 6, replicas: truth[3]!.replicas },
    ]);
    expect(plannedRecords(recorded, recorded, 2)).toEqual([]);
  });

  it('records a move (three configuration entries, three epochs) one step a round until the epochs meet', () => {
    const v = (...nodes: number[]) => nodes.map((n) => [n, 'voter'] as [number, 'voter']);
    const truth = [d(5, 8, v(1, 3, 4)), d(6, 7, v(1)), d(7, 6, [...v(1), [2, 'learner']])];
    let recorded = [d(5, 5, v(1, 2, 3)), d(6, 5, v(1)), d(7, 5, v(1, 2))];
    const made: string[] = [];
    for (let round = 0; round < 5; round++) recorded = applyRecords(plannedRecords(truth, recorded, 2), recorded, made);
    // Shard 6 changed and changed back (no step for two epochs), shard 7 demoted a voter (no step reaches
    // it): both recorded as reported, at once.
    expect(made).toEqual([
      '5@5 removeReplica 2',
      'set 6@5 e7',
      'set 7@5 e6',
      '5@6 addLearner 4',
      '5@7 promoteLearner 4',
    ]);
    expect(recorded.map((r) => [r.epoch, r.replicas])).toEqual(truth.map((t) => [t.epoch, t.replicas]));
  });

  const v = (...nodes: number[]) => nodes.map((n) => ({ node: n as NodeId, role: 'voter' as const }));
  const shard = (id: number, start: string, end: string | null, epoch: number, nodes = v(1, 2, 3)) =>
    makeDescriptor({
      id: id as ShardId,
      start: Buffer.from(start),
      end: end === null ? null : Buffer.from(end),
      epoch: epoch as Epoch,
      replicas: nodes,
    });
  const meta = shard(2, '', null, 4);
  /** Rounds of records until nothing is left (at most `rounds`), checking after each that every recorded
   * descriptor is one its shard really had: any other shard now holding its keys was born after it. */
  function recordAll(truth: ShardDescriptor[], recorded: ShardDescriptor[], rounds: number) {
    const made: string[] = [];
    for (let round = 0; round < rounds; round++) {
      recorded = applyRecords(plannedRecords(truth, recorded, 2), recorded, made);
      for (const r of recorded.filter((d) => d.id !== meta.id))
        for (const t of truth.filter((d) => d.id !== meta.id))
          if (rangesOverlap(r.start, r.end, t.start, t.end))
            expect(
              t.id === r.id ? t.epoch >= r.epoch : t.epoch > r.epoch,
              `${r.id}@${r.epoch} vs ${t.id}@${t.epoch}`,
            ).toBe(true);
    }
    const byId = (ds: ShardDescriptor[]) =>
      ds.map((d) => [d.id, d.epoch, printableKey(d.start)]).sort((a, b) => (a[0] as number) - (b[0] as number));
    expect(byId(recorded)).toEqual(byId(truth));
    return made;
  }

  it('records the splits the meta shard missed in the order they happened, one piece per parent a round, then the epochs', () => {
    // What happened, none of it recorded: shard 1 [, inf) e6 split at g (1 e7, 5 e7), shard 5 at p (5 e8,
    // 6 e8), shard 1 at c (1 e8, 7 e8), then shard 6 moved a replica (e11).
    const truth = [
      meta,
      shard(1, '', 'c', 8),
      shard(7, 'c', 'g', 8),
      shard(5, 'g', 'p', 8),
      shard(6, 'p', null, 11, v(2, 3, 4)),
    ];
    const made = recordAll(truth, [meta, shard(1, '', null, 6)], 6);
    // Then shard 6's move, one step a round: three steps over its three epochs.
    expect(made).toEqual([
      'split 1@6 at g -> 5',
      'split 5@7 at p -> 6',
      'split 1@7 at c -> 7',
      '6@8 removeReplica 1',
      '6@9 addLearner 4',
      '6@10 promoteLearner 4',
    ]);
  });

  it("records a parent's earlier split first: the piece next to its reported end came last", () => {
    // Shard 1 split at m (1 e7, 5 e7), then at f (1 e8, 6 e8). Recording f first, as the pieces from the
    // right did, gave 6 the range [f, inf) at e7, over shard 5's keys at 5's own epoch, and 5 could never be
    // recorded after it.
    const truth = [meta, shard(1, '', 'f', 8), shard(6, 'f', 'm', 8), shard(5, 'm', null, 7)];
    expect(recordAll(truth, [meta, shard(1, '', null, 6)], 4)).toEqual(['split 1@6 at m -> 5', 'split 1@7 at f -> 6']);
  });

  it('skips a piece whose right half holds a shard no later than it (its id was reserved first, its split applied later)', () => {
    // Shard 1 split at m with id 9 (1 e7, 9 e7), then at f with id 8, reserved earlier (1 e8, 8 e8).
    const truth = [meta, shard(1, '', 'f', 8), shard(8, 'f', 'm', 8), shard(9, 'm', null, 7)];
    expect(recordAll(truth, [meta, shard(1, '', null, 6)], 4)).toEqual(['split 1@6 at m -> 9', 'split 1@7 at f -> 8']);
  });
});
