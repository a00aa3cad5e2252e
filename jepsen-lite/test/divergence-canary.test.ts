// Canary of the replica-divergence check on real nodes (dist/cmd/tessera.js, built by `npm test`): a
// 3-node cluster holds the same data everywhere (the check passes); then node 3 is stopped, one value in
// its LevelDB is changed behind Raft's back (a well-formed record, so nothing but a comparison can see it),
// and it is restarted at the same applied index: the check must fail, naming node 3 and the index.
// Ports: a free block found by binding each port.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ClassicLevel } from 'classic-level';
import { Client } from '../../src/client';
import { dataKey, encodeValueRecord } from '../../src/codec';
import { checkDivergence } from '../checker/divergence';
import { Cluster } from '../cluster/cluster';
import { repoRoot } from '../cluster/repo-root';
import { freePortBlock } from '../net/free-ports';
import { portsPerRun } from '../net/ports';

const out = mkdtempSync(join(tmpdir(), 'jl-div-canary-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('passes on equal replicas and fails once a stopped replica had one value changed on disk', async () => {
  const root = repoRoot();
  const cluster = new Cluster({
    plan: { nodes: 3, basePort: await freePortBlock(portsPerRun(3)) },
    outDir: out,
    command: [process.execPath, join(root, 'dist', 'cmd', 'tessera.js')],
    nodeArgs: [],
    cwd: root,
    now: () => performance.now(),
  });
  try {
    await cluster.start();
    expect(await cluster.waitForLeader(60_000)).not.toBeNull();
    const client = new Client({ endpoints: cluster.network.clientEndpoints(), deadlineMs: 5000 });
    try {
      for (let i = 0; i < 20; i++) await client.put(Buffer.from(`jl/r/k${i}`), Buffer.from(`v${i}`));
    } finally {
      await client.close();
    }
    const opts = { budgetMs: 30_000, intervalMs: 250 };
    const before = await checkDivergence(cluster, opts);
    expect(before.summary).toMatch(/^nodes 1,2,3 identical at applied index \d+ \(20 keys/);
    expect(before.valid).toBe(true);

    await cluster.kill([3]);
    const db = new ClassicLevel<Buffer, Buffer>(join(out, 'nodes', 'n3', 'data', 'db'), {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
    });
    await db.open();
    const key = Buffer.from('jl/r/k7');
    await db.put(dataKey(key), encodeValueRecord(key, Buffer.from('tampered')));
    await db.close();
    cluster.restart([3]);

    const after = await checkDivergence(cluster, opts);
    expect(after.valid).toBe(false);
    expect(after.summary).toMatch(/^DIVERGED at applied index \d+: nodes 1,2 hold 20 keys .* vs nodes 3 hold 20 keys/);
  } finally {
    await cluster.stop();
  }
}, 120_000);
