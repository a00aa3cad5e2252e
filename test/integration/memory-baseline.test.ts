/**
 * Issue 9 §4, the baseline, with real processes: large writes alone (no abusive client) must keep a node
 * under its memory budget. A 3-node cluster with a 256 MiB budget and --snapshot-bytes 8 MiB (its default
 * is an eighth of the budget; 8 MiB keeps the test short) takes 3x that bound in 256 KiB values. The leader
 * must compact by bytes (its log's first index rises, although 96 entries are far below
 * --snapshot-entries' 10,000), keep at most snapshotBytes of applied entries in its log, and its RSS must
 * stay under the budget. The bound: an idle node is ~77 MiB; the log adds at most 8 + 2 MiB, the client
 * requests in flight 2 MiB, LevelDB 2 x 2 + 4 MiB; the rest is garbage V8 has not collected yet (it
 * collects external buffers after tens of MiB of them) and what the allocator keeps: 140 to 175 MiB
 * measured on a loaded 2-core machine. Before compaction by bytes the whole 24 MiB stayed in every
 * replica's log (and before encodeCommand copied its bytes out of msgpackr's shared buffer, each entry
 * pinned megabytes on the leader: 2,000 values of 64 KiB took it to 767 MiB).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, mapConcurrent, serverBuilt } from './cluster';
import { rssOf, sampleRss } from './overload-probes';

const MIB = 1024 * 1024;
const BUDGET_MIB = 256;
const SNAPSHOT_BYTES = 8 * MIB;
const VALUE_BYTES = 256 * 1024;
/** 3x the byte bound. */
const VALUES = (3 * SNAPSHOT_BYTES) / VALUE_BYTES;

let cluster: TestCluster;

beforeAll(async () => {
  if (!serverBuilt())
    throw new Error('integration tests need the build: run `npx tsc -p tsconfig.build.json` (npm test does)');
  cluster = await TestCluster.start({
    nodeArgs: ['--memory-budget-mib', String(BUDGET_MIB), '--snapshot-bytes', String(SNAPSHOT_BYTES)],
    logLevel: 'warn',
  });
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
}, 30_000);

describe('large writes alone', () => {
  it('make the leader compact by bytes and keep it under its memory budget', async () => {
    const { leader } = await cluster.waitForLeader();
    const pid = cluster.pid(leader) as number;
    const client = cluster.client();
    const idleBytes = rssOf(pid).rssBytes;
    const rss = sampleRss(pid);
    const value = Buffer.alloc(VALUE_BYTES, 7);
    const indexes = Array.from({ length: VALUES }, (_, i) => i);
    try {
      await mapConcurrent(indexes, 8, (i) => client.put(`big/${i % 40}`, value, { deadlineMs: 30_000 }));
    } catch (e) {
      console.log(cluster.recentLogs(40));
      throw e;
    }
    const peakBytes = rss.stop();
    const status = await client.status({ endpoint: cluster.address(leader) });
    const g = status.groups[0]!;
    const heldEntries = g.applied - g.firstIndex + 1;
    console.log(
      `memory baseline: ${VALUES} values of ${VALUE_BYTES / 1024} KiB; leader RSS idle ${(idleBytes / MIB).toFixed(0)} MiB, ` +
        `peak ${(peakBytes / MIB).toFixed(0)} MiB (budget ${BUDGET_MIB} MiB); log ${g.firstIndex}..${g.lastIndex}, applied ${g.applied}`,
    );
    // Compacted by bytes: 96 entries never reach the entry bound (10,000).
    expect(g.firstIndex).toBeGreaterThan(1);
    // At most snapshotBytes of applied values stay in the log (plus the entries of one Ready).
    expect(heldEntries * VALUE_BYTES).toBeLessThanOrEqual(SNAPSHOT_BYTES + 8 * VALUE_BYTES);
    expect(peakBytes).toBeLessThan(BUDGET_MIB * MIB);
    // The followers run the same policy.
    for (const id of cluster.ids.filter((i) => i !== leader)) {
      const f = (await client.status({ endpoint: cluster.address(id) })).groups[0]!;
      expect(f.firstIndex, `node ${id}`).toBeGreaterThan(1);
    }
  }, 90_000);
});
