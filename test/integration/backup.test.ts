/**
 * Backup and restore with real processes (issue 11, "Backup and restore"): a 3-node cluster split into 3
 * shards is backed up with `tessera backup` while a write load runs; the file verifies; `tessera restore`
 * seeds a fresh 3-node cluster (new data dirs, new ports, new cluster token) which starts with
 * `tessera start` and holds every key acknowledged before the backup started, with its value, and no key
 * that was never written, in the backup's 3 shards; every node of it holds the same data of each shard
 * at the same applied index, and its cluster id differs from the source's. A restore into a non-empty data dir and a restore of a damaged
 * file fail with exit 1 and write nothing.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreBackup, verifyBackup } from '../../src/backup';
import { loadServices, type Client } from '../../src/client';
import { deriveClusterId } from '../../src/storage';
import { TESSERA_JS, TestCluster, eventually, freeClusterBasePort, serverBuilt } from './cluster';

let src: TestCluster;
let dst: TestCluster | null = null;

beforeAll(async () => {
  if (!serverBuilt())
    throw new Error('integration tests need the build: run `npx tsc -p tsconfig.build.json` (npm test does)');
  src = await TestCluster.start();
}, 60_000);

afterAll(async () => {
  await dst?.stopAll();
  await src?.stopAll();
}, 30_000);

/** Runs the CLI; resolves with its exit code and output (bounded by timeoutMs: killed by PID after it). */
function cli(args: string[], timeoutMs = 30_000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TESSERA_JS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
  });
}

/** Writes new keys across the 3 shards (4 writers) until stop(); records when each was acknowledged. */
function writeLoad(client: Client): { acked: Map<string, number>; attempted: Set<string>; stop(): Promise<void> } {
  const acked = new Map<string, number>();
  const attempted = new Set<string>();
  let next = 0;
  let stopping = false;
  const writer = async (): Promise<void> => {
    while (!stopping && next < 100_000) {
      const n = next++;
      const key = `user/${String(n % 120).padStart(4, '0')}/load/${String(n).padStart(6, '0')}`;
      attempted.add(key);
      try {
        await client.put(key, `v-${key}`);
        acked.set(key, Date.now());
      } catch {
        // not acknowledged: may or may not be in the backup
      }
    }
  };
  const writers = Array.from({ length: 4 }, writer);
  return {
    acked,
    attempted,
    stop: async () => {
      stopping = true;
      await Promise.all(writers);
    },
  };
}

function digest(address: string, groupId: number): Promise<{ appliedIndex: number; keyCount: number; sha256: string }> {
  const { Admin } = loadServices();
  const c = new Admin(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    digest(req: unknown, opts: grpc.CallOptions, cb: (e: Error | null, r: unknown) => void): void;
  };
  return new Promise((resolve, reject) =>
    c.digest({ groupId }, { deadline: Date.now() + 3000 }, (e, r) => {
      c.close();
      if (e) reject(e);
      else resolve(r as { appliedIndex: number; keyCount: number; sha256: string });
    }),
  );
}

describe('tessera backup and restore', () => {
  it('backs up 3 shards under a write load and restores every acknowledged key into a new cluster', async () => {
    const client = src.client({ deadlineMs: 10_000 });
    const base = Array.from({ length: 120 }, (_, i) => `user/${String(i).padStart(4, '0')}`);
    await Promise.all(base.map((k) => client.put(k, `value-of-${k}`)));
    await client.splitShard('user/0040');
    await client.splitShard('user/0080');
    await eventually('3 shards', 10_000, async () => (await client.listShards()).length === 3);
    const load = writeLoad(client);
    await eventually('some load acknowledged', 10_000, async () => load.acked.size >= 50);
    const backupStartMs = Date.now();
    const ackedBefore = [...load.acked].filter(([, at]) => at < backupStartMs).map(([k]) => k);
    const file = join(src.dir, 'cluster.tbak');
    const backup = await cli(['backup', '--out', file, '--endpoints', src.endpoints().join(','), '--json']);
    const ackedDuring = load.acked.size;
    await load.stop();
    expect(backup.code, backup.err).toBe(0);
    expect(load.acked.size).toBeGreaterThan(ackedBefore.length); // the load ran during the backup
    console.log(`backup: ${ackedBefore.length} load keys acked before it, ${ackedDuring} when it ended`);

    const summary = JSON.parse(backup.out) as { shards: { id: number }[]; clusterId: string };
    expect(summary.shards).toHaveLength(3);
    const verified = await verifyBackup(file);
    expect(verified.header.clusterId).toBe(deriveClusterId(src.clusterToken, new Map()));
    expect(verified.header.shards.map((s) => s.start.toString())).toEqual(['', 'user/0040', 'user/0080']);
    for (const s of verified.header.shards) expect(s.applied).toBeGreaterThanOrEqual(s.readIndex);

    // A fresh cluster: new ports, new data dirs, new token.
    dst = new TestCluster({ basePort: await freeClusterBasePort() });
    const target = dst;
    const peers = target.ids.map((i) => `${i}=${target.address(i)}`).join(',');
    const restoreArgs = (id: number, dataDir: string) => [
      'restore',
      file,
      '--id',
      String(id),
      '--peers',
      peers,
      '--data-dir',
      dataDir,
      '--cluster-token',
      target.clusterToken!,
      '--json',
    ];
    // Node 1 through the CLI, nodes 2 and 3 in process (the same code), at once; a damaged copy is refused.
    const damaged = join(src.dir, 'damaged.tbak');
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0x40;
    writeFileSync(damaged, bytes);
    const freshDir = join(target.dir, 'fresh');
    const peerMap = new Map(target.ids.map((i) => [i, target.address(i)]));
    const inProcess = (id: number) =>
      restoreBackup({
        file,
        nodeId: id,
        peers: peerMap,
        dataDir: join(target.dir, `n${id}`),
        clusterToken: target.clusterToken,
      });
    const [restored, , , refused] = await Promise.all([
      cli(restoreArgs(1, join(target.dir, 'n1'))),
      inProcess(2),
      inProcess(3),
      restoreBackup({ file: damaged, nodeId: 1, peers: peerMap, dataDir: freshDir }).catch((e: Error) => e),
    ]);
    expect(restored.code, restored.err).toBe(0);
    expect(String(refused)).toMatch(/checksum mismatch/);
    expect(existsSync(freshDir)).toBe(false);
    const newId = (JSON.parse(restored.out) as { clusterId: string }).clusterId;
    expect(newId).toBe(deriveClusterId(target.clusterToken, new Map()));
    expect(newId).not.toBe(verified.header.clusterId);
    for (const id of target.ids) target.startNode(id);
    await target.waitForLeader();

    const c2 = target.client({ deadlineMs: 10_000 });
    const present = new Map<string, string>();
    await eventually('the restored cluster serves scans', 15_000, async () => {
      present.clear();
      for await (const page of c2.scan('', null, { pageLimit: 500 }))
        for (const kv of page.items) present.set(kv.key.toString(), kv.value.toString());
      return true;
    });
    for (const k of base) expect(present.get(k), k).toBe(`value-of-${k}`);
    for (const k of ackedBefore) expect(present.get(k), k).toBe(`v-${k}`);
    for (const [k, v] of present) {
      if (!k.includes('/load/')) expect(base.includes(k), k).toBe(true);
      else expect(load.attempted.has(k) && v === `v-${k}`, `${k}=${v} was never written`).toBe(true);
    }
    // Every node holds the same data at the same applied index; the cluster takes writes.
    await c2.put('after/restore', 'yes');
    expect((await c2.get('after/restore'))?.toString()).toBe('yes');
    // The backup's layout: the same 3 ranges; every shard identical on every node, at the same applied index.
    const shards = await c2.listShards();
    expect(shards.map((sh) => [sh.start.toString(), sh.end?.toString() ?? null])).toEqual([
      ['', 'user/0040'],
      ['user/0040', 'user/0080'],
      ['user/0080', null],
    ]);
    let keyCount = 0;
    for (const sh of shards) {
      await eventually(`identical replicas of shard ${sh.id}`, 10_000, async () => {
        const ds = await Promise.all(target.ids.map((id) => digest(target.address(id), sh.id)));
        const same = ds.every((d) => d.appliedIndex === ds[0]!.appliedIndex && d.sha256 === ds[0]!.sha256);
        if (same) keyCount += ds[0]!.keyCount;
        return same;
      });
    }
    expect(keyCount).toBe(present.size + 1);
    expect(readdirSync(src.dir).filter((f) => f.includes('.tbak.'))).toEqual([]); // no temporaries left
  }, 90_000);
});
