// Issue 8, section 1 and 3: every finding fired once, by the hostile-client library (jepsen-lite/hostile),
// at a fresh 3-node cluster of real processes. After each attack: the key written before it is intact on
// every node, every node process still runs, a leader exists, writes still succeed, and nothing the
// attacker planted is readable; plus what the finding itself is about (an answer code, leadership that
// must not move, calls that must not reach the attacker).
// Two more cluster shapes: with --peer-listen (the client port serves no Raft at all; forgeries go to the
// peer port) and with peer mutual TLS (a cluster id stolen through AddNode is worth nothing).
// Each cluster takes a free block of ports (gRPC base+1..3, --peer-listen base+21..23, HTTP base+51..53).
// A cluster is reused by the next test of the same shape when the attack before left it as it was (the
// attack passed and is one that changes no membership, term or process: REUSABLE_AFTER); any other test
// gets a fresh cluster. The checks after every attack are the same either way. The tests are ordered so
// that the reusable attacks run before one that is not (fewer clusters), and the next test's fresh cluster
// is started while the current test waits (a spare, ports of its own): during the settle time after the
// attack, or from the start of an attack whose checks hold no timing bound (SPARE_EARLY).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it as vitestIt } from 'vitest';
import { Random } from '../../src/base';
import { deriveClusterId } from '../../src/storage';
import { TestCluster, eventually, freeClusterBasePort, serverBuilt } from './cluster';
import { makeTestCa, type TestCa } from '../support/tls-certs';
import {
  describeResult,
  runAttack,
  type AttackContext,
  type AttackName,
  type AttackResult,
} from '../../jepsen-lite/hostile/catalogue';
import { learnCluster, type NodeDoor } from '../../jepsen-lite/hostile/cluster-view';
import { expectEverywhere, plantedVisible } from '../../jepsen-lite/hostile/checks';
import { FakeNode } from '../../jepsen-lite/hostile/fake-node';
import { forgedAppendAcks } from '../../jepsen-lite/hostile/peer-forgeries';
import { bidiStream, clientStream, closeWire, peerMetadata } from '../../jepsen-lite/hostile/wire';

const BEFORE_KEY = 'hostile-it/before';
const BEFORE_VALUE = 'written-before-the-attack';
/** Node flags per test (by the attack name that starts the test's name). A low session rate (burst 10x
 * = 50) lets a few seconds of flooding reach the limit on a slow machine. */
const nodeArgsFor: Record<string, string[]> = { 'session-flood': ['--sessions-new-per-client-per-second', '5'] };
/** Tests whose name starts with these run on a cluster with --peer-listen, and with peer mutual TLS. */
const PEER_LISTEN = 'peer-listen';
const PEER_TLS = 'peer-tls';
let ca: TestCa | null = null;

let cluster: TestCluster | null = null;
let fake: FakeNode;
let ctx: AttackContext;
let fakeCallsBefore = 0;

/** The node's --peer-listen address in cluster `c`'s port block. */
const peerAddress = (c: TestCluster, id: number): string => `127.0.0.1:${c.basePort + 20 + id}`;
const doors = (c: TestCluster, peerListen: boolean): NodeDoor[] =>
  c.ids.map((id) => ({ id, clientAddress: c.address(id), peerAddress: peerListen ? peerAddress(c, id) : null }));

/** Starts the test's cluster: plain (one port), with --peer-listen, or with --peer-listen and peer mutual TLS. */
async function startCluster(name: string): Promise<{ c: TestCluster; peerListen: boolean }> {
  const peerTls = name.startsWith(PEER_TLS);
  const peerListen = peerTls || name.startsWith(PEER_LISTEN);
  const c = new TestCluster({ basePort: await freeClusterBasePort(), nodeArgs: nodeArgsFor[name] ?? [] });
  try {
    if (peerTls && !ca) ca = makeTestCa('hostile-forgery-ca');
    const peers = c.ids.map((i) => `${i}=${peerAddress(c, i)}`).join(',');
    for (const id of c.ids) {
      const extra = peerListen ? ['--peer-listen', peerAddress(c, id), '--peers', peers] : [];
      if (peerTls) {
        const cert = ca!.issue(`node-${id}`, [`node-${id}`]);
        extra.push('--peer-tls-cert', cert.cert, '--peer-tls-key', cert.key, '--peer-tls-ca', ca!.ca);
      }
      c.startNode(id, extra);
    }
    await c.waitForLeader();
  } catch (e) {
    await c.stopAll();
    throw e;
  }
  return { c, peerListen };
}

beforeAll(async () => {
  fake = new FakeNode();
  await fake.start();
});

afterAll(async () => {
  await fake.stop();
  closeWire();
  ca?.cleanup();
});

/**
 * Attacks that leave a cluster as they found it when they pass (no member added or removed, no node
 * paused or killed, no term pushed up): the next test of the same shape may reuse the cluster.
 */
const REUSABLE_AFTER = new Set([
  'install-snapshot',
  'append-undecodable',
  'append-gap',
  'ack-beyond-log',
  'snapshot-on-stream',
  'append-put',
  'garbage-rpc',
  'oversized-fields',
  'insider append-undecodable',
  'insider append-gap',
  'insider ack-beyond-log',
  'insider snapshot-on-stream',
  'insider garbage-rpc',
  'timeout-now',
  'unknown-enums',
  'long-address',
  'session-seq-reuse',
  'session-unknown-seq',
]);
/**
 * Tests whose checks hold no timing bound while the attack runs (vote-flood times writes, timeout-now
 * watches the term): the next test's cluster may start beside them from the beginning (the others start
 * it once their attack is over).
 */
const SPARE_EARLY = new Set([
  'insider vote-unsafe-term',
  'insider fake-leader-hint',
  'vote-unsafe-term',
  'fake-leader-heartbeats',
  'forged-acks',
  'add-unreachable-voters',
  'remove-below-quorum',
  'cluster-id-theft',
  'session-flood',
  'peer-listen',
  'peer-tls',
]);
/** The shape of the cluster a test needs: same shape, same node flags. */
const shapeOf = (name: string): string =>
  `${name.startsWith(PEER_TLS) ? 'tls' : name.startsWith(PEER_LISTEN) ? 'peer' : 'plain'}|${(nodeArgsFor[name] ?? []).join(' ')}`;
let clusterShape = '';
let clusterReusable = false;
let clustersStarted = 0;
/** The names of the tests (before the colon), in the order they are declared, hence run. */
const testOrder: string[] = [];
let currentTest = '';
type Started = { c: TestCluster; peerListen: boolean };
/** The next test's cluster, started ahead (ready rejects when it did not come up; then the test fails). */
let spare: { shape: string; ready: Promise<Started> } | null = null;

/** Starts the next test's cluster now when that test will not reuse the current one. */
function startSpareForNext(): void {
  const next = testOrder[testOrder.indexOf(currentTest) + 1];
  if (next === undefined || spare !== null) return;
  if (REUSABLE_AFTER.has(currentTest) && shapeOf(next) === shapeOf(currentTest)) return;
  const ready = startCluster(next);
  ready.catch(() => undefined); // awaited (and reported) by the next test's beforeEach
  spare = { shape: shapeOf(next), ready };
}

async function dropSpare(): Promise<void> {
  const s = spare;
  spare = null;
  if (s)
    await s.ready.then(
      ({ c }) => c.stopAll(),
      () => undefined,
    );
}

/** The test's cluster: the previous one when it is reusable and of the same shape, else a fresh one. */
async function clusterFor(name: string): Promise<Started> {
  const shape = shapeOf(name);
  if (
    cluster !== null &&
    clusterReusable &&
    clusterShape === shape &&
    cluster.ids.every((id) => cluster!.isRunning(id))
  ) {
    return { c: cluster, peerListen: !shape.startsWith('plain') };
  }
  await dropCluster();
  if (spare !== null && spare.shape !== shape) await dropSpare();
  const ready = spare?.ready ?? startCluster(name);
  spare = null;
  const started = await ready;
  clustersStarted++;
  clusterShape = shape;
  return started;
}

async function dropCluster(): Promise<void> {
  if (cluster) {
    for (const id of cluster.ids) if (cluster.isRunning(id)) process.kill(cluster.pid(id)!, 'SIGCONT');
    await cluster.stopAll();
  }
  cluster = null;
  clusterReusable = false;
}

beforeEach(async (test) => {
  const name = test.task.name.split(':')[0]!;
  currentTest = name;
  const { c, peerListen } = await clusterFor(name);
  cluster = c;
  clusterReusable = false; // until this test passes
  ctx = {
    doors: doors(c, peerListen),
    rng: new Random(8),
    fake,
    plantedKeys: [],
    pause: (id) => process.kill(c.pid(id)!, 'SIGSTOP'),
    resume: (id) => process.kill(c.pid(id)!, 'SIGCONT'),
    readd: async (leader, id) => {
      await c.client({ endpoints: [c.address(leader)] }).addNode(id, c.address(id));
    },
  };
  fakeCallsBefore = fake.clientCalls;
  await c.client({ deadlineMs: 5000 }).put(BEFORE_KEY, BEFORE_VALUE);
  // Every replica has it before the attack (the checks after compare against this).
  expect(await expectEverywhere(ctx.doors, BEFORE_KEY, BEFORE_VALUE, 5000)).toEqual([]);
  if (SPARE_EARLY.has(name)) startSpareForNext();
}, 60_000);

afterEach(async (test) => {
  const name = test.task.name.split(':')[0]!;
  clusterReusable = test.task.result?.state === 'pass' && REUSABLE_AFTER.has(name);
  if (!clusterReusable) await dropCluster();
}, 30_000);

afterAll(async () => {
  await dropCluster();
  await dropSpare();
  console.log(`[hostile] ${clustersStarted} clusters started for the attacks`);
}, 30_000);

/** The checks every attack must pass; failures name the node and include the nodes' last log lines. */
async function expectClusterIntact(result: AttackResult, c: TestCluster): Promise<void> {
  const report = `attack ${result.attack} on node ${result.node}: ${result.summary}\n  ${result.answers
    .map((a) => `${a.code} ${a.detail}`)
    .join('\n  ')}\n  effects: ${result.effects.join('; ') || 'none'}`;
  // Crashes after an attack may come with the next apply or election: give them a moment to happen (the
  // next test's cluster starts meanwhile when it needs a fresh one).
  startSpareForNext();
  await new Promise((r) => setTimeout(r, 1500));
  const dead = c.ids.filter((id) => !c.isRunning(id));
  expect(dead, `nodes died: ${dead.join(', ')}\n${report}\n${c.recentLogs(15)}`).toEqual([]);
  try {
    await c.waitForLeader(15_000);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${report}`);
  }
  const writer = c.client({ deadlineMs: 3000 });
  const afterKey = `hostile-it/after/${result.attack}`;
  await eventually(`a write after ${result.attack}\n${report}\n${c.recentLogs(15)}`, 15_000, async () => {
    await writer.put(afterKey, 'ok');
    return true;
  });
  const lost = await expectEverywhere(ctx.doors, BEFORE_KEY, BEFORE_VALUE, 10_000);
  expect(lost, `the key written before is not intact\n${report}\n${c.recentLogs(15)}`).toEqual([]);
  expect(await plantedVisible(ctx.doors, ctx.plantedKeys), `planted keys readable\n${report}`).toEqual([]);
  expect(fake.clientCalls - fakeCallsBefore, `SDK calls reached the attacker\n${report}`).toBe(0);
}

async function fire(name: AttackName, nodeId: number | null = null): Promise<AttackResult> {
  const r = await runAttack(name, ctx, nodeId, `${name}-it`);
  console.log(`[hostile] ${describeResult(r)}`);
  return r;
}

const codes = (r: AttackResult): string[] => r.answers.map((a) => a.code);

describe.skipIf(!serverBuilt())('hostile forgeries against a 3-node cluster', () => {
  /** Declares a test and notes its place in the order (the spare cluster is started for the next one). */
  const it = (title: string, fn: () => Promise<void>, timeoutMs: number): void => {
    testOrder.push(title.split(':')[0]!);
    vitestIt(title, fn, timeoutMs);
  };
  const peerForgeries: AttackName[] = [
    'install-snapshot',
    'append-undecodable',
    'append-gap',
    'ack-beyond-log',
    'snapshot-on-stream',
    'append-put',
    'garbage-rpc',
    'oversized-fields',
  ];
  for (const name of peerForgeries) {
    it(`${name}: no node dies, nothing is lost or planted, writes go on`, async () => {
      const r = await fire(name);
      await expectClusterIntact(r, cluster!);
    }, 90_000);
  }

  // An insider (it knows the test cluster's token, hence its id) passes the handshake: the
  // invariant-breaking messages then reach the node, which must drop them and live (DESIGN.md 9b).
  const insiderForgeries: AttackName[] = [
    'append-undecodable',
    'append-gap',
    'ack-beyond-log',
    'snapshot-on-stream',
    'garbage-rpc',
    'vote-unsafe-term', // last: it may push the term up, so the next test needs a fresh cluster
  ];
  for (const name of insiderForgeries) {
    it(`insider ${name}: past the handshake, the node drops what breaks its invariants and lives`, async () => {
      const c = cluster!;
      ctx.clusterId = deriveClusterId(c.clusterToken, new Map(c.ids.map((i) => [i, c.address(i)])));
      const r = await fire(name);
      const peerAnswer = name === 'garbage-rpc' ? r.answers.slice(-1) : r.answers;
      expect(
        peerAnswer.map((a) => a.code),
        `the forgery must pass the handshake for this test to mean anything\n${describeResult(r)}`,
      ).not.toContain('PERMISSION_DENIED');
      await expectClusterIntact(r, c);
      if (name === 'vote-unsafe-term') expect((await learnCluster(ctx.doors)).term).toBeLessThan(2 ** 48);
    }, 90_000);
  }

  it('insider fake-leader-hint: even when a member 99 claims leadership, no SDK call follows its hint to the attacker', async () => {
    const c = cluster!;
    ctx.clusterId = deriveClusterId(c.clusterToken, new Map(c.ids.map((i) => [i, c.address(i)])));
    const r = await fire('fake-leader-hint');
    await expectClusterIntact(r, c);
  }, 90_000);

  it('vote-unsafe-term: no node takes term 2^53-2, and the cluster still elects after its leader dies', async () => {
    const c = cluster!;
    const r = await fire('vote-unsafe-term');
    await new Promise((res) => setTimeout(res, 500));
    const view = await learnCluster(ctx.doors);
    expect(view.term, `term after the forged vote\n${r.summary}`).toBeLessThan(2 ** 40);
    const { leader } = await c.waitForLeader(10_000);
    // Down while the others elect (a node restarted at once may win the election again, legitimately).
    await c.kill(leader);
    await c.waitForLeader(20_000, leader);
    c.startNode(leader);
    await expectClusterIntact(r, c);
  }, 120_000);

  it('vote-flood: writes keep succeeding while forged high-term votes arrive', async () => {
    const c = cluster!;
    const writer = c.client({ deadlineMs: 3000 });
    const flood = fire('vote-flood');
    const failures: string[] = [];
    const end = Date.now() + 2500;
    for (let i = 0; Date.now() < end; i++) {
      const t0 = Date.now();
      try {
        await writer.put(`hostile-it/flood/${i}`, 'v');
        if (Date.now() - t0 > 1500) failures.push(`put ${i} took ${Date.now() - t0} ms`);
      } catch (e) {
        failures.push(`put ${i}: ${(e as Error).message}`);
      }
    }
    const r = await flood;
    expect(failures, `writes during the flood\n${r.summary}\n${c.recentLogs(10)}`).toEqual([]);
    await expectClusterIntact(r, c);
  }, 90_000);

  it('fake-leader-heartbeats: no node follows leader 99', async () => {
    const c = cluster!;
    const r = await fire('fake-leader-heartbeats');
    const view = await learnCluster(ctx.doors);
    const following99 = [...view.nodes.values()].filter((n) => n.leader === 99).map((n) => n.id);
    expect(following99, `nodes following the fake leader\n${r.summary}`).toEqual([]);
    await expectClusterIntact(r, c);
  }, 90_000);

  it('timeout-now: a forged TimeoutNow does not move leadership', async () => {
    const c = cluster!;
    const before = await c.waitForLeader(10_000);
    const r = await fire('timeout-now');
    await expectClusterIntact(r, c); // waits 1.5 s first: a TimeoutNow obeyed would have moved it by then
    const after = await c.waitForLeader(10_000);
    expect({ leader: after.leader, term: after.term }, `leadership after a forged TimeoutNow\n${r.summary}`).toEqual({
      leader: before.leader,
      term: before.term,
    });
  }, 90_000);

  it('forged-acks: a leader whose followers are paused does not commit on forged acks', async () => {
    const c = cluster!;
    const view = await learnCluster(ctx.doors);
    const leader = view.leader!;
    const followers = c.ids.filter((id) => id !== leader);
    const leaderDoor = ctx.doors.find((d) => d.id === leader)!;
    const writer = c.client({ endpoints: [c.address(leader)], deadlineMs: 3000 });
    for (const id of followers) ctx.pause!(id);
    let outcome = 'pending';
    try {
      const write = writer.put('hostile-it/acked-by-forgery', 'v').then(
        () => (outcome = 'acknowledged'),
        (e: unknown) => (outcome = `failed: ${(e as Error).message}`),
      );
      const index = async (): Promise<number> => (await learnCluster([leaderDoor])).nodes.get(leader)?.lastIndex ?? 0;
      const answers = await forgedAppendAcks(leaderDoor, view, index, 20, 100);
      await write;
      console.log(`[hostile] forged-acks -> node ${leader}: ${answers.map((a) => a.code).join(',')}; write ${outcome}`);
    } finally {
      for (const id of followers) ctx.resume!(id);
    }
    expect(outcome, 'a write acknowledged while both followers were paused').not.toBe('acknowledged');
    await expectClusterIntact(
      { attack: 'forged-acks', node: leader, answers: [], effects: [], summary: outcome, elapsedMs: 0 },
      c,
    );
  }, 90_000);

  it('unknown-enums: consistency 7 and -1 are INVALID_ARGUMENT', async () => {
    const r = await fire('unknown-enums');
    expect(codes(r), r.answers.map((a) => a.detail).join('\n')).toEqual([
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
    ]);
    await expectClusterIntact(r, cluster!);
  }, 90_000);

  it('long-address: AddNode with a 10 KiB address is INVALID_ARGUMENT', async () => {
    const r = await fire('long-address');
    expect(codes(r), r.answers.map((a) => a.detail).join('\n')).toEqual(['INVALID_ARGUMENT']);
    await expectClusterIntact(r, cluster!);
  }, 90_000);

  it('session-seq-reuse: a reused seq with a different request is INVALID_ARGUMENT', async () => {
    const r = await fire('session-seq-reuse');
    expect(codes(r), r.answers.map((a) => a.detail).join('\n')).toEqual([
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
    ]);
    await expectClusterIntact(r, cluster!);
  }, 90_000);

  it('session-unknown-seq: a write from an unknown session with seq 7 is SESSION_EXPIRED', async () => {
    const r = await fire('session-unknown-seq');
    expect(codes(r)).toEqual(['FAILED_PRECONDITION']);
    expect(r.answers[0]!.detail).toMatch(/^SESSION_EXPIRED/);
    await expectClusterIntact(r, cluster!);
  }, 90_000);

  it('add-unreachable-voters: three unreachable voters never join as voters; the cluster keeps a quorum', async () => {
    const c = cluster!;
    const r = await fire('add-unreachable-voters');
    const view = await learnCluster(ctx.doors);
    expect(
      view.voters.filter((v) => !c.ids.includes(v)),
      `voters after the attack\n${r.summary}\n${r.answers.map((a) => a.detail).join('\n')}`,
    ).toEqual([]);
    await expectClusterIntact(r, c);
  }, 90_000);

  it('remove-below-quorum: removing a live voter while another is down is refused', async () => {
    const r = await fire('remove-below-quorum');
    expect(codes(r), `${r.answers.map((a) => a.detail).join('\n')}\n${r.effects.join('\n')}`).not.toContain('OK');
    await expectClusterIntact(r, cluster!);
  }, 90_000);

  it('cluster-id-theft: a cluster id learned through an unauthenticated AddNode plants nothing', async () => {
    const r = await fire('cluster-id-theft');
    await expectClusterIntact(r, cluster!);
  }, 90_000);

  it('session-flood: new sessions from one client are rate-limited (RESOURCE_EXHAUSTED)', async () => {
    const r = await fire('session-flood');
    expect(codes(r), r.summary).toContain('RESOURCE_EXHAUSTED');
    await expectClusterIntact(r, cluster!);
  }, 90_000);

  it('peer-listen: the client port serves no Raft; forgeries at the peer port plant nothing and kill nothing', async () => {
    const c = cluster!;
    const view = await learnCluster(ctx.doors);
    const md = (): ReturnType<typeof peerMetadata> =>
      peerMetadata({ nodeId: view.leader ?? 1, clientAddress: c.address(view.leader ?? 1) });
    for (const d of ctx.doors) {
      const stream = await bidiStream(d.clientAddress, '/tessera.v1.Raft/Stream', [], {
        holdMs: 100,
        timeoutMs: 3000,
        md: md(),
      });
      const snapshot = await clientStream(d.clientAddress, '/tessera.v1.Raft/InstallSnapshot', [], 3000, md());
      expect([stream.answer.code, snapshot.answer.code], `Raft on node ${d.id}'s client port`).toEqual([
        'UNIMPLEMENTED',
        'UNIMPLEMENTED',
      ]);
    }
    const results: AttackResult[] = [];
    for (const name of [
      'install-snapshot',
      'append-put',
      'append-undecodable',
      'ack-beyond-log',
      'snapshot-on-stream',
      'vote-unsafe-term',
      'timeout-now',
      'garbage-rpc',
    ] as const) {
      results.push(await fire(name));
    }
    await expectClusterIntact(
      {
        attack: 'install-snapshot',
        node: null,
        answers: results.flatMap((r) => r.answers),
        effects: results.map((r) => describeResult(r)),
        summary: 'peer-listen forgeries',
        elapsedMs: 0,
      },
      c,
    );
  }, 120_000);

  it("peer-tls: with peer mutual TLS, AddNode at the attacker's address yields no cluster id and forgeries plant nothing", async () => {
    const seen = fake.clusterIdsSeen.size;
    const r = await fire('cluster-id-theft');
    expect(fake.clusterIdsSeen.size - seen, `cluster ids the attacker learned\n${describeResult(r)}`).toBe(0);
    await expectClusterIntact(r, cluster!);
  }, 90_000);

  it("fake-leader-hint: no SDK call reaches a forged leader 99 added at the attacker's address", async () => {
    const r = await fire('fake-leader-hint');
    await expectClusterIntact(r, cluster!);
  }, 90_000);
});
