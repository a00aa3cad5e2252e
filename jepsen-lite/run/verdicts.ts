/**
 * Judges a finished run: the workload's checker (linearizability for register, set, bank) plus two
 * checks of the cluster itself: `crashes` (no node exited without the harness killing it) and
 * `recovery` (after healing, a leader was found and every final read succeeded).
 * `divergence` (divergenceVerdict, added by the run after its final reads): every member holds the same data
 * at one applied index.
 * Overall: false if any checker is false; 'unknown' if none is false and some is unknown; else true.
 */
import { checkBank, checkLinearizability, checkSet } from '../checker';
import type { HistoryEvent } from '../history';
import type { UnexpectedExit } from '../cluster/node-process';
import type { WorkloadName } from '../workload/workload';
import type { DivergenceResult } from '../checker/divergence';
import type { NemesisEvent } from '../nemesis/nemesis-log';

export type Validity = boolean | 'unknown';

export interface CheckerVerdict {
  name: string;
  valid: Validity;
  summary: string;
  detail: unknown;
}

export interface RecoveryFacts {
  leaderFound: boolean;
  recoveryMs: number | null;
  finalOps: number;
  finalOk: number;
  okOpsDuringRun: number;
}

export interface VerdictInput {
  workload: WorkloadName;
  events: readonly HistoryEvent[];
  bank?: { total: number; accounts: readonly string[] };
  unexpectedExits: readonly UnexpectedExit[];
  recovery: RecoveryFacts;
  /** Wall-clock budget for the linearizability search. */
  checkTimeLimitMs: number;
}

export function overall(vs: readonly CheckerVerdict[]): Validity {
  if (vs.some((v) => v.valid === false)) return false;
  if (vs.some((v) => v.valid === 'unknown')) return 'unknown';
  return true;
}

export function judge(input: VerdictInput): CheckerVerdict[] {
  const out: CheckerVerdict[] = [];
  switch (input.workload) {
    case 'register': {
      const r = checkLinearizability(input.events, {
        initial: null,
        timeLimitMs: input.checkTimeLimitMs,
        stopAtFirstAnomaly: false,
        shrinkTimeMs: 1000,
      });
      const bad = r.perKey.filter((k) => k.verdict === 'non-linearizable').map((k) => k.key);
      const unknown = r.perKey.filter((k) => k.verdict === 'unknown').length;
      out.push({
        name: 'linearizable',
        valid: r.valid,
        summary:
          r.valid === true
            ? `${r.keys} keys, ${r.ops} ops linearizable (${r.elapsedMs} ms)`
            : r.valid === false
              ? `NOT linearizable: key(s) ${bad.join(', ')}`
              : `undecided for ${unknown} key(s) within the search budget`,
        detail: r,
      });
      break;
    }
    case 'set': {
      const r = checkSet(input.events);
      const c = r.counts;
      out.push({
        name: 'set',
        valid: r.valid,
        summary:
          r.valid === true
            ? 'no lost, unexpected or stale elements'
            : r.valid === false
              ? `anomalies: ${Object.entries(c)
                  .filter(([, n]) => n > 0)
                  .map(([k, n]) => `${k} ${n}`)
                  .join(', ')}`
              : (r.keys.find((k) => k.note)?.note ?? 'inconclusive'),
        detail: r,
      });
      break;
    }
    case 'bank': {
      if (!input.bank) throw new Error('bank verdict needs the total and accounts');
      const r = checkBank(input.events, { total: input.bank.total, accounts: input.bank.accounts });
      out.push({
        name: 'bank',
        valid: r.valid,
        summary:
          r.valid === true
            ? `${r.reads} reads, every total ${input.bank.total}`
            : r.valid === false
              ? `anomalies: ${Object.entries(r.counts)
                  .filter(([, n]) => n > 0)
                  .map(([k, n]) => `${k} ${n}`)
                  .join(', ')}`
              : (r.note ?? 'inconclusive'),
        detail: r,
      });
      break;
    }
  }
  out.push({
    name: 'crashes',
    valid: input.unexpectedExits.length === 0,
    summary:
      input.unexpectedExits.length === 0
        ? 'no node exited on its own'
        : input.unexpectedExits
            .map((e) => `node ${e.id} exited (code ${e.code}, signal ${e.signal}) at ${Math.round(e.atMs)} ms`)
            .join('; '),
    detail: input.unexpectedExits,
  });
  const rec = input.recovery;
  const recovered = rec.leaderFound && rec.finalOps > 0 && rec.finalOk === rec.finalOps && rec.okOpsDuringRun > 0;
  out.push({
    name: 'recovery',
    valid: recovered,
    summary: recovered
      ? `leader after heal in ${rec.recoveryMs} ms; ${rec.finalOk}/${rec.finalOps} final reads ok`
      : `after heal: leader ${rec.leaderFound ? 'found' : 'NOT found'}, ${rec.finalOk}/${rec.finalOps} final reads ok, ${rec.okOpsDuringRun} ok ops in the run`,
    detail: rec,
  });
  return out;
}

/**
 * The checks the nemeses made of the cluster while faulting it (NemesisEvent.check, e.g. a live majority
 * elects a leader in time); null when none made any.
 */
export function availabilityVerdict(events: readonly NemesisEvent[]): CheckerVerdict | null {
  const checks = events.filter((e) => e.check !== undefined);
  if (checks.length === 0) return null;
  const failed = checks.filter((e) => e.check === 'failed');
  return {
    name: 'availability',
    valid: failed.length === 0,
    summary:
      failed.length === 0
        ? `${checks.length} nemesis checks passed`
        : `${failed.length} of ${checks.length} nemesis checks failed: ${failed.map((e) => e.description).join('; ')}`,
    detail: checks,
  };
}

/** The replica-divergence check's verdict (checker/divergence.ts); null: not run (no leader after healing). */
export function divergenceVerdict(r: DivergenceResult | null): CheckerVerdict {
  if (!r) return { name: 'divergence', valid: 'unknown', summary: 'not run: no leader after healing', detail: null };
  return { name: 'divergence', valid: r.valid, summary: r.summary, detail: r };
}
