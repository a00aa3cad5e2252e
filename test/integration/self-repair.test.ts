/**
 * Self-repair (issue 9, section 3): a replica whose stored value fails its check answers DATA_LOSS, then
 * repairs itself from a peer copy (src/node/self-repair.ts) and answers the right value; the replicas'
 * digests agree at the same applied index and no acknowledged write is lost. Real processes (TestCluster,
 * free ports): a node is stopped cleanly, a byte of a value record in its LevelDB is flipped (as in
 * corruption.test.ts), and the node is started again. Two cases: the damaged replica is a follower, and it
 * is the leader (it hands leadership over, then repairs as a follower).
 */
import { join } from 'node:path';
import { Level } from 'level';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/client';
import { AdminClient } from '../../jepsen-lite/cluster/admin-client';
import { TestCluster, eventually, serverBuilt } from './cluster';

let cluster: TestCluster | null = null;
const admins: AdminClient[] = [];

beforeAll(() => {
  if (!serverBuilt()) throw new Error('run `npm run build` first: integration tests start dist/cmd/tessera.js');
});
afterEach(async () => {
  for (const a of admins.splice(0)) a.close();
  await cluster?.stopAll();
  cluster = null;
});

function admin(c: TestCluster, id: number): AdminClient {
  const a = new AdminClient(c.address(id));
  admins.push(a);
  return a;
}

/** Flips the last byte of the stored value record of user key `key` in a stopped node's LevelDB. */
async function flipValueByte(c: TestCluster, id: number, key: string): Promise<void> {
  const raw = new Level<Buffer, Buffer>(join(c.dir, `n${id}`, 'db'), {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
  });
  await raw.open();
  try {
    const k = Buffer.from(`d/${key}`);
    const rec = (await raw.get(k)) as Buffer;
    rec[rec.length - 1] = (rec[rec.length - 1] as number) ^ 0x01;
    await raw.put(k, rec);
  } finally {
    await raw.close();
  }
}

/** Waits (bounded) until the node's /metrics has a line matching `line` (the page is cached briefly). */
async function expectMetric(c: TestCluster, id: number, line: RegExp): Promise<void> {
  await eventually(`node ${id} exports ${line}`, 10_000, async () => {
    const text = await (await fetch(`http://127.0.0.1:${c.httpPort(id)}/metrics`)).text();
    return text.split('\n').some((l) => line.test(l));
  });
}

async function writeKeys(client: Client, prefix: string, n: number): Promise<Map<string, string>> {
  const acked = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const k = `${prefix}/${String(i).padStart(3, '0')}`;
    await client.put(k, `v-${k}`);
    acked.set(k, `v-${k}`);
  }
  return acked;
}

/** Every replica answers every acknowledged key (stale reads on each node), and their digests agree. */
async function expectConverged(c: TestCluster, acked: Map<string, string>): Promise<void> {
  for (const id of c.ids) {
    const direct = c.client({ endpoints: [c.address(id)], deadlineMs: 3000 });
    await eventually(`node ${id} holds every acknowledged write`, 15_000, async () => {
      for (const [k, v] of acked) if ((await direct.get(k, { consistency: 'stale' }))?.toString() !== v) return false;
      return true;
    });
  }
  await eventually('the replicas agree on the digest at the same applied index', 15_000, async () => {
    const digests = await Promise.all(c.ids.map((id) => admin(c, id).digest(0)));
    const first = digests[0]!;
    return digests.every((d) => d.appliedIndex === first.appliedIndex && d.sha256 === first.sha256);
  });
}

/**
 * Writes `victim` and 50 keys, stops a follower cleanly, flips a byte of its `victim` value record, and
 * starts it again while 30 more writes go on. Returns the follower, the acknowledged writes and a client
 * that reads from the follower only.
 */
async function damageFollower(c: TestCluster, client: Client) {
  const { leader } = await c.waitForLeader();
  const id = c.ids.find((i) => i !== leader)!;
  await client.put('victim', 'good-value');
  const acked = await writeKeys(client, 'before', 50);
  acked.set('victim', 'good-value');
  const direct = c.client({ endpoints: [c.address(id)], deadlineMs: 3000 });
  await eventually(`node ${id} applied the writes`, 10_000, async () => {
    return (await direct.get('before/049', { consistency: 'stale' }))?.toString() === 'v-before/049';
  });
  await c.kill(id, 'SIGTERM');
  await flipValueByte(c, id, 'victim');
  c.startNode(id);
  // Writes go on while the node is away and back: none may be lost.
  for (const [k, v] of await writeKeys(client, 'during', 30)) acked.set(k, v);
  await eventually(`the restarted node ${id} answers`, 15_000, async () => {
    return (await direct.get('during/029', { consistency: 'stale' }))?.toString() === 'v-during/029';
  });
  return { id, acked, direct };
}

/**
 * Automatic splits off: a shard's new leader measures it by reading every value (node/auto-split.ts), which
 * finds the damage and starts the repair before the test's own read could see DATA_LOSS.
 */
const NO_AUTO_SPLIT = ['--split-max-keys', '0', '--split-max-bytes', '0'];

describe('self-repair of a replica whose stored value fails its check (3 real processes)', () => {
  it('a follower answers DATA_LOSS, repairs itself from a peer copy, then answers the right value', async () => {
    cluster = await TestCluster.start({ nodeArgs: NO_AUTO_SPLIT });
    const c = cluster;
    const client = c.client({ deadlineMs: 5000 });
    const { id: follower, acked, direct } = await damageFollower(c, client);
    await expect(direct.get('victim', { consistency: 'stale' })).rejects.toMatchObject({ code: 'CORRUPTION' });
    await expectMetric(c, follower, /^tessera_data_loss_total\{group="1"\} [1-9]/);
    await eventually('the follower repaired itself', 20_000, async () => {
      return (await direct.get('victim', { consistency: 'stale' }))?.toString() === 'good-value';
    });
    await expectMetric(c, follower, /^tessera_self_repairs_total\{group="1",outcome="ok"\} 1$/);
    await expectMetric(c, follower, /^tessera_replica_needs_repair\{group="1"\} 0$/);
    for (const [k, v] of await writeKeys(client, 'after', 20)) acked.set(k, v);
    await expectConverged(c, acked);
  }, 60_000);

  it('a leader with a bad value answers DATA_LOSS, hands leadership over, and repairs as a follower', async () => {
    cluster = await TestCluster.start({ nodeArgs: NO_AUTO_SPLIT });
    const c = cluster;
    const client = c.client({ deadlineMs: 5000 });
    const { id: victim, acked, direct } = await damageFollower(c, client);
    // Make the damaged node the leader (it has every entry: a transfer waits until it caught up).
    await eventually('the damaged node leads', 20_000, async () => {
      const { leader } = await c.waitForLeader(5000);
      if (leader === victim) return true;
      await admin(c, leader).transferLeader(1, victim, 3000);
      return (await c.waitForLeader(5000)).leader === victim;
    });
    const viaLeader = c.client({ endpoints: [c.address(victim)], deadlineMs: 3000 });
    await expect(viaLeader.get('victim')).rejects.toMatchObject({ code: 'CORRUPTION' });
    await eventually('the damaged node handed leadership over and repaired itself', 25_000, async () => {
      return (await direct.get('victim', { consistency: 'stale' }))?.toString() === 'good-value';
    });
    expect((await c.waitForLeader(10_000)).leader).not.toBe(victim);
    await expectMetric(c, victim, /^tessera_self_repairs_total\{group="1",outcome="ok"\} 1$/);
    expect((await client.get('victim'))?.toString()).toBe('good-value');
    for (const [k, v] of await writeKeys(client, 'after', 20)) acked.set(k, v);
    await expectConverged(c, acked);
  }, 60_000);
});
