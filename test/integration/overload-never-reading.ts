/**
 * The never-reading-client scenario of the overload tests (issue 9 §4), shared by
 * overload-pipeline.test.ts and overload-never-reading-streams.test.ts: 8 keys of 512 KiB on a 3-node cluster with a
 * memory budget; an attacker process (overload-attacker.ts) sends 3,000 gets to the leader and never reads
 * a response; a bystander client (already connected) does puts and gets meanwhile. Checks that the
 * leader's peak RSS stays under the budget, its leadership holds, its ticks are not starved beyond the
 * machine's own stalls (a follower's count), and every bystander call succeeds.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ROOT, type TestCluster } from './cluster';
import { metricOf, rssOf, runBystander, sampleRss } from './overload-probes';

const VALUE_BYTES = 512 * 1024;
const KEYS = 8;
/** 3,000 x 512 KiB = 1.5 GiB of responses if the node held them all. */
const GETS = 3000;
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

/** Starts the attacker; resolves once it wrote every request (bounded: 30 s). */
async function startAttacker(address: string, mode: 'pipeline' | 'unary') {
  const args = [join(__dirname, 'overload-attacker.ts'), address, String(GETS), String(KEYS), '30000', mode];
  const attacker = spawn(TSX, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the attacker did not send within 30 s')), 30_000);
    attacker.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('sent')) {
        clearTimeout(timer);
        resolve();
      }
    });
  }).catch((e: unknown) => {
    attacker.kill('SIGKILL');
    throw e;
  });
  return attacker;
}

export async function neverReadingClient(
  cluster: TestCluster,
  mode: 'pipeline' | 'unary',
  budgetMib: number,
  /** Runs while the attacker is connected, after the first 8 s of attack (the leader's id). */
  whileAttacking?: (leader: number) => Promise<void>,
): Promise<void> {
  const { leader, term } = await cluster.waitForLeader();
  const pid = cluster.pid(leader) as number;
  const client = cluster.client();
  const big = Buffer.alloc(VALUE_BYTES, 7);
  for (let k = 0; k < KEYS; k++) await client.put(`big/${k}`, big);
  const baseline = rssOf(pid).rssBytes;
  const rss = sampleRss(pid);
  let stopAttack!: () => void;
  const attackOver = new Promise<void>((r) => (stopAttack = r));
  const bystanderClient = cluster.client();
  await bystanderClient.put('bystander/warm', 'up'); // connected, session open: a client already running
  const bystander = runBystander(bystanderClient, 20_000, attackOver);
  try {
    const attacker = await startAttacker(cluster.address(leader), mode);
    await new Promise((r) => setTimeout(r, 8000)); // the node serves what it read meanwhile
    await whileAttacking?.(leader).catch((e: unknown) => {
      attacker.kill('SIGKILL');
      throw e;
    });
    attacker.kill('SIGKILL');
  } finally {
    stopAttack();
  }
  const report = await bystander;
  const peakBytes = rss.stop();
  const lateTicks = await metricOf(cluster.httpPort(leader), 'tessera_raft_tick_late_total');
  const follower = cluster.ids.find((id) => id !== leader) as number;
  // A follower shares the machine but not the attack: its late ticks are the machine's own stalls.
  const followerLateTicks = await metricOf(cluster.httpPort(follower), 'tessera_raft_tick_late_total');
  const after = await cluster.waitForLeader();
  const mib = (b: number) => (b / 2 ** 20).toFixed(0);
  console.log(
    `never-reading ${mode} client: leader RSS baseline ${mib(baseline)} MiB, peak ${mib(peakBytes)} MiB ` +
      `(budget ${budgetMib} MiB); bystander ${report.calls} calls, ${report.failures.length} failed, ` +
      `p99 ${report.p99Ms.toFixed(1)} ms, max ${report.maxMs.toFixed(1)} ms; late ticks ${lateTicks} ` +
      `(a follower: ${followerLateTicks})`,
  );
  expect(peakBytes).toBeLessThan(budgetMib * 2 ** 20);
  expect(after).toEqual({ leader, term });
  expect(lateTicks).toBeLessThanOrEqual(followerLateTicks + 2);
  expect(report.failures).toEqual([]);
  expect(report.calls).toBeGreaterThan(20);
  // Generous for a shared, loaded 2-core machine; the jepsen overload suite measures the p99 goal.
  expect(report.p99Ms).toBeLessThan(1000);
}

/** A sample of a node's /metrics with exactly these labels (`{reason="cap"}`, or '' for none); 0 when absent. */
export async function metricSample(httpPort: number, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}
