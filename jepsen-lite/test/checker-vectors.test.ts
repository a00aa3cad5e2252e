/**
 * The public linearizability vectors: every porcupine history (MIT, copied into
 * test/fixtures/linearizability) and every knossos history (EPL, read from ../shared beside the clone;
 * required when CI is set) must get its expected verdict, with each manifest entry's `initial`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLinearizability } from '../checker';
import { readHistoryFile, type Scalar } from '../history';
import { fixturesDir, sharedVectorsDir, sharedVectorsPresent } from './checker-helpers';

interface ManifestEntry {
  file: string;
  linearizable: boolean;
  initial: Scalar;
}

function entries(dir: string, prefix: string): ManifestEntry[] {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { files: ManifestEntry[] };
  return manifest.files.filter((f) => f.file.startsWith(prefix));
}

function checkAll(dir: string, list: ManifestEntry[]): { wrong: string[]; slowest: string; ms: number } {
  const wrong: string[] = [];
  let slowest = '';
  let slowestMs = 0;
  const t0 = performance.now();
  for (const e of list) {
    const t = performance.now();
    // Budgets keep a pathological regression bounded: an 'unknown' counts as a wrong verdict.
    const r = checkLinearizability(readHistoryFile(join(dir, e.file)), {
      initial: e.initial,
      stepsPerKeyMax: 5_000_000,
      shrinkTimeMs: 200,
    });
    const ms = performance.now() - t;
    if (ms > slowestMs) [slowest, slowestMs] = [e.file, ms];
    if (r.valid !== e.linearizable) wrong.push(`${e.file}: expected ${e.linearizable}, got ${r.valid}`);
    if (r.valid === false) expect(r.anomalies.length, e.file).toBeGreaterThan(0);
  }
  return { wrong, slowest: `${slowest} (${Math.round(slowestMs)} ms)`, ms: Math.round(performance.now() - t0) };
}

describe('porcupine vectors (test/fixtures/linearizability)', () => {
  const list = entries(fixturesDir, 'porcupine/');
  it('the fixture manifest lists all 108 porcupine histories', () => {
    expect(list).toHaveLength(108);
    expect(list.filter((e) => e.linearizable)).toHaveLength(26);
  });
  it('every porcupine history gets its expected verdict', () => {
    const { wrong, slowest, ms } = checkAll(fixturesDir, list);
    console.log(`porcupine: ${list.length - wrong.length}/${list.length} right in ${ms} ms; slowest ${slowest}`);
    expect(wrong).toEqual([]);
  });
  it('c50-bad (adversarial key "0") is refuted quickly by another key', () => {
    const t0 = performance.now();
    const r = checkLinearizability(readHistoryFile(join(fixturesDir, 'porcupine/kv/c50-bad.jsonl')), { initial: '' });
    expect(r.valid).toBe(false);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(r.perKey.find((k) => k.key === '0')!.verdict).not.toBe('linearizable');
  });
});

describe('knossos vectors (../shared/linearizability-vectors/knossos, EPL, not copied)', () => {
  it('the shared vectors are present when running in CI', () => {
    if (!sharedVectorsPresent) {
      console.log(`note: ${sharedVectorsDir} is absent; knossos vectors not checked`);
      expect(
        process.env.CI,
        'CI must find ../shared/linearizability-vectors beside the clone or the repository it was cloned from',
      ).toBeFalsy();
    }
  });
  it.skipIf(!sharedVectorsPresent)('every knossos history gets its expected verdict', () => {
    const list = entries(sharedVectorsDir, 'knossos/');
    expect(list).toHaveLength(119);
    const { wrong, slowest, ms } = checkAll(sharedVectorsDir, list);
    console.log(`knossos: ${list.length - wrong.length}/${list.length} right in ${ms} ms; slowest ${slowest}`);
    expect(wrong).toEqual([]);
  });
  it.skipIf(!sharedVectorsPresent)('the shared porcupine copies equal the fixtures', () => {
    for (const e of entries(fixturesDir, 'porcupine/')) {
      expect(readFileSync(join(fixturesDir, e.file), 'utf8'), e.file).toBe(
        readFileSync(join(sharedVectorsDir, e.file), 'utf8'),
      );
    }
  });
});
