/**
 * Many-shards benchmark (issue 10, "Many groups per node must stay cheap"; not a test): starts a 3-node
 * cluster of real processes (test/integration/cluster.ts; `npm run build` first), splits the keyspace into
 * N shards through the SDK (Client.splitShard at N-1 keys), lets the leader balancer spread the leaders,
 * then prints:
 *   - each node's CPU use (% of one core, from /proc/<pid>/stat) over --idle-s seconds with no requests;
 *   - after kill -9 of one node, the time until every shard has a leader again (polled through Status of
 *     the two others) and how many shards had lost theirs.
 * Every loop is bounded; the processes are killed by PID.
 *   npx tsx scripts/bench-many-shards.ts [--shards 1000] [--idle-s 10] [-- extra node flags...]
 * With TESSERA_IT_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR" each node writes a V8 CPU profile (the nodes are
 * stopped with SIGTERM after the idle window instead of the kill -9 measurement).
 */
import { readFileSync } from 'node:fs';
import { TestCluster, serverBuilt } from '../test/integration/cluster';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const shards = arg('shards', 1000);
const idleS = arg('idle-s', 10);
const dashDash = process.argv.indexOf('--');
const extra = dashDash >= 0 ? process.argv.slice(dashDash + 1) : [];
const CLOCK_TICKS_PER_S = 100;

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function split(cluster: TestCluster): Promise<void> {
  const client = cluster.client({ deadlineMs: 30_000 });
  const t0 = Date.now();
  for (let i = 1; i < shards; i++) {
    const key = `k/${String(i).padStart(6, '0')}`;
    await client.splitShard(key);
    if (i % 100 === 0) console.log(`  ${i + 1} shards after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  console.log(`split into ${shards} shards in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await client.close();
}

async function leaderless(cluster: TestCluster, alive: number[]): Promise<number> {
  const client = cluster.client();
  let worst = Number.POSITIVE_INFINITY;
  for (const id of alive) {
    try {
      const st = await client.status({ endpoint: cluster.address(id), deadlineMs: 5000 });
      const data = st.groups.filter((g) => g.kind !== 'meta');
      worst = Math.min(
        worst,
        data.filter((g) => g.leader === 0 || g.leader === cluster.ids.find((x) => !alive.includes(x))).length,
      );
    } catch {
      // not answering right now
    }
  }
  await client.close();
  return worst;
}

/** Which node leads the meta shard (it runs the placement driver) and how many data shards each leads. */
async function leadersPerNode(cluster: TestCluster): Promise<string> {
  const client = cluster.client();
  try {
    const st = await client.status({ endpoint: cluster.address(cluster.ids[0]!), deadlineMs: 5000 });
    const meta = st.groups.find((g) => g.kind === 'meta')?.leader ?? 0;
    const led = cluster.ids.map((id) => st.groups.filter((g) => g.kind !== 'meta' && g.leader === id).length);
    return `meta leader n${meta}, data shards led ${led.map((n, i) => `n${cluster.ids[i]} ${n}`).join(', ')}`;
  } catch (e) {
    return `leaders unknown (${(e as Error).message})`;
  } finally {
    await client.close();
  }
}

async function main(): Promise<void> {
  if (!serverBuilt()) throw new Error('run `npm run build` first');
  const cluster = await TestCluster.start({ nodeArgs: ['--split-max-keys', '0', ...extra], logLevel: 'warn' });
  try {
    await cluster.waitForLeader();
    await split(cluster);
    await sleep(15_000); // leader balancing: two moves per node every 2 s
    const pids = cluster.ids.map((id) => cluster.pid(id) as number);
    const before = pids.map(cpuSeconds);
    const t0 = Date.now();
    await sleep(idleS * 1000);
    const elapsedS = (Date.now() - t0) / 1000;
    const cpu = pids.map((pid, i) => ((cpuSeconds(pid) - before[i]!) / elapsedS) * 100);
    console.log(
      `idle CPU per node over ${elapsedS.toFixed(1)} s with ${shards} shards: ${cpu.map((c, i) => `n${cluster.ids[i]} ${c.toFixed(1)}%`).join(', ')} of one core; ${await leadersPerNode(cluster)}`,
    );
    if ((process.env.TESSERA_IT_NODE_FLAGS ?? '').includes('--cpu-prof')) {
      // Profiling (test/integration/cluster.ts TESSERA_IT_NODE_FLAGS): a node writes its profile only when it
      // exits by itself, so stop them all with SIGTERM (no kill -9 measurement in this mode). The idle window
      // ends at the first line the nodes log after it (the graceful stop's).
      console.log(
        `idle window ended at ${new Date().toISOString()}; stopping the nodes with SIGTERM for their profiles`,
      );
      for (const id of cluster.ids) await cluster.kill(id, 'SIGTERM', 60_000);
      return;
    }
    const victim = cluster.ids[0]!;
    const alive = cluster.ids.filter((id) => id !== victim);
    const lost = await leaderless(cluster, alive);
    const k0 = Date.now();
    await cluster.kill(victim, 'SIGKILL');
    let left = Number.POSITIVE_INFINITY;
    while (Date.now() - k0 < 120_000) {
      left = await leaderless(cluster, alive);
      if (left === 0) break;
      await sleep(100);
    }
    console.log(
      `kill -9 node ${victim}: ${left === 0 ? `every shard had a leader again after ${((Date.now() - k0) / 1000).toFixed(1)} s` : `${left} shards still without a leader after 120 s`} (shards led by it or leaderless before: ${lost})`,
    );
  } finally {
    await cluster.stopAll();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
