import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { runCheckCommand } from '../checker';
import { historyToJsonl, parseHistory, type HistoryEvent } from '../history';
import { fixturesDir, get, projectRoot, put, seq } from './checker-helpers';

const dir = mkdtempSync(join(tmpdir(), 'jl-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function file(content: string | HistoryEvent[]): string {
  const path = join(dir, `h${fileCount++}.jsonl`);
  writeFileSync(path, typeof content === 'string' ? content : historyToJsonl(content));
  return path;
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string; json: Record<string, unknown> }> {
  let out = '';
  let err = '';
  const code = await runCheckCommand(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err, json: JSON.parse(out) as Record<string, unknown> };
}

describe('check command', () => {
  it('exits 0 and prints valid: true for a linearizable history', async () => {
    const r = await run([file([...put(0, 1), ...get(1, 1)])]);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ valid: true, keys: 1, ops: 2, anomalies: [] });
    expect(typeof r.json.elapsedMs).toBe('number');
  });

  it('exits 1 with the anomaly and its sub-history for a non-linearizable history', async () => {
    const r = await run([file([...put(0, 1), ...get(1, 2)])]);
    expect(r.code).toBe(1);
    expect(r.json.valid).toBe(false);
    const anomalies = r.json.anomalies as Array<{ key: string; subhistory: HistoryEvent[] }>;
    expect(anomalies[0]!.key).toBe('k');
    expect(anomalies[0]!.subhistory).toEqual([...put(0, 1), ...get(1, 2)]);
  });

  it('uses --initial for every key (default absent)', async () => {
    const h = file([...get(0, 0), ...get(0, 0, { key: 'other' })]);
    expect((await run([h])).code).toBe(1);
    expect((await run([h, '--initial', '0'])).code).toBe(0);
    expect((await run([h, '--initial=0'])).json.initial).toBe(0);
    expect((await run([file(get(0, ''))])).code).toBe(1);
    expect((await run([file(get(0, '')), '--initial', '""'])).code).toBe(0);
  });

  it('exits 1 with valid "unknown" when the budget runs out', async () => {
    const events: HistoryEvent[] = [];
    for (let p = 0; p < 14; p++) events.push({ process: p, type: 'invoke', f: 'append', key: 'k', value: `${p},` });
    for (let p = 0; p < 14; p++) events.push({ process: p, type: 'ok', f: 'append', key: 'k', value: `${p},` });
    events.push(...get(99, 'nope'));
    const r = await run([file(events), '--steps-per-key', '500']);
    expect(r.code).toBe(1);
    expect(r.json.valid).toBe('unknown');
    expect(r.json.undecidedKeys).toEqual([{ key: 'k', verdict: 'unknown', reason: 'step budget of 500 exhausted' }]);
  });

  it('exits 2 on a malformed file, with the line number', async () => {
    const text =
      historyToJsonl([...put(0, 1)]) +
      '{"process":1,"type":"invoke","f":"get","key":"k","value":null}\n\n{"process":1,"type":"ok","f":"get"}\n';
    const r = await run([file(text)]);
    expect(r.code).toBe(2);
    expect(r.json).toMatchObject({ valid: null, line: 5 });
    expect(r.json.error).toMatch(/line 5: key must be a string/);
    expect(r.err).toMatch(/line 5/);
  });

  it('exits 2 on a non-register history, a missing file and bad arguments', async () => {
    expect((await run([file(seq(0, 'add', 1))])).code).toBe(2);
    expect((await run([join(dir, 'missing.jsonl')])).json.error).toMatch(/cannot read/);
    expect((await run([])).code).toBe(2);
    expect((await run([file([]), '--initial', '{bad'])).code).toBe(2);
    expect((await run([file([]), '--initial', '[1]'])).code).toBe(2);
    expect((await run([file([]), '--bogus'])).code).toBe(2);
  });

  it('prints a sub-history that is itself a valid, non-linearizable history file', async () => {
    const r = await run([join(fixturesDir, 'porcupine/etcd/etcd_004.jsonl')]);
    expect(r.code).toBe(1);
    const sub = (r.json.anomalies as Array<{ subhistory: HistoryEvent[] }>)[0]!.subhistory;
    const again = await run([file(historyToJsonl(parseHistory(historyToJsonl(sub))))]);
    expect(again.code).toBe(1);
  });

  it('check-main.ts runs as a process with the same exit codes', async () => {
    const exec = promisify(execFile);
    const tsx = join(projectRoot, 'node_modules/.bin/tsx');
    const main = join(projectRoot, 'jepsen-lite/checker/check-main.ts');
    const codeOf = async (args: string[]): Promise<number> => {
      try {
        await exec(tsx, [main, ...args], { cwd: projectRoot, timeout: 30_000 });
        return 0;
      } catch (e) {
        return (e as { code: number }).code;
      }
    };
    const [ok, bad, malformed] = await Promise.all([
      codeOf([file([...put(0, 1), ...get(1, 1)])]),
      codeOf([join(fixturesDir, 'porcupine/kv/c10-bad.jsonl'), '--initial', '""']),
      codeOf([file('not json\n')]),
    ]);
    expect([ok, bad, malformed]).toEqual([0, 1, 2]);
  });
});
