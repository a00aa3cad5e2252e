import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../cmd/cli/main';
import { summarize } from '../../../cmd/cli/status-summary';
import { TesseraError } from '../../../src/base';
import type { EndpointStatus, GroupStatus } from '../../../src/client';
import { FakeCluster } from './fake-cluster';

let cluster: FakeCluster | null = null;
afterEach(() => {
  cluster?.stop();
  cluster = null;
});

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('tessera CLI against a fake cluster', () => {
  it('put, get, del, scan, cas with human and JSON output and exit codes', async () => {
    cluster = await FakeCluster.start(3);
    cluster.leaderId = 2;
    const ep = ['--endpoints', cluster.endpoints().join(',')];
    expect(await cli(['put', 'hello', 'world', ...ep])).toEqual({ code: 0, out: 'OK', err: '' });
    expect(await cli(['get', 'hello', ...ep])).toEqual({ code: 0, out: 'world', err: '' });
    expect(JSON.parse((await cli(['get', 'hello', '--json', ...ep])).out)).toEqual({
      key: 'hello',
      found: true,
      value: 'world',
    });
    const missing = await cli(['get', 'nope', ...ep]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/key not found: nope/);
    expect((await cli(['get', '68656c6c6f', '--encoding', 'hex', ...ep])).out).toBe('776f726c64');

    expect((await cli(['cas', 'hello', 'world', 'there', ...ep])).code).toBe(0);
    const failed = await cli(['cas', 'hello', 'world', 'x', ...ep]);
    expect(failed.code).toBe(1);
    expect(failed.err).toMatch(/current value of hello is there/);
    expect((await cli(['cas', '--absent', 'fresh', 'v', ...ep])).code).toBe(0);
    expect(cluster.get('fresh')).toBe('v');
    expect(JSON.parse((await cli(['cas', '--absent', 'fresh', 'v2', '--json', ...ep])).out)).toEqual({
      key: 'fresh',
      succeeded: false,
      current: 'v',
    });
    expect((await cli(['cas', '--delete', 'fresh', 'v', ...ep])).code).toBe(0);
    expect(cluster.get('fresh')).toBeUndefined();

    for (const k of ['a1', 'a2', 'a3', 'b1']) await cli(['put', k, `v-${k}`, ...ep]);
    expect((await cli(['scan', 'a', 'b', ...ep])).out).toBe('a1\tv-a1\na2\tv-a2\na3\tv-a3');
    expect(JSON.parse((await cli(['scan', '--limit', '2', '--keys-only', '--json', ...ep])).out)).toEqual({
      count: 2,
      items: [{ key: 'a1' }, { key: 'a2' }],
    });

    expect((await cli(['del', 'a1', ...ep])).out).toBe('deleted');
    expect((await cli(['del', 'a1', ...ep])).out).toMatch(/not found/);
  });

  it('status --json gives each group its leader and term; human output is a table', async () => {
    cluster = await FakeCluster.start(3);
    cluster.leaderId = 3;
    cluster.term = 7;
    const ep = ['--endpoints', cluster.endpoints().join(',')];
    const j = await cli(['status', '--json', ...ep]);
    expect(j.code).toBe(0);
    const s = JSON.parse(j.out);
    expect(s.groups).toHaveLength(1);
    expect(s.groups[0]).toMatchObject({ groupId: 1, leader: 3, term: 7 });
    expect(s.groups[0].replicas.map((r: { role: string }) => r.role)).toEqual(['follower', 'follower', 'leader']);
    expect(s.nodes.every((n: { ok: boolean }) => n.ok)).toBe(true);
    const h = await cli(['status', ...ep]);
    expect(h.out).toMatch(/group 1: leader 3, term 7/);
    expect(h.out).toMatch(/NODE\s+ADDRESS\s+ROLE/);
  });

  it('member and leader commands call the admin API', async () => {
    cluster = await FakeCluster.start(3);
    const ep = ['--endpoints', cluster.endpoints().join(',')];
    expect((await cli(['member', 'add', '4', '127.0.0.1:7004', '--learner', ...ep])).code).toBe(0);
    expect((await cli(['member', 'remove', '4', ...ep])).code).toBe(0);
    expect((await cli(['member', 'add', '4', '127.0.0.1:7004', '--group', '7', ...ep])).code).toBe(0);
    expect((await cli(['member', 'remove', '4', '--group', '7', ...ep])).code).toBe(0);
    expect((await cli(['member', 'remove', '4', '--group', '0', ...ep])).code).toBe(2);
    expect((await cli(['leader', 'transfer', '2', ...ep])).out).toBe('leader is now node 2');
    expect(cluster.admin).toEqual([
      'add 4 127.0.0.1:7004 learner=true',
      'remove 4',
      'add 4 127.0.0.1:7004 learner=false group=7',
      'remove 4 group=7',
      'transfer 1 2',
    ]);
    expect((await cli(['member', 'list', '--json', ...ep])).out).toContain('"members"');
  });

  it('bench prints JSON with throughput and percentiles', async () => {
    cluster = await FakeCluster.start(1);
    const r = await cli([
      'bench',
      '--endpoints',
      cluster.endpoints()[0]!,
      '--duration-s',
      '1',
      '--concurrency',
      '4',
      '--keys',
      '50',
      '--value-bytes',
      '16',
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    for (const op of ['put', 'get']) {
      expect(j[op].ops).toBeGreaterThan(10);
      expect(j[op].errors).toBe(0);
      expect(j[op].p50Ms).toBeGreaterThan(0);
      expect(j[op].p999Ms).toBeGreaterThanOrEqual(j[op].p50Ms);
    }
    expect(j.config).toMatchObject({ concurrency: 4, valueBytes: 16, keys: 50 });
  }, 20_000);

  it('usage errors exit 2, unreachable clusters exit 3', async () => {
    expect((await cli([])).code).toBe(2);
    expect((await cli(['frobnicate'])).code).toBe(2);
    expect((await cli(['put', 'only-key'])).code).toBe(2);
    expect((await cli(['get', 'k', '--bogus'])).code).toBe(2);
    expect((await cli(['get', 'k', '--endpoints', 'nope'])).code).toBe(2);
    expect((await cli(['scan', '--limit', 'x'])).code).toBe(2);
    expect((await cli(['member', 'add', 'x', '127.0.0.1:1'])).code).toBe(2);
    expect((await cli(['--help'])).code).toBe(0);
    const down = await cli(['get', 'k', '--endpoints', '127.0.0.1:1', '--deadline-ms', '200']);
    expect(down.code).toBe(3);
    expect(down.err).toMatch(/no endpoint reachable/);
    expect((await cli(['status', '--endpoints', '127.0.0.1:1', '--json'])).code).toBe(3);
  });
});

describe('status summary', () => {
  const group = (over: Partial<GroupStatus>): GroupStatus => ({
    groupId: 1,
    leader: 0,
    term: 1,
    role: 'follower',
    commit: 0,
    applied: 0,
    firstIndex: 0,
    lastIndex: 0,
    members: [],
    start: Buffer.alloc(0),
    end: Buffer.alloc(0),
    ...over,
  });
  const node = (id: number, groups: GroupStatus[]): EndpointStatus => ({
    endpoint: `h:${id}`,
    ok: true,
    status: { nodeId: id, address: `h:${id}`, peerAddress: '', version: 'v', groups },
  });

  it('takes the leader from the newest term, preferring the node that says it leads', () => {
    const s = summarize([
      node(1, [group({ term: 5, leader: 1, role: 'follower' })]), // stale view of an old leader
      node(2, [group({ term: 6, leader: 3 })]),
      node(3, [
        group({ term: 6, leader: 3, role: 'leader', members: [{ id: 1, address: 'h:1', voter: true, match: 9 }] }),
      ]),
      { endpoint: 'h:4', ok: false, error: new TesseraError('UNAVAILABLE', 'down') },
    ]);
    expect(s.groups[0]).toMatchObject({ groupId: 1, leader: 3, term: 6 });
    expect(s.groups[0]!.members).toHaveLength(1);
    expect(s.nodes.map((n) => n.ok)).toEqual([true, true, true, false]);
  });

  it('reports leader 0 when no replica knows one', () => {
    const s = summarize([node(1, [group({ term: 3, role: 'candidate' })]), node(2, [group({ term: 2, leader: 1 })])]);
    expect(s.groups[0]).toMatchObject({ leader: 0, term: 3 });
  });
});
