// Cluster process control and the proxied network against a fake node (test/fixtures/fake-node.cjs):
// start, leader lookup over Admin, kill -9 / restart, SIGSTOP / SIGCONT, a cut between node 2 and the
// leader seen through the SDK, and detection of a node that exits by itself.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client';
import { Cluster } from '../cluster/cluster';
import { NodeProcess } from '../cluster/node-process';
import { freePort, freePortBlock } from '../net/free-ports';
import { splitDrops } from '../net/grudge';
import { nodePort } from '../net/ports';

const fakeNode = [process.execPath, join(__dirname, 'fixtures', 'fake-node.cjs')];
const dirs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'jl-cluster-'));
  dirs.push(d);
  return d;
}

const now = (): number => performance.now();

async function startCluster(basePort: number, nodeArgs: string[] = []): Promise<{ cluster: Cluster; dir: string }> {
  const dir = tempDir();
  const cluster = new Cluster({
    plan: { nodes: 3, basePort },
    outDir: dir,
    command: fakeNode,
    nodeArgs,
    cwd: dir,
    now,
  });
  await cluster.start();
  cleanups.push(() => cluster.stop());
  return { cluster, dir };
}

describe('Cluster with fake nodes', () => {
  it('gives every node proxy addresses for its peers and finds the leader over Admin', async () => {
    const { cluster } = await startCluster(await freePortBlock(100));
    const peers2 = cluster.network.peersArg(2);
    expect(peers2).toContain(`2=127.0.0.1:${nodePort(cluster.network.plan, 2)}`);
    expect(peers2).not.toContain(`1=127.0.0.1:${nodePort(cluster.network.plan, 1)}`);
    expect(peers2).toContain(`1=${cluster.network.peerLink(2, 1).address}`);
    const l = await cluster.waitForLeader(10_000);
    expect(l).toMatchObject({ leader: 1, term: 1 });
  });

  it('kills -9 and restarts a node, pauses and resumes one, and logs each step', async () => {
    const { cluster, dir } = await startCluster(await freePortBlock(100));
    expect(await cluster.waitForLeader(10_000)).not.toBeNull();
    await cluster.kill([1]);
    expect(cluster.node(1).state).toBe('stopped');
    expect(await cluster.leader()).toBeNull();
    cluster.restart([1]);
    expect((await cluster.waitForLeader(10_000))?.leader).toBe(1);
    cluster.pause([2]);
    expect(cluster.node(2).state).toBe('paused');
    const st = await cluster.statuses(300);
    expect([...st.keys()].sort()).toEqual([1, 3]);
    cluster.resume([2]);
    await new Promise((r) => setTimeout(r, 50));
    expect((await cluster.statuses(2000)).has(2)).toBe(true);
    const log1 = readFileSync(join(dir, 'nodes', 'n1', 'node.log'), 'utf8');
    expect(log1).toMatch(/### jepsen-lite .* kill -9/);
    expect(log1.match(/fake node listening/g)?.length).toBe(2);
    expect(cluster.unexpectedExits()).toEqual([]);
  });

  it('a cut between node 2 and the leader fails requests sent to node 2 until healed', async () => {
    const { cluster } = await startCluster(await freePortBlock(100));
    expect(await cluster.waitForLeader(10_000)).not.toBeNull();
    const client = new Client({ endpoints: [cluster.network.clientEndpoint(2)], deadlineMs: 1500 });
    cleanups.push(() => client.close());
    await client.put('a', '1');
    cluster.network.apply({ drops: splitDrops([2], [1, 3]), mode: 'cut', delayMs: 0 });
    await expect(client.put('a', '2')).rejects.toThrow();
    cluster.network.heal();
    await client.put('a', '3');
    expect((await client.get('a'))?.toString()).toBe('3');
  });

  it('records a node that exits without being told to', async () => {
    const dir = tempDir();
    const port = await freePort();
    const p = new NodeProcess(
      {
        id: 1,
        command: fakeNode,
        args: [
          'start',
          '--id',
          '1',
          '--listen',
          `127.0.0.1:${port}`,
          '--peers',
          `1=127.0.0.1:${port}`,
          '--data-dir',
          dir,
          '--exit-after-ms',
          '200',
        ],
        logFile: join(dir, 'n1.log'),
        cwd: dir,
      },
      now,
    );
    p.start();
    cleanups.push(() => p.stop());
    const end = Date.now() + 5000;
    while (p.state !== 'stopped' && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(p.unexpectedExits).toHaveLength(1);
    expect(p.unexpectedExits[0]?.code).toBe(3);
  });
});
