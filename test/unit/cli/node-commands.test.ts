/**
 * `tessera shard move`, `tessera node drain` and `tessera node remove` against fake Admin nodes: argument
 * checks (exit 2), the request each sends and to whom (NOT_LEADER hints followed), what each prints, the
 * drain's wait until no group reports the node, and a refused removal (exit 1 with the node's reason).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FakeAdmin, wireShard } from './fake-admin';
import { runCliCaptured as cli } from './run-cli';

let cluster: FakeAdmin | null = null;
afterEach(() => {
  cluster?.stop();
  cluster = null;
});

/** Three fake nodes, each hosting shard 1 on nodes 1-3; node 2 leads the shards, node 3 the meta shard. */
async function threeNodes(): Promise<{ c: FakeAdmin; ep: string[] }> {
  const c = await FakeAdmin.start(3);
  for (const n of c.nodes) n.shards = [wireShard(1, '', '', { leader: 2 })];
  c.leaderId = 2;
  c.metaLeaderId = 3;
  cluster = c;
  return { c, ep: ['--endpoints', c.endpoints().join(','), '--deadline-ms', '3000'] };
}

describe('tessera shard move', () => {
  it("moves on the shard's leader (after a NOT_LEADER hint) and prints the members", async () => {
    const { c, ep } = await threeNodes();
    // The nodes still report node 1 as the leader: the move goes there first and is redirected to node 2.
    for (const n of c.nodes) n.shards = [wireShard(1, '', '', { leader: 1 })];
    const r = await cli(['shard', 'move', '1', '--from', '3', '--to', '4', ...ep]);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toBe("moved shard 1's replica from node 3 to node 4; members: 1 2 4");
    expect(c.moveRequests).toEqual([
      { at: 1, shardId: 1, from: 3, to: 4, noWait: false },
      { at: 2, shardId: 1, from: 3, to: 4, noWait: false },
    ]);
  });

  it('--no-wait asks the leader only to start it; --json prints the outcome', async () => {
    const { c, ep } = await threeNodes();
    const r = await cli(['shard', 'move', '1', '--from', '3', '--to', '4', '--no-wait', ...ep]);
    expect(r.out).toBe("moving shard 1's replica from node 3 to node 4 (started; members now 1 2 3)");
    expect(c.moveRequests.at(-1)).toMatchObject({ at: 2, noWait: true });
    const j = await cli(['shard', 'move', '1', '--from', '3', '--to', '4', '--json', ...ep]);
    expect(JSON.parse(j.out)).toMatchObject({
      shard: 1,
      from: 3,
      to: 4,
      done: true,
      members: [{ id: 1 }, { id: 2 }, { id: 4 }],
    });
  });

  it.each([
    [['shard', 'move', '1', '--from', '3']],
    [['shard', 'move', '1', '--to', '3']],
    [['shard', 'move', 'x', '--from', '3', '--to', '4']],
    [['shard', 'move', '0', '--from', '3', '--to', '4']],
    [['shard', 'move', '1', '--from', '3', '--to', '3']],
    [['shard', 'move', '1', '--from', '-3', '--to', '4']],
    [['shard', 'move', '--from', '3', '--to', '4']],
  ])('usage errors exit 2 without a request: %j', async (args) => {
    const { c, ep } = await threeNodes();
    const r = await cli([...args, ...ep]);
    expect(r.code).toBe(2);
    expect(c.moveRequests).toEqual([]);
  });
});

describe('tessera node drain', () => {
  it('--no-wait marks the node draining on the meta leader and returns', async () => {
    const { c, ep } = await threeNodes();
    const r = await cli(['node', 'drain', '3', '--no-wait', ...ep]);
    expect(r).toMatchObject({ code: 0, out: 'node 3 is draining (not waiting)' });
    expect(c.stateRequests.filter((s) => s.at === 3)).toEqual([{ at: 3, id: 3, state: 'draining' }]);
    expect(c.states.get(3)).toBe('draining');
  });

  it('waits until no group reports the node as a member, printing what is left', async () => {
    const { c, ep } = await threeNodes();
    c.onState = (id, state) => {
      if (state !== 'draining') return;
      // The placement driver's moves, a little later: node 4 replaces node 3, which drops its replica.
      setTimeout(() => {
        for (const n of c.nodes)
          n.shards =
            n.id === id
              ? []
              : [
                  wireShard(1, '', '', {
                    leader: 2,
                    applied: 20,
                    replicas: [1, 2, 4].map((r) => ({ id: r, voter: true })),
                  }),
                ];
      }, 700);
    };
    const r = await cli(['node', 'drain', '3', ...ep]);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('node 3: 1 replica(s), 0 leadership(s) left');
    expect(lines.at(-1)).toMatch(
      /^drained node 3: it holds no replica \([\d.]+ s\); remove it with tessera node remove 3$/,
    );
  });

  it('gives up after --wait-ms with exit 3, the node left draining', async () => {
    const { c, ep } = await threeNodes();
    const r = await cli(['node', 'drain', '3', '--wait-ms', '300', ...ep]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/node 3 still holds 1 replica\(s\) and 0 leadership\(s\) after 300 ms; it stays draining/);
    expect(c.states.get(3)).toBe('draining');
  });

  it('usage errors exit 2', async () => {
    const { ep } = await threeNodes();
    for (const args of [
      ['node', 'drain'],
      ['node', 'drain', 'x'],
      ['node', 'drain', '3', '4'],
      ['node', 'drain', '3', '--wait-ms', '0'],
    ])
      expect((await cli([...args, ...ep])).code).toBe(2);
  });
});

describe('tessera node remove', () => {
  it("a refusal (the node still holds replicas) exits 1 with the node's reason; an empty node is removed", async () => {
    const { c, ep } = await threeNodes();
    c.refuseRemoval = 'node 3 still holds replicas of 1 shard(s) (1); drain it first';
    const refused = await cli(['node', 'remove', '3', ...ep]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/tessera node: .*node 3 still holds replicas of 1 shard\(s\) \(1\); drain it first/);
    expect(c.states.get(3)).toBeUndefined();
    c.refuseRemoval = null;
    const ok = await cli(['node', 'remove', '3', ...ep]);
    expect(ok).toMatchObject({ code: 0, out: 'removed node 3 from the cluster' });
    expect(c.states.get(3)).toBe('removed');
    expect((await cli(['node', 'list', '--json', ...ep])).out).toContain('"state": "removed"');
  });
});
