/**
 * Failover benchmark (not a test): starts a 3-node cluster of real processes on 127.0.0.1 (gRPC
 * basePort+1..3, default 7301-7303), keeps writers running through the SDK, and --kills times kills the
 * leader with SIGKILL (restarting it after each measurement). For each kill it measures the time from the
 * kill to the first successful write issued after the kill, and prints JSON with every sample and the
 * median, min and max. Bounded: each kill waits at most --timeout-s for a write to succeed.
 *
 *   npx tsc -p tsconfig.build.json && npx tsx scripts/bench-failover.ts [--kills 10] [--writers 4]
 *       [--base-port 7300] [--node-args "--election-ms 1000"] [--timeout-s 15]
 */
import { parseArgs } from 'node:util';
import { TestCluster, eventually, serverBuilt } from '../test/integration/cluster';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kills: { type: 'string', default: '10' },
      writers: { type: 'string', default: '4' },
      'base-port': { type: 'string', default: '7300' },
      'node-args': { type: 'string', default: '' },
      'timeout-s': { type: 'string', default: '15' },
    },
    strict: true,
  });
  const kills = Number(values.kills);
  const writers = Number(values.writers);
  const basePort = Number(values['base-port']);
  const timeoutMs = Number(values['timeout-s']) * 1000;
  for (const [name, n] of Object.entries({ kills, writers, basePort, timeoutMs })) {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name}: a positive integer is required`);
  }
  if (!serverBuilt()) throw new Error('build first: npx tsc -p tsconfig.build.json');
  const nodeArgs = String(values['node-args']).split(/\s+/).filter((s) => s.length > 0);

  const cluster = await TestCluster.start({ basePort, nodeArgs, logLevel: 'warn' });
  const client = cluster.client({ deadlineMs: timeoutMs });
  const probe = cluster.client({ deadlineMs: 1000 });
  const samples: number[] = [];
  const electedSamples: number[] = [];
  let ok = 0;
  let failed = 0;
  let running = true;
  // completion times of writes, with their start times, for the measurement window
  let killAt = Number.POSITIVE_INFINITY;
  let firstAfterKill: number | null = null;
  let seq = 0;
  const writer = async (w: number): Promise<void> => {
    while (running) {
      const startedAt = performance.now();
      try {
        await client.put(`failover/${w}/${seq++ % 1000}`, `v${seq}`);
        ok++;
        const doneAt = performance.now();
        if (startedAt >= killAt && firstAfterKill === null) firstAfterKill = doneAt;
      } catch {
        failed++;
      }
    }
  };
  const writerDone = Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
  try {
    for (let k = 0; k < kills; k++) {
      const { leader, term } = await cluster.waitForLeader(30_000);
      await new Promise((r) => setTimeout(r, 1000)); // steady state
      firstAfterKill = null;
      const pid = cluster.pid(leader)!;
      killAt = performance.now();
      process.kill(pid, 'SIGKILL');
      // When does a survivor call itself leader? (polled every 20 ms: the SDK's share is the rest)
      let electedAt: number | null = null;
      const survivors = cluster.ids.filter((id) => id !== leader);
      await eventually('a new leader and a write after the kill', timeoutMs, async () => {
        if (electedAt === null) {
          const views = await Promise.all(survivors.map((id) => probe.status({ endpoint: cluster.address(id), deadlineMs: 200 }).catch(() => null)));
          if (views.some((v) => v !== null && v.groups[0]?.role === 'leader' && v.groups[0].term > term)) electedAt = performance.now();
        }
        return electedAt !== null && firstAfterKill !== null;
      }, 20);
      const ms = Math.round((firstAfterKill! - killAt) * 10) / 10;
      const electedMs = Math.round((Math.min(electedAt!, firstAfterKill!) - killAt) * 10) / 10;
      samples.push(ms);
      electedSamples.push(electedMs);
      process.stderr.write(`kill ${k + 1}/${kills}: leader ${leader} (term ${term}) -> new leader seen after ~${electedMs} ms, first write after ${ms} ms\n`);
      killAt = Number.POSITIVE_INFINITY;
      await cluster.kill(leader, 'SIGKILL'); // reap it
      cluster.startNode(leader);
      await eventually(`node ${leader} back`, 30_000, async () => {
        const s = await client.status({ endpoint: cluster.address(leader), deadlineMs: 1000 });
        return s.groups.length > 0 && s.groups[0]!.leader > 0;
      });
    }
  } finally {
    running = false;
    await writerDone;
    await cluster.stopAll();
  }
  process.stdout.write(
    JSON.stringify(
      {
        kills,
        writers,
        nodeArgs,
        failoverMs: samples,
        medianMs: median(samples),
        electedMs: electedSamples,
        medianElectedMs: median(electedSamples),
        minMs: Math.min(...samples),
        maxMs: Math.max(...samples),
        writesOk: ok,
        writesFailed: failed,
      },
      null,
      2,
    ) + '\n',
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`bench-failover: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
