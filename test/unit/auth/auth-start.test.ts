/**
 * Starting a node with access control: a bad auth file stops `tessera start` with exit 2 and one line
 * naming the file and the field (before anything is written); a node without --auth-file answers
 * Auth.Login with FAILED_PRECONDITION (access control is off by default).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAuthFile } from '../../../src/auth';
import { NodeCluster, freePort } from '../server/node-cluster';
import { callWithToken } from './raw-auth-call';

const entry = join(__dirname, '..', 'server', 'start-entry.ts');
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-auth-start-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `tessera start` in a child process; its exit code and stderr (bounded by a 15 s kill). */
function start(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(kill);
      resolve({ code, stderr });
    }),
  );
}

describe('tessera start --auth-file', () => {
  // (A missing or unreadable file is the same CONFIG error: auth-file.test.ts.)
  it('exits 2 naming the file and the field when the auth file is invalid, and writes nothing', async () => {
    const bad = join(dir, 'bad-auth.json');
    await writeFile(bad, JSON.stringify({ ...newAuthFile(), users: { eve: { role: 'superuser' } } }));
    const port = await freePort();
    const dataDir = join(dir, 'data');
    const args = [
      '--id',
      '1',
      '--listen',
      `127.0.0.1:${port}`,
      '--peers',
      `1=127.0.0.1:${port}`,
      '--data-dir',
      dataDir,
    ];
    const out = await start([...args, '--auth-file', bad]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain(`auth file ${bad} users.eve.role: must be read, readwrite or admin`);
    await expect(readdir(dataDir)).rejects.toThrow(/ENOENT/);
  }, 40_000);

  it('without --auth-file, Auth.Login answers FAILED_PRECONDITION and calls need no token', async () => {
    const c = await NodeCluster.start(1);
    try {
      const port = c.ports.get(1)!;
      const login = await callWithToken(port, 'Auth', 'Login', { user: 'a', password: 'b' }, null);
      expect(login.err?.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(login.err?.details).toMatch(/access control is off/);
      expect((await callWithToken(port, 'Admin', 'Status', {}, null)).err).toBeNull();
    } finally {
      await c.close();
    }
  });
});
