/**
 * Issue 9 §4, real processes: the connection cap of the client listener (--connections-max,
 * connection-gate.ts). A 3-node cluster whose peers share the client port; an abuser opens HTTP/2
 * connections to the leader until it refuses them. Past the cap new connections are refused at once, a
 * client connected before keeps working, /healthz answers, and a follower restarted meanwhile reconnects
 * to the leader (its Raft connection gets in past the cap as a peer): the leader counts it and sees it
 * catch up; the leadership holds.
 */
import * as http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, serverBuilt } from './cluster';
import { metricSample } from './overload-never-reading';

const CONNECTIONS_MAX = 16;
/** connection-gate.ts's default probationMax. */
const PROBATION_MAX = 32;

let cluster: TestCluster;
const sessions: http2.ClientHttp2Session[] = [];

beforeAll(async () => {
  if (!serverBuilt())
    throw new Error('integration tests need the build: run `npx tsc -p tsconfig.build.json` (npm test does)');
  cluster = await TestCluster.start({ nodeArgs: ['--connections-max', String(CONNECTIONS_MAX)], logLevel: 'warn' });
}, 60_000);

afterAll(async () => {
  for (const s of sessions) s.destroy();
  await cluster?.stopAll();
}, 30_000);

/** An HTTP/2 connection: 'open' once its handshake completed, or 'refused' when the node closed it first. */
function connect(address: string): { first: Promise<'open' | 'refused'>; closed: () => boolean } {
  const session = http2.connect(`http://${address}`);
  sessions.push(session);
  session.on('error', () => undefined);
  const first = new Promise<'open' | 'refused'>((resolve) => {
    session.once('remoteSettings', () => resolve('open'));
    session.once('close', () => resolve('refused'));
    setTimeout(() => resolve('refused'), 5000);
  });
  return { first, closed: () => session.closed || session.destroyed };
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not within ${timeoutMs} ms: ${what}`);
}

describe('the connection cap', () => {
  it('refuses connections past --connections-max; clients, /healthz and Raft peers keep working', async () => {
    const { leader, term } = await cluster.waitForLeader();
    const http = cluster.httpPort(leader);
    const client = cluster.client();
    await client.put('cap/before', 'x'); // connected before the abuser
    await new Promise((r) => setTimeout(r, 1100)); // /metrics is rendered at most once a second
    const peersBefore = await metricSample(http, 'tessera_grpc_connections', '{kind="peer"}');
    expect(peersBefore).toBe(2); // the followers' Raft connections, out of the client count
    const clientsBefore = await metricSample(http, 'tessera_grpc_connections', '{kind="client"}'); // the test's clients
    const room = CONNECTIONS_MAX - clientsBefore;

    // Past the cap: PROBATION_MAX connections on probation (peers share the port), closed within 5 s
    // without a Raft call; the ones beyond, refused at once.
    const conns: ReturnType<typeof connect>[] = [];
    const outcomes: string[] = [];
    for (let i = 0; i < CONNECTIONS_MAX + PROBATION_MAX + 8; i++) {
      const c = connect(cluster.address(leader));
      conns.push(c);
      outcomes.push(await c.first);
    }
    const refusedAtOnce = outcomes.filter((o) => o === 'refused').length;
    expect(outcomes.slice(0, room)).toEqual(Array(room).fill('open'));
    expect(refusedAtOnce).toBeGreaterThanOrEqual(8);
    await new Promise((r) => setTimeout(r, 1100)); // /metrics is rendered at most once a second
    expect(await metricSample(http, 'tessera_grpc_connections', '{kind="client"}')).toBe(CONNECTIONS_MAX);
    expect(await metricSample(http, 'tessera_grpc_connections_refused_total', '{reason="cap"}')).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 6000)); // the probation (5 s) is over
    const closed = conns.filter((c) => c.closed()).length;
    console.log(
      `${conns.length} connections to the leader (cap ${CONNECTIONS_MAX}): ${refusedAtOnce} refused at once, ` +
        `${closed} closed after 6 s`,
    );
    expect(conns.slice(0, room).every((c) => !c.closed())).toBe(true);
    expect(closed).toBe(conns.length - room);
    expect(await metricSample(http, 'tessera_grpc_connections_refused_total', '{reason="probation"}')).toBeGreaterThan(
      0,
    );

    await client.put('cap/during', 'y'); // the open connection keeps working
    expect((await fetch(`http://127.0.0.1:${http}/healthz`)).status).toBe(200);

    const follower = cluster.ids.find((id) => id !== leader)!;
    await cluster.restart(follower);
    await client.put('cap/while-away', 'z');
    // The restarted follower dials the leader again, past the client cap: it gets in as a peer.
    await waitFor(
      'the restarted follower reconnects to the leader',
      async () => (await metricSample(http, 'tessera_grpc_connections', '{kind="peer"}')) === 2,
      20_000,
    );
    await waitFor(
      'the restarted follower catches up',
      async () => {
        const s = await fetch(`http://127.0.0.1:${cluster.httpPort(follower)}/healthz`).catch(() => null);
        const body = (await s?.json().catch(() => null)) as { groups?: { applied: number }[] } | null;
        const l = (await (await fetch(`http://127.0.0.1:${http}/healthz`)).json()) as { groups: { commit: number }[] };
        return (body?.groups?.[0]?.applied ?? 0) >= l.groups[0]!.commit;
      },
      20_000,
    );
    expect(await cluster.waitForLeader()).toEqual({ leader, term });
  }, 60_000);
});
