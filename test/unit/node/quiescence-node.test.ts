// Quiescence on real in-process nodes (LevelDB, gRPC peers, NodeHost; harness.ts): idle data groups go
// quiet on every replica (no ticks, no heartbeats), a write wakes its group and is applied, and when the
// node leading quiet groups dies the others notice by its missing node beats, wake and elect a new leader.
import { afterEach, describe, expect, it } from 'vitest';
import type { TesseraError } from '../../../src/base';
import { metricSum } from '../../support/metric-sum';
import { TestCluster, putCommand, sleep, until } from './harness';

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

const peerMessagesSent = async (c: TestCluster): Promise<number> => {
  let total = 0;
  for (const n of c.running()) total += await metricSum(n.metrics.registry, 'tessera_peer_messages_sent_total');
  return total;
};

describe('quiet groups', () => {
  it('go quiet when idle, wake for a write, and elect a new leader when their leader node dies', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const leader = await c.waitForLeader();
    await leader.host.propose(1, putCommand('q/a', '1'));
    // Group 1 goes quiet on every replica (the meta group 2 never does).
    await until(() => c.running().every((n) => n.host.isQuiet(1)), 8000, 'group 1 quiet on every node');
    expect(c.running().every((n) => !n.host.isQuiet(2))).toBe(true);

    // A write wakes it on the leader and the followers, and is applied everywhere.
    const l = c.leader()!;
    const commitBefore = l.host.groupStatus(1).commit;
    await l.host.propose(1, putCommand('q/b', '2'));
    const commit = l.host.groupStatus(1).commit;
    expect(commit).toBeGreaterThan(commitBefore);
    await until(() => c.running().every((n) => n.host.groupStatus(1).applied >= commit), 5000, 'applied');
    await until(() => c.running().every((n) => n.host.isQuiet(1)), 8000, 'quiet again');

    // Nothing to do: the quiet group's leader sends no heartbeats (only node beats and the meta group).
    const before = await peerMessagesSent(c);
    await sleep(1000);
    const sent = (await peerMessagesSent(c)) - before;
    console.log(`peer messages in 1 s with group 1 quiet: ${sent}`);

    // The leader of the quiet group dies: the others wake when its node beats stop, and elect.
    await until(() => c.running().every((n) => n.host.isQuiet(1)) && c.leader() !== null, 8000, 'quiet again');
    const victim = c.leader()!;
    await c.stop(victim.id);
    await until(
      () => c.running().some((n) => n.host.groupStatus(1).role === 'leader'),
      15_000,
      'a new leader of group 1',
    );
    const next = c.running().find((n) => n.host.groupStatus(1).role === 'leader')!;
    for (;;) {
      try {
        await next.host.propose(1, putCommand('q/c', '3'));
        break;
      } catch (e) {
        if ((e as TesseraError).code !== 'NOT_LEADER') throw e;
        await sleep(50);
      }
    }
  }, 40_000);
});
