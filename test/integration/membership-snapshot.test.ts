/**
 * Real processes (a free port block): a member that catches up by
 * snapshot past the addition of new members learns their addresses from the snapshot (issue 9, section 2).
 * Node 3 of 1-3 is down while nodes 4 and 5 are added (started with --join while AddNode waits) and the log
 * is compacted past their config entries; node 3 comes back and catches up by snapshot; then nodes 1 and 2
 * are killed. The majority {3, 4, 5} must elect a leader within a few seconds and accept writes (before the
 * fix node 3 knew no address for 4 and 5, could send them no vote, and there was no leader for 20 s and more).
 * Every wait is bounded; nodes 4 and 5 are killed by PID in afterAll.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/client';
import type { NodeStatus } from '../../src/client';
import { TestCluster, eventually, serverBuilt } from './cluster';

const AWAY = 3;
const ADDED = [4, 5];
/** Longest time {3, 4, 5} may take to elect a leader once 1 and 2 are gone (election timeout 1-2 s). */
const ELECTION_BOUND_MS = 10_000;

let cluster: TestCluster;
const clients: Client[] = [];

beforeAll(async () => {
  if (!serverBuilt()) throw new Error('integration tests need the build: run `npm run build` first');
  cluster = await TestCluster.start({
    // Membership by hand (member add): the placement driver would reconcile it to --replicas.
    nodeArgs: ['--snapshot-entries', '50', '--log-retain-entries', '5', '--placement', 'false'],
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const id of ADDED) await cluster?.kill(id); // not in cluster.ids: stopAll() does not know them
  await cluster?.stopAll();
}, 30_000);

function directClient(ids: number[], deadlineMs: number): Client {
  const c = new Client({ endpoints: ids.map((id) => cluster.address(id)), deadlineMs, discover: false });
  clients.push(c);
  return c;
}

const statusClients = new Map<number, Client>();

/** Group 1 as node `id` sees it (one attempt, 1 s). */
async function statusOf(id: number): Promise<NodeStatus['groups'][number]> {
  let c = statusClients.get(id);
  if (c === undefined) statusClients.set(id, (c = directClient([id], 1000)));
  return (await c.status({ endpoint: cluster.address(id) })).groups[0]!;
}

/** Polls the Status of `ids` until one of them reports itself leader (bounded); its id and the time it took. */
async function leaderAmong(ids: number[], timeoutMs: number): Promise<{ leader: number; tookMs: number }> {
  const start = Date.now();
  let last = '';
  while (Date.now() - start < timeoutMs) {
    const seen = await Promise.all(ids.map((id) => statusOf(id).catch(() => null)));
    last = seen.map((g, i) => `${ids[i]}:${g === null ? 'down' : `${g.role}@${g.term}`}`).join(' ');
    const leader = seen.findIndex((g) => g !== null && g.role === 'leader');
    if (leader >= 0) return { leader: ids[leader]!, tookMs: Date.now() - start };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no leader among ${ids.join(',')} within ${timeoutMs} ms (last: ${last})\n${cluster.recentLogs(15)}`);
}

describe('membership across a snapshot (real processes)', () => {
  it('a member that caught up by snapshot past the addition of nodes 4 and 5 can elect a leader with them', async () => {
    const client = cluster.client({ deadlineMs: 10_000 });
    await client.put('ms/before', '1');
    const awayLastIndex = (await statusOf(AWAY)).lastIndex;
    await cluster.kill(AWAY);
    await cluster.waitForLeader(20_000, AWAY);

    // Nodes 4 and 5 join while node 3 is away: AddNode adds each as a learner and promotes it once caught up.
    const admin = directClient([1, 2], 30_000);
    for (const id of ADDED) {
      const adding = admin.addNode(id, cluster.address(id), { deadlineMs: 30_000 });
      cluster.startNode(id, ['--join']);
      const members = await adding;
      expect(members.find((m) => m.id === id)).toMatchObject({ address: cluster.address(id), voter: true });
    }
    const addedAt = (await statusOf((await cluster.waitForLeader(20_000, AWAY)).leader)).commit;
    expect(addedAt).toBeGreaterThan(awayLastIndex);

    // Enough writes that every live node compacts past the config entries that added 4 and 5.
    const keys = 300;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys) {
        const i = next++;
        await client.put(`ms/${String(i).padStart(4, '0')}`, `v${i}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    await eventually('nodes 1, 2, 4 and 5 compacted past the additions', 20_000, async () => {
      const firsts = await Promise.all([1, 2, ...ADDED].map(async (id) => (await statusOf(id)).firstIndex));
      return firsts.every((f) => f > addedAt + 1);
    });

    // Node 3 comes back and can only catch up by snapshot.
    cluster.startNode(AWAY);
    const target = (await statusOf((await cluster.waitForLeader(20_000)).leader)).commit;
    await eventually('node 3 caught up by snapshot', 30_000, async () => {
      const g = await statusOf(AWAY);
      return g.firstIndex > addedAt && g.applied >= target && g.members.filter((m) => m.voter).length === 5;
    });

    // Leadership on 1 or 2, so that killing them forces an election among {3, 4, 5}.
    const { leader } = await cluster.waitForLeader(20_000);
    if (leader !== 1 && leader !== 2) {
      await client.transferLeader(1, { deadlineMs: 10_000 });
      await eventually('node 1 leads', 10_000, async () => (await statusOf(1)).role === 'leader');
    }
    await Promise.all([cluster.kill(1), cluster.kill(2)]);

    const elected = await leaderAmong([AWAY, ...ADDED], ELECTION_BOUND_MS);
    expect(elected.tookMs).toBeLessThan(ELECTION_BOUND_MS);
    const survivors = directClient([AWAY, ...ADDED], 10_000);
    await survivors.put('ms/after', 'majority of 3, 4, 5');
    expect((await survivors.get('ms/after'))?.toString()).toBe('majority of 3, 4, 5');
    expect((await survivors.get(`ms/${String(keys - 1).padStart(4, '0')}`))?.toString()).toBe(`v${keys - 1}`);
  }, 150_000);
});
