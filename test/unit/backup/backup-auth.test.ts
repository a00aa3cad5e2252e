/**
 * `tessera backup` on a cluster with access control (--auth-file): the backup streams travel on the SDK's
 * channels with its login token (Client.adminStream), so an admin's backup succeeds and verifies; a
 * readwrite user's is refused at once with PERMISSION_DENIED, and a client without credentials with
 * UNAUTHENTICATED, leaving no file behind.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, newAuthFile, writeAuthFile } from '../../../src/auth';
import { takeBackup, verifyBackup } from '../../../src/backup';
import { Client } from '../../../src/client';
import { NodeCluster } from '../server/node-cluster';

const FAST = { N: 1024, r: 8, p: 1 };
let c: NodeCluster;
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-backup-auth-'));
  const authPath = join(dir, 'auth.json');
  const file = newAuthFile();
  file.users.root = { role: 'admin', prefixes: [], password: await hashPassword('pw-root', FAST) };
  file.users.writer = { role: 'readwrite', prefixes: [], password: await hashPassword('pw-writer', FAST) };
  writeAuthFile(authPath, file);
  c = await NodeCluster.start(3, ['--auth-file', authPath]);
  await c.waitForLeader();
}, 30_000);

afterAll(async () => {
  await c?.close();
  await rm(dir, { recursive: true, force: true });
});

async function backupAs(user: string | null, out: string) {
  const client = new Client({
    endpoints: c.endpoints(),
    deadlineMs: 5000,
    ...(user === null ? {} : { user, password: `pw-${user}` }),
  });
  try {
    return await takeBackup({ client, out, attemptsMax: 3, retryDelayMs: 50, deadlineMs: 15_000 });
  } finally {
    await client.close();
  }
}

describe('backup with access control', () => {
  it('an admin backs up; a readwrite user and a client without credentials are refused', async () => {
    const admin = new Client({ endpoints: c.endpoints(), user: 'root', password: 'pw-root', deadlineMs: 5000 });
    await Promise.all(['a', 'b', 'c'].map((k) => admin.put(k, `v-${k}`)));
    await admin.close();
    const summary = await backupAs('root', join(dir, 'ok.tbak'));
    expect(summary.shards.reduce((n, s) => n + s.items, 0)).toBeGreaterThanOrEqual(3);
    expect((await verifyBackup(join(dir, 'ok.tbak'))).header.shards).toHaveLength(1);
    await expect(backupAs('writer', join(dir, 'writer.tbak'))).rejects.toThrow(/PERMISSION_DENIED/);
    await expect(backupAs(null, join(dir, 'anon.tbak'))).rejects.toThrow(/UNAUTHENTICATED|token/i);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tbak') || f.includes('.tbak.')).sort()).toEqual(['ok.tbak']);
  });
});
