/**
 * On-disk corruption of a real node's data dir (issue 9, section 3): a single `tessera start` process writes,
 * stops cleanly, its LevelDB files are damaged the way a failing disk or an operator would, and it is
 * started again. Damaged LevelDB files (a flipped MANIFEST byte, a deleted or truncated table) exit 3 with
 * a message that says it is corruption and how to rebuild the replica; a LOCK held by another process
 * stays exit 2; a flipped byte in a stored user key is DATA_LOSS for reads instead of a phantom key.
 * Ports: distinct free ports below the ephemeral range, checked free (freePorts), so no fixed block is used.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { freePorts } from '../support/free-ports';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/client';
import { TESSERA_JS, serverBuilt } from './cluster';

const TOKEN = 'corruption-test-token';
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
beforeAll(() => {
  if (!serverBuilt()) throw new Error('run `npm run build` first: integration tests start dist/cmd/tessera.js');
});

interface Node {
  child: ChildProcess;
  out: string[];
  err: string[];
  exited: Promise<number | null>;
  port: number;
  httpPort: number;
}

function startNode(dataDir: string, port: number, httpPort: number): Node {
  const args = [
    TESSERA_JS,
    'start',
    '--id',
    '1',
    '--listen',
    `127.0.0.1:${port}`,
    '--peers',
    `1=127.0.0.1:${port}`,
    '--data-dir',
    dataDir,
  ];
  args.push('--http', `127.0.0.1:${httpPort}`, '--profile', 'low-latency', '--cluster-token', TOKEN);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const out: string[] = [];
  const err: string[] = [];
  child.stdout?.on('data', (d: Buffer) =>
    out.push(
      ...d
        .toString()
        .split('\n')
        .filter((l) => l !== ''),
    ),
  );
  child.stderr?.on('data', (d: Buffer) => err.push(d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out, err, exited, port, httpPort };
}

async function waitFor(node: Node, what: RegExp, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!node.out.some((l) => what.test(l))) {
    if (node.child.exitCode !== null) throw new Error(`node exited ${node.child.exitCode}: ${node.err.join('')}`);
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`no log line matching ${what}; got:\n${node.out.slice(-30).join('\n')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Exit code within a bounded time (the process is killed if it runs on). */
async function exitCode(node: Node, timeoutMs = 20_000): Promise<number | null> {
  const timer = setTimeout(() => node.child.kill('SIGKILL'), timeoutMs);
  try {
    return await node.exited;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A data dir of a single node that served `writes` and stopped cleanly, with its data flushed from the
 * LevelDB write-ahead log into a table file (a reopen flushes it), as on any node that ran a while.
 */
async function servedDataDir(
  writes: Array<[string, string]>,
): Promise<{ dataDir: string; db: string; port: number; httpPort: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-corruption-'));
  dirs.push(dataDir);
  const [port, httpPort] = (await freePorts(2)) as [number, number];
  const node = startNode(dataDir, port, httpPort);
  await waitFor(node, /became leader/);
  const client = new Client({ endpoints: [`127.0.0.1:${port}`] });
  try {
    for (const [k, v] of writes) await client.put(k, v);
  } finally {
    await client.close();
  }
  node.child.kill('SIGTERM');
  expect(await exitCode(node)).toBe(0);
  const db = join(dataDir, 'db');
  const raw = new Level(db);
  await raw.open();
  await raw.close();
  return { dataDir, db, port, httpPort };
}

function tables(db: string): string[] {
  return readdirSync(db).filter((n) => n.endsWith('.ldb'));
}

/** Starts the damaged node again and expects exit 3 with a corruption message and the recovery steps. */
async function expectCorruptionExit(
  dir: { dataDir: string; port: number; httpPort: number },
  detail: RegExp,
): Promise<void> {
  const node = startNode(dir.dataDir, dir.port, dir.httpPort);
  expect(await exitCode(node)).toBe(3);
  const stderr = node.err.join('');
  expect(stderr).toMatch(/data corruption in data dir/);
  expect(stderr).toMatch(detail);
  expect(stderr).toMatch(/tessera member remove 1/);
  expect(stderr).toMatch(/wipe the data dir/);
  expect(stderr).toMatch(/--join/);
  expect(stderr).toMatch(/tessera member add 1 127\.0\.0\.1:\d+/);
  expect(stderr).not.toMatch(/another process/);
  const fatal = node.out.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.level === 'fatal');
  expect(String(fatal?.msg)).toMatch(/data corruption/);
}

describe('a node on damaged LevelDB files (real process, real data dir)', () => {
  it('a value record failing its check is DATA_LOSS for a get, and an apply that reads it stops the node with exit 3', async () => {
    const dir = await servedDataDir([
      ['victim', 'value-1'],
      ['plain', 'ok'],
    ]);
    const raw = new Level<Buffer, Buffer>(dir.db, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await raw.open();
    const key = Buffer.from('d/victim');
    const rec = (await raw.get(key)) as Buffer;
    rec[rec.length - 1] = (rec[rec.length - 1] as number) ^ 0x01;
    await raw.put(key, rec);
    await raw.close();
    const node = startNode(dir.dataDir, dir.port, dir.httpPort);
    await waitFor(node, /became leader/);
    const client = new Client({ endpoints: [`127.0.0.1:${dir.port}`], deadlineMs: 3000 });
    try {
      await expect(client.get('victim')).rejects.toMatchObject({ code: 'CORRUPTION' });
      expect((await client.get('plain'))?.toString()).toBe('ok');
      // A compare-and-swap reads the damaged value while applying: the replica cannot apply it, so it stops.
      const cas = client.compareAndSwap('victim', 'value-1', 'value-2').catch(() => undefined);
      expect(await exitCode(node)).toBe(3);
      await cas; // fails (the node is gone) within the client's deadline; settled before the client closes
    } finally {
      await client.close();
    }
    const stderr = node.err.join('');
    expect(stderr).toMatch(/data corruption in data dir .*corrupt record at key d\/victim.*stopping \(exit 3\)/);
    expect(stderr).toMatch(/tessera member remove 1/);
  }, 60_000);

  it('a flipped byte in the MANIFEST exits 3 (was exit 2, "is another process using this data directory?")', async () => {
    const dir = await servedDataDir([['k', 'v']]);
    const manifest = readdirSync(dir.db).find((n) => n.startsWith('MANIFEST-')) as string;
    const bytes = readFileSync(join(dir.db, manifest));
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0xff;
    writeFileSync(join(dir.db, manifest), bytes);
    await expectCorruptionExit(dir, /Corruption:/);
  }, 60_000);

  it('a deleted table file exits 3 naming it', async () => {
    const dir = await servedDataDir([['k', 'v']]);
    const table = tables(dir.db)[0] as string;
    rmSync(join(dir.db, table));
    await expectCorruptionExit(dir, new RegExp(`missing files.*${table}`));
  }, 60_000);

  it('a truncated table file exits 3 (was exit 1, "IO error")', async () => {
    const dir = await servedDataDir([['k', 'v']]);
    const table = tables(dir.db)[0] as string;
    const size = statSync(join(dir.db, table)).size;
    truncateSync(join(dir.db, table), size - 100);
    await expectCorruptionExit(dir, new RegExp(`${table} has ${size - 100} bytes, the MANIFEST records ${size}`));
  }, 60_000);

  it('a data dir locked by another running node stays exit 2 with its message', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-corruption-'));
    dirs.push(dataDir);
    const first = startNode(dataDir, ...((await freePorts(2)) as [number, number]));
    await waitFor(first, /became leader/);
    const second = startNode(dataDir, ...((await freePorts(2)) as [number, number]));
    expect(await exitCode(second)).toBe(2);
    expect(second.err.join('')).toMatch(/is another process using this data directory\?/);
    expect(second.err.join('')).not.toMatch(/data corruption/);
    first.child.kill('SIGTERM');
    expect(await exitCode(first)).toBe(0);
  }, 60_000);

  it('a flipped byte at the end of a stored user key is DATA_LOSS for scans and gets, not a phantom key', async () => {
    // The d/ keys sort first, so the damaged key is stored whole at the start of the first data block; the
    // large values after it fill that block, so the log entries that hold the same key (and that snappy
    // would otherwise encode as a copy of these bytes) are in later blocks and stay intact.
    const filler = (i: number) => randomBytes(3000).toString('base64') + i;
    const dir = await servedDataDir([
      ['phantom-key-A', 'phantom-value'],
      ['plain', 'ok'],
      ['zz-1', filler(1)],
      ['zz-2', filler(2)],
    ]);
    const table = tables(dir.db)[0] as string;
    const bytes = readFileSync(join(dir.db, table));
    const at = bytes.indexOf(Buffer.from('d/phantom-key-A'));
    expect(at).toBeGreaterThanOrEqual(0);
    const last = at + 'd/phantom-key-A'.length - 1;
    bytes[last] = 'B'.charCodeAt(0);
    writeFileSync(join(dir.db, table), bytes);
    const node = startNode(dir.dataDir, dir.port, dir.httpPort);
    await waitFor(node, /became leader/);
    const client = new Client({ endpoints: [`127.0.0.1:${dir.port}`] });
    try {
      expect((await client.get('plain'))?.toString()).toBe('ok');
      const scan = async () => {
        for await (const page of client.scan()) void page;
      };
      await expect(scan()).rejects.toMatchObject({ code: 'CORRUPTION' });
      // A get of the damaged key never serves the value: LevelDB's bloom filter (built for the original key)
      // answers not found, and a get that reaches the record gets DATA_LOSS. The original key is gone from
      // LevelDB: a get of it cannot meet the damaged record (codec/record.ts, Limit).
      const phantom = await client.get('phantom-key-B').then(
        (v) => v?.toString() ?? null,
        (e: { code?: string }) => e.code,
      );
      expect([null, 'CORRUPTION']).toContain(phantom);
      expect(await client.get('phantom-key-A')).toBeNull();
      await expect(scan()).rejects.toMatchObject({ code: 'CORRUPTION' });
    } finally {
      await client.close();
    }
    // Counted per refused read, logged once per key.
    const metrics = await (await fetch(`http://127.0.0.1:${dir.httpPort}/metrics`)).text();
    const count = Number(/tessera_data_loss_total\{group="1"\} (\d+)/.exec(metrics)?.[1]);
    expect(count).toBeGreaterThanOrEqual(2);
    const logged = node.out.filter((l) => l.includes('failed its check') && l.includes('d/phantom-key-B'));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/"level":"error"/);
    node.child.kill('SIGTERM');
    expect(await exitCode(node)).toBe(0);
  }, 60_000);
});
