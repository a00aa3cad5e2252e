import { describe, expect, it } from 'vitest';
import { renderStatus } from '../../../cmd/cli/admin-commands';
import { foldShardReports, printableKey, renderShardTable, renderSplit, shardJson } from '../../../cmd/cli/shard-view';
import { summarize } from '../../../cmd/cli/status-summary';
import type { EndpointStatus, ShardInfo } from '../../../src/client';

function info(id: number, start: string, end: string | null, more: Partial<ShardInfo> = {}): ShardInfo {
  return {
    id,
    start: Buffer.from(start),
    end: end === null ? null : Buffer.from(end),
    epoch: 1,
    replicas: [
      { id: 1, voter: true },
      { id: 2, voter: true },
      { id: 3, voter: false },
    ],
    leader: 1,
    keys: 0,
    bytes: 0,
    applied: 10,
    ...more,
  };
}

describe('printable keys', () => {
  it('shows printable ASCII as itself and anything else as 0x + hex', () => {
    expect(printableKey(Buffer.from('user/42'))).toBe('user/42');
    expect(printableKey(Buffer.alloc(0))).toBe('');
    expect(printableKey(Buffer.from(' ~'))).toBe(' ~');
    expect(printableKey(Buffer.from([0x00, 0xff]))).toBe('0x00ff');
    expect(printableKey(Buffer.from('a\n'))).toBe('0x610a');
    expect(printableKey(Buffer.from([0x7f]))).toBe('0x7f');
    expect(printableKey(Buffer.from('é'))).toBe('0xc3a9');
  });

  it('a printable key starting with 0x is shown in hex, so it cannot pass for another key', () => {
    expect(printableKey(Buffer.from('0x41'))).toBe('0x30783431');
    expect(printableKey(Buffer.from([0x41]))).toBe('A');
    expect(printableKey(Buffer.from('0'))).toBe('0');
  });
});

describe('shard list --json shape', () => {
  it('has exactly the documented fields in order, printable keys, and null for the last end', () => {
    const shards = [
      info(1, '', 'g', { epoch: 3, leader: 2, keys: 5, bytes: 60 }),
      info(4, 'g', null, { replicas: [{ id: 1, voter: true }], leader: 0, keys: 1, bytes: 9, applied: 99 }),
    ];
    expect(JSON.stringify({ shards: shards.map(shardJson) })).toBe(
      '{"shards":[' +
        '{"id":1,"start":"","end":"g","epoch":3,"replicas":[{"id":1,"voter":true},{"id":2,"voter":true},{"id":3,"voter":false}],"leader":2,"keys":5,"bytes":60},' +
        '{"id":4,"start":"g","end":null,"epoch":1,"replicas":[{"id":1,"voter":true}],"leader":0,"keys":1,"bytes":9}]}',
    );
    expect(shardJson(info(2, '\x01', '\xff')).start).toBe('0x01');
  });
});

describe('folding the reports of several nodes', () => {
  it('keeps one entry per shard: the newest epoch, then the most applied; a missing leader is filled from the same epoch', () => {
    const stale = [info(1, '', null, { epoch: 1, applied: 50, leader: 1, keys: 100 })];
    const b = [info(1, '', 'm', { epoch: 2, applied: 20, leader: 0, keys: 40 }), info(2, 'm', null, { epoch: 2 })];
    const c = [info(1, '', 'm', { epoch: 2, applied: 15, leader: 3, keys: 39 })];
    const folded = foldShardReports([stale, b, c]);
    expect(folded.map((s) => [s.id, s.start.toString(), s.end?.toString() ?? null, s.epoch])).toEqual([
      [1, '', 'm', 2],
      [2, 'm', null, 2],
    ]);
    expect(folded[0]).toMatchObject({ applied: 20, keys: 40, leader: 3 });
    // Order of the reports does not matter.
    expect(foldShardReports([c, b, stale])).toEqual(folded);
    // A leader hint from an older epoch is not taken.
    expect(
      foldShardReports([
        [info(5, 'x', null, { epoch: 1, leader: 2 })],
        [info(5, 'x', null, { epoch: 2, leader: 0 })],
      ])[0]!.leader,
    ).toBe(0);
  });

  it('sorts by start', () => {
    const folded = foldShardReports([[info(3, 'q', null), info(1, '', 'c')], [info(2, 'c', 'q')]]);
    expect(folded.map((s) => s.id)).toEqual([1, 2, 3]);
  });
});

describe('human output', () => {
  it('shard table: open ends, learners, unknown leader, long keys cut', () => {
    const long = 'k'.repeat(100);
    const text = renderShardTable([
      info(1, '', long, { leader: 0, keys: 7, bytes: 70 }),
      info(2, long, null, { epoch: 4, leader: 2 }),
    ]);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^ID\s+START\s+END\s+EPOCH\s+LEADER\s+REPLICAS\s+KEYS\s+BYTES$/);
    expect(lines[1]).toMatch(/^1\s+<min>\s+k{37}\.\.\.\s+1\s+none\s+1,2,3\(learner\)\s+7\s+70$/);
    expect(lines[2]).toMatch(/^2\s+k{37}\.\.\.\s+<max>\s+4\s+2\s+/);
    expect(renderShardTable([])).toBe('no shards reported');
  });

  it('split: both shards with their ranges and epochs', () => {
    const r = { left: info(1, 'a', 'j', { epoch: 5 }), right: info(9, 'j', null, { epoch: 5 }) };
    expect(renderSplit(Buffer.from('j'), r)).toBe(
      'split at j: left shard 1 [a, j) epoch 5, right shard 9 [j, <max>) epoch 5',
    );
  });

  it('status shows each data group with its key range, from its most applied replica, and the meta shard as such', () => {
    const group = (groupId: number, start: string, end: string, applied: number, kind = 'data') => ({
      groupId,
      leader: 1,
      term: 3,
      role: 'follower',
      commit: applied,
      applied,
      firstIndex: 1,
      lastIndex: applied,
      members: [{ id: 1, address: '127.0.0.1:1', voter: true, match: 0 }],
      start: Buffer.from(start),
      end: Buffer.from(end),
      kind,
    });
    const node = (nodeId: number, groups: ReturnType<typeof group>[]): EndpointStatus => ({
      endpoint: `127.0.0.1:${nodeId}`,
      ok: true,
      status: { nodeId, address: `127.0.0.1:${nodeId}`, peerAddress: '', version: 'x', groups },
    });
    const s = summarize([
      node(1, [group(1, '', '', 10), group(2, '', '', 4, 'meta'), group(3, 'm', '', 12)]), // 1 before the split
      node(2, [group(1, '', 'm', 12), group(2, '', '', 4, 'meta'), group(3, 'm', '', 12)]),
    ]);
    expect(s.groups.map((g) => [g.groupId, g.kind, g.start, g.end])).toEqual([
      [1, 'data', '', 'm'],
      [2, 'meta', '', null],
      [3, 'data', 'm', null],
    ]);
    const text = renderStatus(s);
    expect(text).toMatch(/^group 1: leader 1, term 3, range \[<min>, m\), members/m);
    expect(text).toMatch(/^group 2: leader 1, term 3, meta shard, members/m);
    expect(text).toMatch(/^group 3: leader 1, term 3, range \[m, <max>\), members/m);
  });
});
