/**
 * The shard CLI against three in-process nodes (real LevelDB, real gRPC): `shard list --json` shows the
 * one data shard with its keys, `shard split KEY` splits it on its leader, and afterwards every node
 * reports both halves (the right-hand group on every replica of the parent), which `shard list` and
 * `status` show with their ranges (and status the meta shard as such).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../../src/client';
import { runCliCaptured } from '../cli/run-cli';
import { NodeCluster } from './node-cluster';

let cluster: NodeCluster;

beforeAll(async () => {
  cluster = await NodeCluster.start(3);
});
afterAll(async () => {
  await cluster?.close();
});

const cli = (args: string[]) => runCliCaptured([...args, '--endpoints', cluster.endpoints().join(',')]);

async function eventually<T>(what: string, fn: () => Promise<T | null>, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (let i = 0; Date.now() < until && i < 500; i++) {
    const v = await fn();
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not within ${ms} ms: ${what}`);
}

describe('tessera shard list / split on a real cluster', () => {
  it('lists the data shard with its keys, splits it, and lists both halves', async () => {
    const client = new Client({ endpoints: cluster.endpoints(), deadlineMs: 10_000 });
    try {
      for (const k of ['a', 'b', 'p', 'q', 'r']) await client.put(k, `v-${k}`);
    } finally {
      await client.close();
    }
    const before = await eventually('every replica counts 5 keys', async () => {
      const r = await cli(['shard', 'list', '--json']);
      const shards = JSON.parse(r.out).shards;
      return r.code === 0 && shards.length === 1 && shards[0].keys === 5 ? shards : null;
    });
    expect(before[0]).toMatchObject({ start: '', end: null, leader: expect.any(Number) });
    expect(before[0].replicas.map((r: { id: number }) => r.id).sort()).toEqual([1, 2, 3]);

    const split = await cli(['shard', 'split', 'm', '--deadline-ms', '10000']);
    expect(split).toMatchObject({ code: 0, err: '' });
    expect(split.out).toMatch(
      new RegExp(
        `^split at m: left shard ${before[0].id} \\[<min>, m\\) epoch \\d+, right shard \\d+ \\[m, <max>\\) epoch \\d+$`,
      ),
    );

    const after = await eventually('both halves on every replica with their keys', async () => {
      const r = await cli(['shard', 'list', '--json']);
      const shards = JSON.parse(r.out).shards;
      return shards.length === 2 && shards[0].keys === 2 && shards[1].keys === 3 ? shards : null;
    });
    expect(after.map((s: { start: string; end: string | null }) => [s.start, s.end])).toEqual([
      ['', 'm'],
      ['m', null],
    ]);
    expect(after[0].epoch).toBeGreaterThan(before[0].epoch);
    const status = await cli(['status']);
    expect(status.out).toMatch(new RegExp(`^group ${after[0].id}: .*range \\[<min>, m\\)`, 'm'));
    expect(status.out).toMatch(new RegExp(`^group ${after[1].id}: .*range \\[m, <max>\\)`, 'm'));
    expect(status.out).toMatch(/^group \d+: .*meta shard, members/m);
  });
});
