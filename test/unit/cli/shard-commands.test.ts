import { afterEach, describe, expect, it } from 'vitest';
import { FakeAdmin, wireShard } from './fake-admin';
import { runCliCaptured } from './run-cli';

let cluster: FakeAdmin | null = null;
afterEach(() => {
  cluster?.stop();
  cluster = null;
});

const cli = runCliCaptured;

/** Three nodes after a split at 'm' and one at 0x00ff: node 3 has not applied the first split yet. */
async function splitCluster(): Promise<{ c: FakeAdmin; ep: string[] }> {
  const c = await FakeAdmin.start(3);
  const hexKey = Buffer.from([0x00, 0xff]);
  const stats = { keys: 4, bytes: 100 };
  c.nodes[0]!.shards = [
    wireShard(1, '', hexKey, { epoch: 3, applied: 30, leader: 1, ...stats }),
    wireShard(3, hexKey, 'm', { epoch: 3, applied: 30, leader: 2 }),
    wireShard(2, 'm', '', { epoch: 2, applied: 30, leader: 0, keys: 7, bytes: 70 }),
  ];
  c.nodes[1]!.shards = [wireShard(2, 'm', '', { epoch: 2, applied: 31, leader: 3, keys: 7, bytes: 71 })];
  c.nodes[2]!.shards = [wireShard(1, '', '', { epoch: 1, applied: 9, leader: 1, keys: 99 })];
  return { c, ep: ['--endpoints', c.endpoints().join(',')] };
}

describe('tessera shard list', () => {
  it('--json: one entry per shard over every endpoint, the documented shape, stats asked of each node', async () => {
    const { c, ep } = await splitCluster();
    cluster = c;
    const r = await cli(['shard', 'list', '--json', ...ep]);
    expect(r).toMatchObject({ code: 0, err: '' });
    const replicas = [1, 2, 3].map((id) => ({ id, voter: true }));
    expect(JSON.parse(r.out)).toEqual({
      shards: [
        { id: 1, start: '', end: '0x00ff', epoch: 3, replicas, leader: 1, keys: 4, bytes: 100 },
        { id: 3, start: '0x00ff', end: 'm', epoch: 3, replicas, leader: 2, keys: 0, bytes: 0 },
        { id: 2, start: 'm', end: null, epoch: 2, replicas, leader: 3, keys: 7, bytes: 71 },
      ],
    });
    for (const n of c.nodes) expect(n.listRequests).toEqual([{ withStats: true, cluster: false }]);
  });

  it('prints a table; an endpoint that fails is named on stderr; none answering exits 3', async () => {
    const { c, ep } = await splitCluster();
    cluster = c;
    c.nodes[2]!.shards = null;
    const r = await cli(['shard', 'list', ...ep]);
    expect(r.code).toBe(0);
    expect(r.err).toContain(`${c.nodes[2]!.address}: `);
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^ID\s+START\s+END\s+EPOCH\s+LEADER\s+REPLICAS\s+KEYS\s+BYTES$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([
      ['1', '<min>', '0x00ff'],
      ['3', '0x00ff', 'm'],
      ['2', 'm', '<max>'],
    ]);
    for (const n of c.nodes) n.shards = null;
    const down = await cli(['shard', 'list', '--deadline-ms', '1000', ...ep]);
    expect(down.code).toBe(3);
    expect(down.out).toBe('');
  });
});

describe('tessera shard list given one endpoint', () => {
  it('also asks the members that endpoint knows: a shard hosted only elsewhere is listed', async () => {
    const { c } = await splitCluster();
    cluster = c;
    c.nodes[0]!.shards = [
      wireShard(1, '', 'm', {
        epoch: 2,
        replicas: [
          { id: 1, voter: true },
          { id: 3, voter: true },
        ],
      }),
    ];
    c.nodes[1]!.shards = [];
    c.states.set(2, 'removed'); // the registry names node 2 too, but a removed node is not asked
    c.nodes[2]!.shards = [wireShard(2, 'm', '', { epoch: 2, replicas: [{ id: 3, voter: true }], leader: 3 })];
    const r = await cli(['shard', 'list', '--json', '--endpoints', c.nodes[0]!.address]);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(r.out).shards.map((s: { id: number; end: string | null }) => [s.id, s.end])).toEqual([
      [1, 'm'],
      [2, null],
    ]);
    expect(c.nodes[2]!.listRequests).toHaveLength(1);
    expect(c.nodes[1]!.listRequests).toEqual([]); // not a member of any group node 1 reports
  });

  it('also asks every registered node: a shard on nodes the endpoint shares no group with is listed', async () => {
    const { c } = await splitCluster();
    cluster = c;
    // After replica moves node 1 hosts shard 1 alone, and shard 2 lives on node 3 only.
    c.nodes[0]!.shards = [wireShard(1, '', 'm', { epoch: 4, replicas: [{ id: 1, voter: true }] })];
    c.nodes[1]!.shards = [];
    c.nodes[2]!.shards = [wireShard(2, 'm', '', { epoch: 4, replicas: [{ id: 3, voter: true }], leader: 3 })];
    const r = await cli(['shard', 'list', '--json', '--endpoints', c.nodes[0]!.address]);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(r.out).shards.map((s: { id: number }) => s.id)).toEqual([1, 2]);
  });
});

describe('tessera shard split', () => {
  it("splits on the owning shard's leader (following NOT_LEADER) and prints both shards", async () => {
    cluster = await FakeAdmin.start(3);
    cluster.leaderId = 2;
    const ep = ['--endpoints', cluster.endpoints().join(',')];
    const r = await cli(['shard', 'split', 'user/5', ...ep]);
    expect(r).toEqual({
      code: 0,
      out: 'split at user/5: left shard 1 [<min>, user/5) epoch 2, right shard 2 [user/5, <max>) epoch 2',
      err: '',
    });
    expect(cluster.splits.map((k) => k.toString())).toEqual(['user/5']);
    const j = await cli(['shard', 'split', '00ff', '--encoding', 'hex', '--json', ...ep]);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.out)).toMatchObject({
      key: '0x00ff',
      left: { id: 1, start: '', end: '0x00ff' },
      right: { id: 2, start: '0x00ff', end: null },
    });
    expect(cluster.splits[1]).toEqual(Buffer.from([0x00, 0xff]));
  });

  it('usage errors exit 2 without calling the cluster; help lists the commands', async () => {
    cluster = await FakeAdmin.start(1);
    const ep = ['--endpoints', cluster.endpoints().join(',')];
    for (const args of [
      ['shard'],
      ['shard', 'nope'],
      ['shard', 'list', 'extra'],
      ['shard', 'split'],
      ['shard', 'split', 'a', 'b'],
      ['shard', 'split', ''],
      ['shard', 'split', 'zz', '--encoding', 'hex'],
      ['shard', 'list', '--bogus'],
    ]) {
      const r = await cli([...args, ...ep]);
      expect([args, r.code]).toEqual([args, 2]);
      expect(r.err).toMatch(/usage|KEY|Unknown option/);
    }
    expect(cluster.splits).toEqual([]);
    expect(cluster.nodes[0]!.listRequests).toEqual([]);
    const help = await cli(['--help']);
    expect(help.out).toMatch(/shard list \[--json\]/);
    expect(help.out).toMatch(/shard split KEY/);
  });
});

describe('tessera status and leader transfer with many groups', () => {
  it('prints a line per group with its key range', async () => {
    const { c, ep } = await splitCluster();
    cluster = c;
    const r = await cli(['status', ...ep]);
    expect(r.code).toBe(0);
    const groupLines = r.out.split('\n').filter((l) => l.startsWith('group '));
    expect(groupLines.map((l) => /^group (\d+): .*range (\[.*?\)),/.exec(l)?.slice(1))).toEqual([
      ['1', '[<min>, 0x00ff)'],
      ['2', '[m, <max>)'],
      ['3', '[0x00ff, m)'],
    ]);
  });
});

describe('tessera leader transfer beside the meta shard', () => {
  it('implies the one data shard (never the meta shard); with several data shards it asks for --group', async () => {
    cluster = await FakeAdmin.start(1);
    const ep = ['--endpoints', cluster.endpoints().join(',')];
    cluster.nodes[0]!.shards = [wireShard(1, '', '')];
    cluster.meta = [wireShard(2, '', '')];
    expect(await cli(['leader', 'transfer', '3', ...ep])).toEqual({ code: 0, out: 'leader is now node 3', err: '' });
    expect(cluster.transfers).toEqual([{ groupId: 1, to: 3 }]);
    cluster.nodes[0]!.shards = [wireShard(1, '', 'm'), wireShard(3, 'm', '')];
    const r = await cli(['leader', 'transfer', '3', ...ep]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/2 data shards; say which with --group G/);
    expect(cluster.transfers).toHaveLength(1);
  });
});
