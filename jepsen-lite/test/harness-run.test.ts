// Whole runs of the harness against fake nodes (test/fixtures/fake-node.cjs, a correct single-leader
// store, or a stale-reading one with --unsafe-stale-reads): output files, verdicts and exit semantics,
// independent of the real Tessera node.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readHistoryFile } from '../history';
import { freePortBlock } from '../net/free-ports';
import { parseRunArgs } from '../run/options';
import { runTest } from '../run/run';

const fakeNode = `${process.execPath} ${join(__dirname, 'fixtures', 'fake-node.cjs')}`;
const root = mkdtempSync(join(tmpdir(), 'jl-run-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function run(name: string, args: string[]) {
  const out = join(root, name);
  const o = parseRunArgs([
    '--tessera',
    fakeNode,
    '--out',
    out,
    '--base-port',
    String(await freePortBlock(100)),
    '--recovery',
    '10',
    ...args,
  ]);
  const lines: string[] = [];
  const r = await runTest(o, (l) => lines.push(l));
  return { r, out, lines };
}

describe('jepsen-lite runs against a fake node', () => {
  it('register under kill, pause, partition and slow: passes, and writes every output file', async () => {
    const { r, out } = await run('ok', [
      '--time',
      '6',
      '--nemesis',
      'kill,pause,partition,slow',
      '--quiet',
      '0.5,1',
      '--fault',
      '1,2',
      '--seed',
      '11',
    ]);
    expect(r.summary, JSON.stringify(r.verdicts)).toMatch(/PASS/);
    expect(r.valid).toBe(true);
    for (const f of [
      'history.jsonl',
      'nemesis.jsonl',
      'results.json',
      'report.html',
      'options.json',
      'nodes/n1/node.log',
    ])
      expect(existsSync(join(out, f))).toBe(true);
    const events = readHistoryFile(join(out, 'history.jsonl'));
    expect(events.length).toBeGreaterThan(100);
    expect(events.every((e) => typeof e.time === 'number')).toBe(true);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(results.valid).toBe(true);
    expect(results.counts.byFunction.get.ok).toBeGreaterThan(0);
    expect(results.verdicts.map((v: { name: string }) => v.name)).toEqual([
      'linearizable',
      'crashes',
      'recovery',
      'divergence',
    ]);
    const nemesis = readFileSync(join(out, 'nemesis.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(nemesis.some((e) => e.type === 'start')).toBe(true);
    expect(nemesis.at(-1).type).toBe('heal');
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org)/);
  }, 90_000);

  it('reports the anomaly of a stale-reading store, with a failing sub-history', async () => {
    const { r, out } = await run('unsafe', [
      '--time',
      '5',
      '--nemesis',
      'partition',
      '--node-args',
      '--unsafe-stale-reads',
      '--seed',
      '12',
    ]);
    expect(r.valid).toBe(false);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(results.anomalies.length).toBeGreaterThan(0);
    expect(results.anomalies[0].subhistory.length).toBeGreaterThan(1);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toMatch(/<h2>Anomalies \(\d+/);
  }, 90_000);

  it('set and bank workloads pass on a correct store', async () => {
    const set = await run('set', [
      '--workload',
      'set',
      '--time',
      '4',
      '--nemesis',
      'pause',
      '--quiet',
      '0.5,1',
      '--fault',
      '1,2',
      '--seed',
      '13',
    ]);
    expect(set.r.verdicts.map((v) => [v.name, v.valid])).toEqual([
      ['set', true],
      ['crashes', true],
      ['recovery', true],
      ['divergence', true],
    ]);
    const bank = await run('bank', [
      '--workload',
      'bank',
      '--time',
      '4',
      '--nemesis',
      'kill',
      '--quiet',
      '0.5,1',
      '--fault',
      '1,2',
      '--seed',
      '14',
    ]);
    expect(bank.r.verdicts.map((v) => [v.name, v.valid])).toEqual([
      ['bank', true],
      ['crashes', true],
      ['recovery', true],
      ['divergence', true],
    ]);
  }, 120_000);
});
