/**
 * The overload verdicts (issue 9, sections 4 and 6), judged per attack from what the runner recorded:
 *   overload-memory      the attacked leader's peak RSS stayed under the memory budget
 *   overload-leadership  no leadership change (no new leader, no new term) during any attack
 *   overload-bystander   the normal workload's p99 latency during each attack stayed under the bound
 *                        (100 ms in the full run; a generous bound in the CI-sized run: CI is slow and shared)
 *   overload-abusers     every abuser ended ok, refused (RESOURCE_EXHAUSTED, 429/503) or closed by the node,
 *                        within its bound: none hung, none left to its deadline, no attack failed to run
 *   overload-healthz     every /healthz probe during the attack answered 200 within 1 s
 * The workload's own checker (linearizable) is judged by run/verdicts.ts as in every run.
 * Pure functions of the records: unit-testable without a cluster.
 */
import type { HistoryEvent } from '../history';
import { pairOperations } from '../history';
import type { CheckerVerdict } from '../run/verdicts';
import { boundedOutcomes, type AbuserOutcome, type AttackReport, type OverloadAttackName } from './catalogue';
import type { ProbeFigures } from './probes';

export interface AttackRecord {
  attack: OverloadAttackName;
  /** The leader attacked, or null when none was found before the attack. */
  node: number | null;
  startMs: number;
  endMs: number;
  /** Start of the quiet gap before the attack: the bystander's baseline is measured over [quietFromMs, startMs]. */
  quietFromMs: number;
  rssBeforeMiB: number | null;
  /** Diagnostic: the node's late Raft ticks during the attack (its own metric), null if unknown. */
  lateTicks: number | null;
  report: AttackReport | null;
  error: string | null;
  probes: ProbeFigures | null;
}

export interface BystanderFigures {
  ops: number;
  /** Ops the node did not answer (an error, a timeout, no completion): slower than any bound. */
  failed: number;
  p99Ms: number;
  maxMs: number;
}

/** Latency of the workload's ops invoked in [startMs, endMs]: an op the node did not answer counts as Infinity. */
export function bystander(events: readonly HistoryEvent[], startMs: number, endMs: number): BystanderFigures {
  const lat: number[] = [];
  let failed = 0;
  for (const op of pairOperations(events)) {
    if (op.invokeTime === undefined) continue;
    const at = op.invokeTime / 1e6;
    if (at < startMs || at > endMs) continue;
    // A cas whose comparison failed was answered (fail "mismatch"); any other fail, info or pending was not.
    const answered = op.outcome === 'ok' || (op.outcome === 'fail' && op.error === 'mismatch');
    if (answered && op.completeTime !== undefined) lat.push((op.completeTime - op.invokeTime) / 1e6);
    else {
      failed++;
      lat.push(Infinity);
    }
  }
  lat.sort((a, b) => a - b);
  const p = (q: number): number => (lat.length ? lat[Math.min(lat.length - 1, Math.ceil(q * lat.length) - 1)]! : NaN);
  return { ops: lat.length, failed, p99Ms: round(p(0.99)), maxMs: round(p(1)) };
}

const round = (x: number): number => (Number.isFinite(x) ? Math.round(x * 10) / 10 : x);
const fmt = (x: number): string => (Number.isFinite(x) ? `${x}` : String(x));

export function outcomesText(o: Partial<Record<AbuserOutcome, number>>): string {
  return (
    Object.entries(o)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || 'none'
  );
}

export interface OverloadJudgeInput {
  records: readonly AttackRecord[];
  events: readonly HistoryEvent[];
  budgetMiB: number;
  bystanderP99BoundMs: number;
  healthzBoundMs: number;
}

export interface AttackFigures {
  attack: OverloadAttackName;
  node: number | null;
  rssBeforeMiB: number | null;
  rssPeakMiB: number | null;
  leadershipChanges: number;
  lateTicks: number | null;
  bystander: BystanderFigures;
  /** Diagnostic: the bystander's p99 in the quiet gap just before the attack (what the machine gives anyway). */
  baselineP99Ms: number;
  healthzMaxMs: number | null;
  healthzFailures: number;
  harnessLagMaxMs: number | null;
  abusers: string;
  hung: number;
  error: string | null;
}

export function figures(r: AttackRecord, events: readonly HistoryEvent[]): AttackFigures {
  const o = r.report?.outcomes ?? {};
  const notBounded = Object.entries(o)
    .filter(([k]) => !boundedOutcomes.includes(k as AbuserOutcome))
    .reduce((n, [, v]) => n + (v ?? 0), 0);
  return {
    attack: r.attack,
    node: r.node,
    rssBeforeMiB: r.rssBeforeMiB === null ? null : Math.round(r.rssBeforeMiB),
    rssPeakMiB: r.probes?.rssSamples ? r.probes.rssPeakMiB : null,
    leadershipChanges: r.probes ? Math.max(0, r.probes.leadership.length - 1) : 0,
    lateTicks: r.lateTicks,
    bystander: bystander(events, r.startMs, r.endMs),
    baselineP99Ms: bystander(events, r.quietFromMs, r.startMs).p99Ms,
    healthzMaxMs: r.probes?.healthzProbes ? Math.round(r.probes.healthzMaxMs) : null,
    healthzFailures: r.probes?.healthzFailures.length ?? 0,
    harnessLagMaxMs: r.probes?.harnessLagMaxMs ?? null,
    abusers: r.report ? `${r.report.abusers}: ${outcomesText(o)}` : 'did not run',
    hung: notBounded,
    error: r.error,
  };
}

/** One line per attack, for logs and the report. */
export function figuresLine(f: AttackFigures, budgetMiB: number): string {
  return (
    `${f.attack} -> node ${f.node ?? '?'}: RSS ${f.rssBeforeMiB ?? '?'} -> peak ${f.rssPeakMiB ?? '?'} MiB (budget ${budgetMiB}); ` +
    `leadership changes ${f.leadershipChanges} (late ticks ${f.lateTicks ?? '?'}); bystander p99 ${fmt(f.bystander.p99Ms)} ms over ${f.bystander.ops} ops ` +
    `(${f.bystander.failed} unanswered; ${fmt(f.baselineP99Ms)} ms before the attack); /healthz max ${f.healthzMaxMs ?? '?'} ms, ${f.healthzFailures} failed; ` +
    `harness loop lag max ${f.harnessLagMaxMs ?? '?'} ms; ` +
    `abusers ${f.abusers}${f.error ? `; ERROR ${f.error}` : ''}`
  );
}

/** The detail of each overload verdict: every attack's figures, and the attacks that failed this verdict. */
export interface OverloadVerdictDetail {
  attacks: AttackFigures[];
  failing: OverloadAttackName[];
}

function verdict(
  name: string,
  all: AttackFigures[],
  bad: (f: AttackFigures) => string | null,
  ok: string,
): CheckerVerdict {
  const problems = all.map((f) => [f.attack, bad(f)] as const).filter(([, p]) => p !== null);
  return {
    name,
    valid: all.length > 0 && problems.length === 0,
    summary:
      all.length === 0
        ? 'no attack ran'
        : problems.length === 0
          ? ok
          : problems.map(([a, p]) => `${a}: ${p}`).join('; '),
    detail: { attacks: all, failing: problems.map(([a]) => a) } satisfies OverloadVerdictDetail,
  };
}

export function judgeOverload(input: OverloadJudgeInput): CheckerVerdict[] {
  const all = input.records.map((r) => figures(r, input.events));
  const b = input.budgetMiB;
  const peaks = all.map((f) => `${f.attack} ${f.rssPeakMiB ?? '?'}`).join(', ');
  const p99s = all.map((f) => `${f.attack} ${fmt(f.bystander.p99Ms)}`).join(', ');
  return [
    verdict(
      'overload-memory',
      all,
      (f) =>
        f.rssPeakMiB === null ? 'no RSS sample' : f.rssPeakMiB >= b ? `peak RSS ${f.rssPeakMiB} MiB >= ${b}` : null,
      `peak RSS under ${b} MiB (MiB: ${peaks})`,
    ),
    verdict(
      'overload-leadership',
      all,
      (f) =>
        f.node === null
          ? 'no leader before the attack'
          : f.leadershipChanges > 0
            ? `${f.leadershipChanges} change(s)`
            : null,
      'no leadership change during any attack',
    ),
    verdict(
      'overload-bystander',
      all,
      (f) =>
        f.bystander.ops === 0
          ? 'no bystander op during the attack'
          : !(f.bystander.p99Ms < input.bystanderP99BoundMs)
            ? `p99 ${fmt(f.bystander.p99Ms)} ms >= ${input.bystanderP99BoundMs} ms (${f.bystander.failed}/${f.bystander.ops} unanswered)`
            : null,
      `bystander p99 under ${input.bystanderP99BoundMs} ms (ms: ${p99s})`,
    ),
    verdict(
      'overload-abusers',
      all,
      (f) =>
        f.error !== null
          ? `attack failed: ${f.error}`
          : f.hung > 0
            ? `${f.hung} not refused nor closed (${f.abusers})`
            : null,
      'every abuser was answered, refused or closed by the node within its bound',
    ),
    verdict(
      'overload-healthz',
      all,
      (f) =>
        f.healthzMaxMs === null
          ? 'no /healthz probe'
          : f.healthzFailures > 0 || f.healthzMaxMs >= input.healthzBoundMs
            ? `${f.healthzFailures} probe(s) failed, max ${f.healthzMaxMs} ms`
            : null,
      `/healthz answered within ${input.healthzBoundMs} ms throughout`,
    ),
  ];
}
