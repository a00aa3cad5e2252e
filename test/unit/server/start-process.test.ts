import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../../src/client';
import { formatKey, hardStateKey } from '../../../src/codec';
import { freePort } from './node-cluster';
import { freePorts } from '../../support/free-ports';

const entry = join(__dirname, 'start-entry.ts');
const dirs: string[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  exited: Promise<number | null>;
}

function startNode(args: string[]): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  for (const s of [child.stdout!, child.stderr!]) {
    createInterface({ input: s }).on('line', (l) => {
      try {
        lines.push(JSON.parse(l));
      } catch {
        lines.push({ text: l });
      }
    });
  }
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, lines, exited };
}

async function waitForLine(
  s: Started,
  pred: (l: Record<string, unknown>) => boolean,
  timeoutMs = 15_000,
): Promise<Record<string, unknown>> {
  const t0 = Date.now();
  for (;;) {
    const l = s.lines.find(pred);
    if (l) return l;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`no matching log line; got:\n${s.lines.map((x) => JSON.stringify(x)).join('\n')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('tessera start (a real process)', () => {
  it('serves a single-node cluster, answers /healthz, and exits 0 on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-start-'));
    dirs.push(dir);
    const [port, httpPort] = (await freePorts(2)) as [number, number];
    const s = startNode([
      '--id',
      '1',
      '--listen',
      `127.0.0.1:${port}`,
      '--peers',
      `1=127.0.0.1:${port}`,
      '--data-dir',
      dir,
      '--http',
      `127.0.0.1:${httpPort}`,
      '--profile',
      'low-latency',
    ]);
    const started = await waitForLine(s, (l) => l.msg === 'node started');
    expect(started.node).toBe(1);
    await waitForLine(s, (l) => l.msg === 'became leader' && l.group === 1);
    const client = new Client({ endpoints: [`127.0.0.1:${port}`] });
    await client.put('k', 'v');
    expect((await client.get('k'))?.toString()).toBe('v');
    await client.close();
    const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      serving: true,
      nodeId: 1,
      groups: [
        { groupId: 1, leader: 1, role: 'leader' },
        { groupId: 2, leader: 1, role: 'leader' },
      ],
    });
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    expect(metrics).toMatch(/tessera_proposals_total\{group="1",outcome="ok"\} 2/); // the session's registration, then the put
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(s.lines.some((l) => l.msg === 'node stopped')).toBe(true);
  }, 30_000);

  it('exits 2 with a clear message on a bad configuration', async () => {
    const s = startNode([
      '--id',
      '1',
      '--listen',
      '127.0.0.1:1',
      '--peers',
      '2=127.0.0.1:2',
      '--data-dir',
      '/tmp/never',
    ]);
    expect(await s.exited).toBe(2);
    expect(s.lines.map((l) => String(l.text ?? '')).join('\n')).toMatch(/must include this node \(id 1\)/);
  }, 30_000);

  it('refuses to start on a corrupt record: names the key and exits 3', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-corrupt-'));
    dirs.push(dir);
    const port = await freePort();
    const args = [
      '--id',
      '1',
      '--listen',
      `127.0.0.1:${port}`,
      '--peers',
      `1=127.0.0.1:${port}`,
      '--data-dir',
      dir,
      '--profile',
      'low-latency',
    ];
    const first = startNode(args);
    await waitForLine(first, (l) => l.msg === 'became leader' && l.group === 1);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    // Flip a byte of the stored hard state record (r/<group 1>/h).
    const db = new Level<Buffer, Buffer>(join(dir, 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open();
    let corrupted = false;
    for await (const [key, value] of db.iterator()) {
      if (key.equals(hardStateKey(1))) {
        value[value.length - 1]! ^= 0xff;
        await db.put(key, value);
        corrupted = true;
      }
    }
    await db.close();
    expect(corrupted).toBe(true);
    const second = startNode(args);
    expect(await second.exited).toBe(3);
    const line = second.lines.find((l) => l.level === 'fatal');
    expect(line).toBeDefined();
    expect(line!.key).toBe(formatKey(hardStateKey(1)));
    expect(String(line!.msg)).toMatch(/corrupt/);
  }, 30_000);
});
