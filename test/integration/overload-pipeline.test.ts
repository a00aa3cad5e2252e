/**
 * Issue 9 §4, real processes: a client that opens a KV.Pipeline stream to the leader, sends thousands of
 * gets of large values and never reads a response. Before the fix the leader read every request and
 * queued every response (it grew to 3 GB, and bystanders failed); now it stops reading the stream once its
 * responses are not drained and refuses what passes the node budget, so its RSS stays under the memory
 * budget, the leadership does not change, and a bystander client keeps working.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, TestCluster, serverBuilt } from './cluster';
import { metricOf, rssOf, runBystander, sampleRss } from './overload-probes';

const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

const BUDGET_MIB = 256;
const VALUE_BYTES = 512 * 1024;
const KEYS = 8;
/** Gets sent by the abusive client: 3,000 x 512 KiB = 1.5 GiB of responses if the node queued them all. */
const GETS = 3000;

let cluster: TestCluster;

beforeAll(async () => {
  if (!serverBuilt())
    throw new Error('integration tests need the build: run `npx tsc -p tsconfig.build.json` (npm test does)');
  cluster = await TestCluster.start({ nodeArgs: ['--memory-budget-mib', String(BUDGET_MIB)], logLevel: 'warn' });
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
}, 30_000);

describe('a Pipeline client that never reads', () => {
  it('leaves the leader within its memory budget, in office, and serving a bystander', async () => {
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
    const attacker = spawn(
      TSX,
      [join(__dirname, 'overload-attacker.ts'), cluster.address(leader), String(GETS), String(KEYS), '30000'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the attacker did not send within 20 s')), 20_000);
        attacker.stdout?.on('data', (d: Buffer) => {
          if (d.toString().includes('sent')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      await new Promise((r) => setTimeout(r, 8000)); // the node serves what it read meanwhile
    } finally {
      stopAttack();
      attacker.kill('SIGKILL');
    }
    const report = await bystander;
    const peakBytes = rss.stop();
    const lateTicks = await metricOf(cluster.httpPort(leader), 'tessera_raft_tick_late_total');
    const follower = cluster.ids.find((id) => id !== leader) as number;
    // A follower shares the machine but not the attack: its late ticks are the machine's own stalls.
    const followerLateTicks = await metricOf(cluster.httpPort(follower), 'tessera_raft_tick_late_total');

    const after = await cluster.waitForLeader();
    console.log(
      `never-reading Pipeline: leader RSS baseline ${(baseline / 2 ** 20).toFixed(0)} MiB, peak ${(peakBytes / 2 ** 20).toFixed(0)} MiB ` +
        `(budget ${BUDGET_MIB} MiB); bystander ${report.calls} calls, ${report.failures.length} failed, ` +
        `p99 ${report.p99Ms.toFixed(1)} ms, late ticks ${lateTicks} (a follower: ${followerLateTicks}), max ${report.maxMs.toFixed(1)} ms; latencies ${report.latenciesMs.map((x) => x.toFixed(0)).join(' ')}`,
    );
    expect(peakBytes).toBeLessThan(BUDGET_MIB * 2 ** 20);
    expect(after).toEqual({ leader, term });
    expect(lateTicks).toBeLessThanOrEqual(followerLateTicks + 2); // no starved ticks beyond the machine's own
    expect(report.failures).toEqual([]);
    expect(report.calls).toBeGreaterThan(20);
    // Generous for a shared 2-core machine; the README figure comes from the jepsen overload suite.
    expect(report.p99Ms).toBeLessThan(1000);
  }, 60_000);
});
