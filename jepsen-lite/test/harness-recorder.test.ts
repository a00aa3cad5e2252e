// The history recorder (format, process discipline, info retirement) and the report's nemesis intervals.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readHistoryFile } from '../history';
import { HistoryRecorder } from '../workload/recorder';
import { nemesisIntervals, renderReport } from '../run/report';
import { runOp } from '../workload/workers';
import { RegisterWorkload } from '../workload/register';
import { TesseraError } from '../../src/base';
import type { KvClient } from '../workload/workload';

describe('HistoryRecorder', () => {
  it('writes parseable v1 events with monotonic time, fail/info values as the format says', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jl-rec-'));
    try {
      let t = 0;
      const rec = new HistoryRecorder(join(dir, 'h.jsonl'), () => (t += 10));
      const p = rec.newProcess();
      rec.invoke({ process: p, f: 'cas', key: 'k', value: [1, 2] });
      rec.complete(p, { type: 'fail', error: 'mismatch', current: 3 });
      rec.invoke({ process: p, f: 'get', key: 'k', value: null });
      rec.complete(p, { type: 'info', error: 'timed-out' });
      const q = rec.newProcess();
      expect(q).not.toBe(p);
      rec.invoke({ process: q, f: 'put', key: 'k', value: 4 });
      rec.complete(q, { type: 'ok', value: 4 });
      rec.close();
      const events = readHistoryFile(join(dir, 'h.jsonl'));
      expect(events.map((e) => [e.type, e.value, e.error ?? null, e.current ?? null])).toEqual([
        ['invoke', [1, 2], null, null],
        ['fail', [1, 2], 'mismatch', 3],
        ['invoke', null, null, null],
        ['info', null, 'timed-out', null],
        ['invoke', 4, null, null],
        ['ok', 4, null, null],
      ]);
      expect(events.map((e) => e.time)).toEqual([10, 20, 30, 40, 50, 60]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a second outstanding op on one process', () => {
    const rec = new HistoryRecorder(null, () => 0);
    rec.invoke({ process: 0, f: 'get', key: 'k', value: null });
    expect(() => rec.invoke({ process: 0, f: 'get', key: 'k', value: null })).toThrow(/outstanding/);
  });

  it('runOp records a write that timed out as info and a rejected read as fail', async () => {
    const rec = new HistoryRecorder(null, () => 0);
    const w = new RegisterWorkload({ keys: 1, opsPerKey: 10, readFraction: 0.5, valuesMax: 3 });
    const failing = {
      put: async () => {
        throw new TesseraError('DEADLINE_EXCEEDED', 'slow');
      },
      get: async () => {
        throw new TesseraError('UNAVAILABLE', 'no leader');
      },
    } as unknown as KvClient;
    expect((await runOp(w, rec, failing, 0, { f: 'put', key: 'k0', value: 1 }, 100)).type).toBe('info');
    expect((await runOp(w, rec, failing, 1, { f: 'get', key: 'k0', value: null }, 100)).type).toBe('fail');
    expect(rec.events.map((e) => e.type)).toEqual(['invoke', 'info', 'invoke', 'fail']);
  });
});

describe('report', () => {
  it('pairs nemesis start/stop into intervals, closes open ones at the end, and renders offline', () => {
    const iv = nemesisIntervals(
      [
        { time: 1e9, type: 'start', kind: 'kill', description: 'kill one' },
        { time: 3e9, type: 'stop', kind: 'kill', description: 'restart' },
        { time: 4e9, type: 'instant', kind: 'transfer', description: 'transfer' },
        { time: 5e9, type: 'start', kind: 'pause', description: 'pause all' },
      ],
      9,
    );
    expect(iv.map((i) => [i.startS, i.endS, i.label])).toEqual([
      [1, 3, 'kill one'],
      [4, 4.2, 'transfer'],
      [5, 9, 'pause all'],
    ]);
    const html = renderReport({ title: 't<x>', events: [], nemesis: [], verdicts: [], options: {}, summary: 's' });
    expect(html).toContain('t&lt;x&gt;');
    expect(html).toContain('<svg');
  });
});
