/**
 * Rolling restart under a write load (issue 11, "Rolling restarts and upgrades"), real processes: a 3-node
 * cluster takes puts from SDK workers while every node in turn gets SIGTERM (it hands its leaderships over
 * within --shutdown-drain-ms, then stops), must exit 0, and is started again on its data dir and caught up
 * before the next one. No client call may fail (the SDK's retries absorb the restarts), and every
 * acknowledged write must read back at the end. The throughput before and during the restarts is printed
 * (the README reports the dip); nothing asserts on it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../../src/client';
import { TestCluster, eventually, mapConcurrent, serverBuilt } from './cluster';

const WORKERS = 8;
/** Bound on the writes of the whole test (the load stops earlier, when the restarts are done). */
const WRITES_MAX = 200_000;
const BEFORE_MS = 2500;

let cluster: TestCluster;

beforeAll(async () => {
  if (!serverBuilt()) throw new Error('integration tests need the build: run `npm run build` first');
  cluster = await TestCluster.start({ nodeArgs: ['--shutdown-drain-ms', '3000'] });
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
}, 30_000);

/** Puts from WORKERS workers until stop() (or WRITES_MAX); records every acknowledged write and every failure. */
function writeLoad(client: Client) {
  const acked = new Map<string, string>();
  const failures: string[] = [];
  const ackTimes: number[] = [];
  let next = 0;
  let stopped = false;
  const worker = async (w: number): Promise<void> => {
    while (!stopped && next < WRITES_MAX) {
      const i = next++;
      const key = `rr/${w}/${i}`;
      const value = `v${i}`;
      try {
        await client.put(key, value);
        acked.set(key, value);
        ackTimes.push(Date.now());
      } catch (e) {
        failures.push(`${key}: ${(e as Error).message}`);
      }
    }
  };
  const done = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  return {
    acked,
    failures,
    /** Acknowledged writes per second in [from, to). */
    rate: (from: number, to: number) => (ackTimes.filter((t) => t >= from && t < to).length * 1000) / (to - from),
    /** The fewest writes acknowledged in any whole second of [from, to). */
    worstSecond: (from: number, to: number) => {
      let worst = Infinity;
      for (let t = from; t + 1000 <= to; t += 1000)
        worst = Math.min(worst, ackTimes.filter((a) => a >= t && a < t + 1000).length);
      return worst === Infinity ? 0 : worst;
    },
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/** The node answers and follows a known leader in every group, with everything it knows committed applied. */
async function caughtUp(client: Client, address: string): Promise<boolean> {
  const st = await client.status({ endpoint: address, deadlineMs: 1000 });
  return st.groups.length > 0 && st.groups.every((g) => g.leader !== 0 && g.applied >= g.commit);
}

describe('rolling restart under load', () => {
  it('restarts every node with SIGTERM: no call fails, every acknowledged write is kept', async () => {
    const client = cluster.client({ deadlineMs: 15_000 });
    const probe = cluster.client({ deadlineMs: 2000 });
    const load = writeLoad(client);
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, BEFORE_MS));
    const t1 = Date.now();
    const restarts: { id: number; downMs: number; totalMs: number }[] = [];
    for (const id of cluster.ids) {
      const start = Date.now();
      await cluster.kill(id, 'SIGTERM', 15_000);
      expect(cluster.exitCode(id), `node ${id} exit code\n${cluster.recentLogs(40)}`).toBe(0);
      const down = Date.now();
      cluster.startNode(id);
      await eventually(`node ${id} rejoined`, 20_000, () => caughtUp(probe, cluster.address(id)), 100);
      restarts.push({ id, downMs: down - start, totalMs: Date.now() - start });
    }
    const t2 = Date.now();
    await load.stop();
    const logs = cluster.recentLogs(200);
    const before = load.rate(t0, t1);
    const during = load.rate(t1, t2);
    console.log(
      `rolling restart: ${load.acked.size} writes acknowledged; throughput before ${before.toFixed(0)} ops/s, ` +
        `during restarts ${during.toFixed(0)} ops/s (${((during / Math.max(1, before)) * 100).toFixed(0)}%, ` +
        `worst second ${load.worstSecond(t1, t2)} ops), ` +
        `${WORKERS} workers; per node (SIGTERM to exit, to caught up): ` +
        restarts.map((r) => `${r.id}: ${r.downMs}/${r.totalMs} ms`).join(', '),
    );
    expect(load.failures, load.failures.slice(0, 5).join('\n')).toEqual([]);
    expect(logs).toContain('leader drain: moving leaderships off this node before it stops');
    expect(logs).not.toContain('leader drain: still leading');
    // Every acknowledged write reads back (linearizable reads, through any node).
    const wrong = (
      await mapConcurrent([...load.acked], 32, async ([k, v]) => ((await client.get(k))?.toString() === v ? null : k))
    ).filter((k) => k !== null);
    expect(wrong).toEqual([]);
    expect(load.acked.size).toBeGreaterThan(0);
  }, 90_000);
});
