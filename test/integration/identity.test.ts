/**
 * Real processes (a free block of 100 ports: cluster X on base+1..3, HTTP base+51..53; cluster Y's
 * addresses base+21..23; single ports base+30..39): a node's identity lives in its data dir and flags cannot
 * override it (issue 8, section 2). Every refused start exits 2 with one line on stderr within 10 s and
 * writes nothing: a follower restarted with --peers listing only itself (the others keep their leader and
 * data), a data dir started with another --id, cluster X's data dir with cluster Y's peers or another
 * --cluster-token, --http on a port in use (the data dir stays empty), a data dir under a regular file,
 * one uid 65534 cannot write, /proc/nope. A restart with the original flags still works.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TESSERA_JS, TestCluster, eventually, freeClusterBasePort, serverBuilt } from './cluster';

// A free block of 100 ports (found in beforeAll): cluster X at BASE, cluster Y's addresses at BASE + 20,
// single-node ports at BASE + 30.
let BASE = 0;
let Y_BASE = 0;
let SINGLE = 0;
const REFUSAL_MS_MAX = 10_000;

let cluster: TestCluster;
let scratch: string;

beforeAll(async () => {
  if (!serverBuilt()) throw new Error('integration tests need the build: run `npm run build` first');
  BASE = await freeClusterBasePort();
  Y_BASE = BASE + 20;
  SINGLE = BASE + 30;
  cluster = await TestCluster.start({ basePort: BASE });
  scratch = mkdtempSync(join(tmpdir(), 'tessera-identity-'));
  chmodSync(scratch, 0o755);
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}, 30_000);

interface Outcome {
  code: number | null;
  stderr: string;
  stdout: string;
  ms: number;
}

/** Runs `tessera start` to its exit (killed after 20 s, which fails the expectations below). */
function runStart(args: string[], options: { uid?: number; gid?: number } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [TESSERA_JS, 'start', '--log-level', 'warn', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...options,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** Exit 2, one line on stderr matching `line`, within REFUSAL_MS_MAX. */
function expectRefused(o: Outcome, line: RegExp): void {
  const lines = o.stderr.split('\n').filter((l) => l.trim() !== '');
  expect({ code: o.code, lines }).toMatchObject({ code: 2, lines: [expect.stringMatching(line)] });
  expect(lines).toHaveLength(1);
  expect(o.stderr).not.toMatch(/\n\s+at /);
  expect(o.ms).toBeLessThan(REFUSAL_MS_MAX);
}

const peersOf = (base: number) => [1, 2, 3].map((i) => `${i}=127.0.0.1:${base + i}`).join(',');

/** Every record of a data dir's LevelDB (opened while no node runs): a refused start must leave them unchanged. */
async function recordsOf(dir: string): Promise<string> {
  const db = new Level<Buffer, Buffer>(join(dir, 'db'), {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
    createIfMissing: false,
  });
  await db.open();
  const hash = createHash('sha256');
  let n = 0;
  try {
    for await (const [k, v] of db.iterator()) {
      hash
        .update(k)
        .update(Buffer.from([0]))
        .update(v)
        .update(Buffer.from([1]));
      n++;
    }
  } finally {
    await db.close();
  }
  return `${n} records, sha256 ${hash.digest('hex')}`;
}

function holdPort(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

describe('node identity and flags', () => {
  it('refuses a follower restarted with --peers listing only itself; the others keep their leader and data; the original flags still work', async () => {
    const { leader } = await cluster.waitForLeader();
    const client = cluster.client({ deadlineMs: 5000 });
    for (let i = 0; i < 20; i++) await client.put(`k${i}`, `v${i}`);
    const follower = cluster.ids.find((id) => id !== leader)!;
    await cluster.kill(follower, 'SIGTERM');
    const dir = join(cluster.dir, `n${follower}`);
    const before = await recordsOf(dir);

    const alone = await runStart([
      '--id',
      String(follower),
      '--listen',
      cluster.address(follower),
      '--peers',
      `${follower}=${cluster.address(follower)}`,
      '--data-dir',
      dir,
    ]);
    expectRefused(
      alone,
      new RegExp(`data dir ${dir}: it holds group 1 with members 1,2,3 .*but --peers lists ${follower};`),
    );
    expect(await recordsOf(dir)).toBe(before);

    // The majority keeps its leader, its data and its writes.
    expect((await cluster.waitForLeader(10_000)).leader).toBe(leader);
    expect((await client.get('k7'))?.toString()).toBe('v7');
    await client.put('after', 'refusal');

    // A normal restart with the original flags rejoins and catches up.
    cluster.startNode(follower);
    const direct = cluster.client({ endpoints: [cluster.address(follower)], deadlineMs: 3000 });
    await eventually(
      'the restarted follower serves the data',
      20_000,
      async () => (await direct.get('after', { consistency: 'stale' }))?.toString() === 'refusal',
    );
    expect((await cluster.waitForLeader()).leader).toBeGreaterThan(0);
  }, 90_000);

  it("refuses a data dir started with another --id, and another cluster's peers or token", async () => {
    const { leader } = await cluster.waitForLeader();
    const follower = cluster.ids.find((id) => id !== leader)!;
    await cluster.kill(follower, 'SIGTERM');
    const dir = join(cluster.dir, `n${follower}`);
    const before = await recordsOf(dir);
    try {
      const other = await runStart([
        '--id',
        '9',
        '--listen',
        `127.0.0.1:${SINGLE}`,
        '--peers',
        `9=127.0.0.1:${SINGLE}`,
        '--data-dir',
        dir,
      ]);
      expectRefused(other, new RegExp(`data dir ${dir} holds node ${follower}'s data, but --id is 9`));

      const yPeers = await runStart([
        '--id',
        String(follower),
        '--listen',
        `127.0.0.1:${Y_BASE + follower}`,
        '--peers',
        peersOf(Y_BASE),
        '--data-dir',
        dir,
      ]);
      expectRefused(
        yPeers,
        new RegExp(
          `data dir ${dir}: it knows member 1 at 127\\.0\\.0\\.1:${BASE + 1}, but --peers gives 1=127\\.0\\.0\\.1:${Y_BASE + 1};`,
        ),
      );

      const yToken = await runStart([
        '--id',
        String(follower),
        '--listen',
        cluster.address(follower),
        '--peers',
        peersOf(BASE),
        '--data-dir',
        dir,
        '--cluster-token',
        'cluster-y',
      ]);
      expectRefused(
        yToken,
        new RegExp(
          `data dir ${dir} belongs to cluster [0-9a-f]{8}\\.\\.\\., but --cluster-token names cluster [0-9a-f]{8}\\.\\.\\.`,
        ),
      );
      expect(await recordsOf(dir)).toBe(before);
    } finally {
      cluster.startNode(follower);
    }
    await cluster.waitForLeader();
  }, 60_000);

  it('refuses --http on a port in use before the data dir is touched', async () => {
    const used = await holdPort(SINGLE + 1);
    try {
      const dir = join(scratch, 'http-in-use');
      const o = await runStart([
        '--id',
        '1',
        '--listen',
        `127.0.0.1:${SINGLE + 2}`,
        '--peers',
        `1=127.0.0.1:${SINGLE + 2}`,
        '--data-dir',
        dir,
        '--http',
        `127.0.0.1:${SINGLE + 1}`,
      ]);
      expectRefused(o, new RegExp(`--http 127\\.0\\.0\\.1:${SINGLE + 1}: cannot listen: the address is in use`));
      expect(existsSync(dir)).toBe(false);
      // --listen and --http on one port are caught too.
      const same = await runStart([
        '--id',
        '1',
        '--listen',
        `127.0.0.1:${SINGLE + 3}`,
        '--peers',
        `1=127.0.0.1:${SINGLE + 3}`,
        '--data-dir',
        dir,
        '--http',
        `127.0.0.1:${SINGLE + 3}`,
      ]);
      expectRefused(same, /--http 127\.0\.0\.1:\d+: cannot listen: the address is in use/);
      expect(existsSync(dir)).toBe(false);
    } finally {
      await new Promise<void>((r) => used.close(() => r()));
    }
  }, 30_000);

  it('refuses a data dir under a regular file, one uid 65534 cannot write, and /proc/nope, each within seconds', async () => {
    const single = ['--id', '1', '--listen', `127.0.0.1:${SINGLE + 4}`, '--peers', `1=127.0.0.1:${SINGLE + 4}`];
    const file = join(scratch, 'a-file');
    writeFileSync(file, 'not a directory');
    expectRefused(
      await runStart([...single, '--data-dir', join(file, 'data')]),
      /--data-dir .*a-file\/data: cannot create .*regular file/,
    );
    expectRefused(
      await runStart([...single, '--data-dir', file]),
      /--data-dir .*a-file: .* exists and is not a directory/,
    );

    const readOnly = join(scratch, 'read-only');
    mkdirSync(readOnly, { mode: 0o755 });
    const asNobody = { uid: 65534, gid: 65534 };
    expectRefused(
      await runStart([...single, '--data-dir', readOnly], asNobody),
      /--data-dir .*read-only: the data dir .* is not writable by this process \(uid 65534: EACCES\)/,
    );
    expectRefused(
      await runStart([...single, '--data-dir', join(readOnly, 'sub')], asNobody),
      /cannot create the data dir: its parent .*read-only is not writable/,
    );
    expect(readdirSync(readOnly)).toEqual([]);

    expectRefused(
      await runStart([...single, '--data-dir', '/proc/nope']),
      /--data-dir \/proc\/nope: \/proc\/nope is under \/proc, a kernel filesystem/,
    );
    expectRefused(await runStart([...single, '--data-dir', '/sys/nope']), /is under \/sys/);
  }, 60_000);
});
