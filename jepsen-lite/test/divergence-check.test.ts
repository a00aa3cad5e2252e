// The replica-divergence check (checker/divergence.ts): the comparison of digests, the bounded retry until
// every member reports one applied index, and a whole run against fake nodes where node 2 reports other
// data: it must fail, naming the nodes. Ports: a free block found by binding each port.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDivergence, compareDigests, type DivergenceProbe, type ReplicaDigest } from '../checker/divergence';
import { freePortBlock } from '../net/free-ports';
import { portsPerRun } from '../net/ports';
import { parseRunArgs } from '../run/options';
import { runTest } from '../run/run';

const d = (appliedIndex: number, sha256 = 'a'.repeat(64), keyCount = 3): ReplicaDigest => ({
  groupId: 1,
  appliedIndex,
  keyCount,
  sha256,
});

describe('compareDigests', () => {
  it('identical digests at one index pass', () => {
    expect(
      compareDigests(
        new Map([
          [1, d(7)],
          [2, d(7)],
          [3, d(7)],
        ]),
      ),
    ).toMatchObject({
      kind: 'identical',
      appliedIndex: 7,
      nodes: [1, 2, 3],
    });
  });

  it('a different hash or key count at one index is divergence, naming each side', () => {
    const c = compareDigests(
      new Map([
        [3, d(7, 'b'.repeat(64))],
        [1, d(7)],
        [2, d(7)],
      ]),
    );
    expect(c).toEqual({
      kind: 'diverged',
      appliedIndex: 7,
      variants: [
        { sha256: 'a'.repeat(64), keyCount: 3, nodes: [1, 2] },
        { sha256: 'b'.repeat(64), keyCount: 3, nodes: [3] },
      ],
    });
    expect(
      compareDigests(
        new Map([
          [1, d(7)],
          [2, d(7, 'a'.repeat(64), 4)],
        ]),
      ).kind,
    ).toBe('diverged');
  });

  it('digests at different indexes are not compared', () => {
    expect(
      compareDigests(
        new Map([
          [1, d(7)],
          [2, d(8, 'b'.repeat(64))],
        ]),
      ),
    ).toEqual({
      kind: 'unequalApplied',
      applied: { 1: 7, 2: 8 },
    });
  });
});

/** A probe whose replicas follow scripted digests, one per attempt (the last one repeats). */
function scripted(script: Record<number, Array<ReplicaDigest | Error>>): DivergenceProbe {
  const calls = new Map<number, number>();
  return {
    members: async () => Object.keys(script).map(Number),
    digest: async (n) => {
      const i = calls.get(n) ?? 0;
      calls.set(n, i + 1);
      const steps = script[n]!;
      const step = steps[Math.min(i, steps.length - 1)]!;
      if (step instanceof Error) throw step;
      return step;
    },
  };
}

describe('checkDivergence', () => {
  const opts = { budgetMs: 1000, intervalMs: 20 };

  it('retries until every member is at one index, then compares', async () => {
    const r = await checkDivergence(scripted({ 1: [d(5), d(9)], 2: [d(9)], 3: [d(6), d(8), d(9)] }), opts);
    expect(r.valid).toBe(true);
    expect(r.attempts).toBe(3);
    expect(r.summary).toMatch(/nodes 1,2,3 identical at applied index 9/);
  });

  it('fails on divergent replicas at one index, naming the nodes and the index', async () => {
    const r = await checkDivergence(scripted({ 1: [d(9)], 2: [d(9, 'c'.repeat(64))], 3: [d(9)] }), opts);
    expect(r.valid).toBe(false);
    expect(r.summary).toMatch(/DIVERGED at applied index 9: nodes 1,3 .* vs nodes 2 /);
  });

  it('fails when a replica stays behind with no writes running', async () => {
    const r = await checkDivergence(scripted({ 1: [d(9)], 2: [d(4)], 3: [d(9)] }), opts);
    expect(r.valid).toBe(false);
    expect(r.summary).toMatch(/never reached one applied index .* n2@4/);
  });

  it('is unknown when a member never answers', async () => {
    const r = await checkDivergence(scripted({ 1: [d(9)], 2: [new Error('UNAVAILABLE')] }), opts);
    expect(r.valid).toBe('unknown');
    expect(r.summary).toMatch(/n2: UNAVAILABLE/);
  });
});

describe('a whole run with a divergent replica (fake nodes)', () => {
  const root = mkdtempSync(join(tmpdir(), 'jl-div-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const fakeNode = `${process.execPath} ${join(__dirname, 'fixtures', 'fake-node.cjs')}`;
  const run = async (name: string, extra: string[]) =>
    runTest(
      parseRunArgs([
        ...['--tessera', fakeNode, '--out', join(root, name), '--recovery', '10'],
        ...['--base-port', String(await freePortBlock(portsPerRun(3)))],
        ...['--time', '2', '--nemesis', 'none', '--seed', '21', '--no-report', ...extra],
      ]),
      () => undefined,
    );

  it('fails the divergence verdict when node 2 holds other data, and passes without it', async () => {
    const bad = await run('bad', ['--node-args', '--fake-diverge-node 2']);
    expect(bad.valid).toBe(false);
    const v = bad.verdicts.find((x) => x.name === 'divergence')!;
    expect(v.valid).toBe(false);
    expect(v.summary).toMatch(/DIVERGED at applied index 0: nodes 1,3 .* vs nodes 2 /);
    const good = await run('good', []);
    expect(good.verdicts.find((x) => x.name === 'divergence')!.valid).toBe(true);
    expect(good.valid).toBe(true);
  }, 60_000);
});
