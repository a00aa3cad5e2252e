/**
 * Real processes (a free port block): the tessera CLI binary against a running cluster: put, get (and a
 * missing key's exit code), status --json with each group's leader and term, usage errors.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TESSERA_JS, TestCluster, serverBuilt } from './cluster';

let cluster: TestCluster;

beforeAll(async () => {
  if (!serverBuilt())
    throw new Error('integration tests need the build: run `npx tsc -p tsconfig.build.json` (npm test does)');
  cluster = await TestCluster.start();
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
}, 30_000);

function tessera(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [TESSERA_JS, ...args, '--endpoints', cluster.endpoints().join(',')],
      { timeout: 20_000 },
      (err, stdout, stderr) => {
        const code =
          err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('tessera CLI', () => {
  it('put then get prints the value; a missing key exits 1', async () => {
    expect(await tessera(['put', 'hello', 'world'])).toMatchObject({ code: 0, stdout: 'OK\n' });
    expect(await tessera(['get', 'hello'])).toMatchObject({ code: 0, stdout: 'world\n' });
    const missing = await tessera(['get', 'no-such-key']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/key not found/);
  }, 60_000);

  it('status --json gives each group its leader and term', async () => {
    const { leader, term } = await cluster.waitForLeader();
    const r = await tessera(['status', '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.groups.length).toBeGreaterThanOrEqual(1);
    expect(s.groups[0].leader).toBe(leader);
    expect(s.groups[0].term).toBeGreaterThanOrEqual(term);
    expect(s.groups[0].replicas).toHaveLength(3);
    const human = await tessera(['status']);
    expect(human.stdout).toMatch(new RegExp(`leader ${leader}, term`));
  }, 60_000);

  it('cas, scan and del work end to end; usage errors exit 2', async () => {
    expect((await tessera(['cas', '--absent', 'c1', 'one'])).code).toBe(0);
    expect((await tessera(['cas', 'c1', 'wrong', 'two'])).code).toBe(1);
    expect((await tessera(['cas', 'c1', 'one', 'two'])).code).toBe(0);
    const scan = await tessera(['scan', 'c', 'd', '--json']);
    expect(JSON.parse(scan.stdout)).toEqual({ count: 1, items: [{ key: 'c1', value: 'two' }] });
    expect((await tessera(['del', 'c1'])).stdout).toBe('deleted\n');
    expect((await tessera(['put', 'only-key'])).code).toBe(2);
  }, 60_000);
});
