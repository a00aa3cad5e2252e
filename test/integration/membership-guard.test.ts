/**
 * Real processes (a free port block of 100: gRPC base+1..4, HTTP base+51..54; base+90..92 stay closed):
 * the membership safeguards of issue 8. Adding three unreachable voters used to leave 3 of 6 voters alive
 * and no leader ever again; now each joins as a learner that never catches up, is never promoted, and the
 * cluster keeps its leader and its writes. A removal that would leave fewer live voters than a quorum is
 * refused. A real node 4 started with --join and added with AddNode becomes a voter once caught up.
 * Admin calls go out raw (one attempt, no SDK retries) so each answer is the server's own.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadServices } from '../../src/client';
import { TestCluster, eventually, serverBuilt } from './cluster';

const NEW_NODE = 4;
/** Addresses inside our block where nothing listens. */
const unreachable = (): string[] => [90, 91, 92].map((p) => `127.0.0.1:${cluster.basePort + p}`);

let cluster: TestCluster;

beforeAll(async () => {
  if (!serverBuilt()) throw new Error('integration tests need the build: run `npm run build` first');
  // Membership by hand (member add/remove): the placement driver would reconcile it to --replicas.
  cluster = await TestCluster.start({ nodeArgs: ['--placement', 'false'] });
}, 60_000);

afterAll(async () => {
  await cluster?.kill(NEW_NODE); // not in cluster.ids: stopAll() does not know it
  await cluster?.stopAll();
}, 30_000);

interface Member {
  id: number;
  address: string;
  voter: boolean;
}
interface AdminResult {
  err: grpc.ServiceError | null;
  members: Member[];
}

/** One Admin call to one node, no retries. */
function admin(
  address: string,
  method: 'addNode' | 'removeNode',
  req: unknown,
  timeoutMs: number,
): Promise<AdminResult> {
  const Ctor = loadServices().Admin;
  const c = new Ctor(address, grpc.credentials.createInsecure()) as unknown as Record<
    string,
    (
      req: unknown,
      opts: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null, res: { members: Member[] } | undefined) => void,
    ) => void
  >;
  return new Promise((resolve) =>
    c[method]!.call(c, req, { deadline: Date.now() + timeoutMs }, (err, res) => {
      (c as unknown as grpc.Client).close();
      resolve({ err, members: res?.members ?? [] });
    }),
  );
}

async function leaderAddress(): Promise<string> {
  const { leader } = await cluster.waitForLeader(20_000);
  return cluster.address(leader);
}

/** The voter ids once the node answering Status shows `expected` (it may apply the last change a moment later); bounded. */
async function votersEventually(expected: number[]): Promise<number[]> {
  let ids: number[] = [];
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    ids = (await membersNow()).filter((m) => m.voter).map((m) => m.id);
    if (JSON.stringify(ids) === JSON.stringify(expected)) break;
  }
  return ids;
}

async function membersNow(): Promise<Member[]> {
  const s = await cluster.client({ deadlineMs: 3000 }).status();
  return s.groups[0]!.members.map((m) => ({ id: m.id, address: m.address, voter: m.voter }));
}

describe('membership safeguards (real processes)', () => {
  it('refuses a 10 KiB member address with INVALID_ARGUMENT', async () => {
    const r = await admin(await leaderAddress(), 'addNode', { id: 9, address: `${'a'.repeat(10 * 1024)}:1` }, 3000);
    expect(r.err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(r.err?.details).toMatch(/at most 255/);
    const wildcard = await admin(
      await leaderAddress(),
      'addNode',
      { id: 9, address: `0.0.0.0:${cluster.basePort + 99}` },
      3000,
    );
    expect(wildcard.err?.code).toBe(grpc.status.INVALID_ARGUMENT);
  }, 30_000);

  it('adding three unreachable voters leaves them learners: the cluster keeps a leader and keeps accepting writes', async () => {
    const client = cluster.client({ deadlineMs: 8000 });
    await client.put('mg/before', '1');
    for (const [i, address] of unreachable().entries()) {
      const id = 7 + i;
      const r = await admin(await leaderAddress(), 'addNode', { id, address, learner: false }, 2500);
      expect(r.err?.code).toBe(grpc.status.UNAVAILABLE);
      expect(r.err?.details).toContain(`node ${id} did not catch up`);
    }
    let members = await membersNow();
    for (
      const deadline = Date.now() + 10_000;
      members.length < 6 && Date.now() < deadline;
      await new Promise((r) => setTimeout(r, 100))
    ) {
      members = await membersNow(); // the node answering Status may apply the last addition a moment later
    }
    expect(members.filter((m) => m.voter).map((m) => m.id)).toEqual([1, 2, 3]);
    expect(members.filter((m) => !m.voter).map((m) => m.id)).toEqual([7, 8, 9]);
    // Writes go on, also once the leader is gone: 2 of the 3 voters are a quorum (the learners count for nothing).
    await client.put('mg/after-adds', '1');
    const { leader } = await cluster.waitForLeader();
    await cluster.kill(leader);
    const next = await cluster.waitForLeader(20_000, leader);
    expect(next.leader).not.toBe(leader);
    await client.put('mg/after-failover', '1');
    expect((await client.get('mg/after-failover'))?.toString()).toBe('1');
    cluster.startNode(leader);
    // Learners can always be removed (they change no quorum).
    for (const id of [7, 8, 9]) {
      const r = await admin(await leaderAddress(), 'removeNode', { id }, 5000);
      expect(r.err).toBeNull();
    }
    // Status may come from a follower that has not applied the last removal yet: wait for it (bounded).
    let ids: number[] = [];
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      ids = (await membersNow()).map((m) => m.id);
      if (ids.length === 3) break;
    }
    expect(ids).toEqual([1, 2, 3]);
  }, 90_000);

  it('refuses a removal that would leave fewer live voters than a quorum', async () => {
    const client = cluster.client({ deadlineMs: 8000 });
    await client.put('mg/quorum', '1');
    const { leader } = await cluster.waitForLeader();
    const [down, live] = cluster.ids.filter((id) => id !== leader);
    await cluster.kill(down!);
    await new Promise((r) => setTimeout(r, 2500)); // more than an election timeout (1 s): the leader stops hearing it
    // UNAVAILABLE means "retry" (e.g. the previous test's last change still settling on this leader).
    let r = await admin(cluster.address(leader), 'removeNode', { id: live! }, 5000);
    for (let i = 0; i < 20 && r.err?.code === grpc.status.UNAVAILABLE; i++) {
      await new Promise((res) => setTimeout(res, 250));
      r = await admin(cluster.address(leader), 'removeNode', { id: live! }, 5000);
    }
    expect(r.err?.code, r.err?.details).toBe(grpc.status.INVALID_ARGUMENT);
    expect(r.err?.details).toMatch(/below the quorum of 2/);
    expect((await membersNow()).filter((m) => m.voter).map((m) => m.id)).toEqual([1, 2, 3]);
    await client.put('mg/after-refusal', '1');
    cluster.startNode(down!);
    await eventually(`node ${down} is back`, 20_000, async () => {
      const s = await cluster.client({ deadlineMs: 1000 }).status({ endpoint: cluster.address(down!) });
      return s.groups[0]!.applied >= 1;
    });
  }, 60_000);

  it('a node started with --join and added with AddNode becomes a voter once it has caught up', async () => {
    const client = cluster.client({ deadlineMs: 8000 });
    for (let i = 0; i < 50; i++) await client.put(`mg/data/${i}`, `v${i}`);
    const address = cluster.address(NEW_NODE);
    // AddNode waits while the node starts and catches up as a learner, then promotes it.
    const adding = admin(await leaderAddress(), 'addNode', { id: NEW_NODE, address, learner: false }, 20_000);
    let done = false;
    void adding.finally(() => {
      done = true;
    });
    // Watch the membership meanwhile: node 4 must be seen as a learner before it is a voter.
    const watcher = cluster.client({ deadlineMs: 1000 });
    const seen: boolean[] = [];
    const watching = (async () => {
      for (let i = 0; i < 400 && !done; i++) {
        const m = await watcher.status().then(
          (s) => s.groups[0]!.members.find((x) => x.id === NEW_NODE),
          () => undefined,
        );
        if (m !== undefined && seen[seen.length - 1] !== m.voter) seen.push(m.voter);
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    cluster.startNode(NEW_NODE, ['--join']);
    const r = await adding;
    await watching;
    expect(r.err).toBeNull();
    expect(seen[0]).toBe(false); // joined as a learner (without the safeguard: a voter at once, before it ran)
    expect(r.members.find((m) => m.id === NEW_NODE)).toMatchObject({ address, voter: true });
    expect(await votersEventually([1, 2, 3, 4])).toEqual([1, 2, 3, 4]);
    const direct = cluster.client({ endpoints: [address], deadlineMs: 5000, discover: false });
    expect((await direct.get('mg/data/49', { consistency: 'stale' }))?.toString()).toBe('v49');
    await client.put('mg/with-four', '1');
    // Back to three voters: with all four live, removing one is allowed.
    const removed = await admin(await leaderAddress(), 'removeNode', { id: NEW_NODE }, 10_000);
    expect(removed.err).toBeNull();
    expect(removed.members.map((m) => m.id)).toEqual([1, 2, 3]);
    await cluster.kill(NEW_NODE);
    await client.put('mg/after-remove', '1');
  }, 90_000);
});
