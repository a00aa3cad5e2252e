/**
 * Memory benchmark (not a test): where a node's baseline memory goes under large writes. Starts a 3-node
 * cluster of real processes (test/integration/cluster.ts, `npm run build` first), writes N values of S KiB
 * with the SDK (C at a time, keys cycling over K), samples the leader's RSS from /proc every 100 ms, and
 * prints per phase: the leader's RSS and peak, its V8 heap (from /metrics), the group's in-memory log
 * (firstIndex..lastIndex) and the followers' RSS. Every loop is bounded; the processes are killed by PID.
 *   npx tsx scripts/memory-baseline.ts [--values 2000] [--kib 64] [--concurrency 16] [--keys 200]
 *                                       [--budget-mib 512] [--stop-follower] [-- extra node flags...]
 * --stop-follower: SIGSTOP one follower while writing (a follower that stops reading: the leader's
 * AppendEntries to it pile up in its outbox and HTTP/2 buffers), SIGCONT after.
 */
import { TestCluster, serverBuilt } from '../test/integration/cluster';
import { metricOf, rssOf, sampleRss } from '../test/integration/overload-probes';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const values = arg('values', 2000);
const kib = arg('kib', 64);
const concurrency = arg('concurrency', 16);
const keys = arg('keys', 200);
const budgetMib = arg('budget-mib', 512);
const stopFollower = process.argv.includes('--stop-follower');
const dashDash = process.argv.indexOf('--');
const extra = dashDash >= 0 ? process.argv.slice(dashDash + 1) : [];
const mib = (b: number): string => (b / 2 ** 20).toFixed(0);

async function report(cluster: TestCluster, leader: number, phase: string, peakBytes: number): Promise<void> {
  const pid = cluster.pid(leader) as number;
  const heap = await metricOf(cluster.httpPort(leader), 'nodejs_heap_size_used_bytes');
  const external = await metricOf(cluster.httpPort(leader), 'nodejs_external_memory_bytes');
  const status = await cluster.client().status({ endpoint: cluster.address(leader) });
  const g = status.groups[0];
  const others = cluster.ids
    .filter((id) => id !== leader)
    .map((id) => `n${id} ${mib(rssOf(cluster.pid(id) as number).rssBytes)}`);
  console.log(
    `${phase.padEnd(12)} leader RSS ${mib(rssOf(pid).rssBytes)} MiB, peak ${mib(peakBytes)} MiB, heap used ` +
      `${mib(heap)} MiB, external ${mib(external)} MiB; log ${g?.firstIndex}..${g?.lastIndex} (applied ${g?.applied}); followers RSS ${others.join(', ')} MiB`,
  );
}

async function writeAll(cluster: TestCluster): Promise<void> {
  const client = cluster.client();
  const value = Buffer.alloc(kib * 1024, 7);
  let next = 0;
  const deadline = Date.now() + 10 * 60_000;
  const worker = async (): Promise<void> => {
    while (next < values && Date.now() < deadline) {
      const i = next++;
      await client.put(`mem/${i % keys}`, value, { deadlineMs: 30_000 });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function main(): Promise<void> {
  if (!serverBuilt()) throw new Error('run `npm run build` first');
  const nodeArgs = ['--memory-budget-mib', String(budgetMib), ...extra];
  const cluster = await TestCluster.start({ nodeArgs, logLevel: 'warn' });
  try {
    const { leader } = await cluster.waitForLeader();
    const pid = cluster.pid(leader) as number;
    console.log(
      `${values} values of ${kib} KiB (${mib(values * kib * 1024)} MiB), ${concurrency} at a time, ${keys} keys; ` +
        `budget ${budgetMib} MiB; node flags: ${nodeArgs.join(' ')}`,
    );
    await report(cluster, leader, 'idle', rssOf(pid).peakBytes);
    const rss = sampleRss(pid);
    const t0 = Date.now();
    const stopped = stopFollower ? cluster.pid(cluster.ids.find((id) => id !== leader) as number) : undefined;
    if (stopped !== undefined) process.kill(stopped, 'SIGSTOP');
    try {
      await writeAll(cluster);
    } finally {
      if (stopped !== undefined) process.kill(stopped, 'SIGCONT');
    }
    const peak = rss.stop();
    await report(cluster, leader, `written (${((Date.now() - t0) / 1000).toFixed(1)} s)`, peak);
    await new Promise((r) => setTimeout(r, 5000));
    await report(cluster, leader, 'after 5 s', rssOf(pid).peakBytes);
  } finally {
    await cluster.stopAll();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
