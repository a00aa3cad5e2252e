/**
 * Set checker for the `set` workload.
 *
 * History shape (`jepsen-lite-history/v1` events; `key` names the set, each key is checked on its own):
 *   {"process":0,"type":"invoke","f":"add","key":"s","value":17}      then ok / fail / info, same value
 *   {"process":1,"type":"invoke","f":"read","key":"s","value":null}
 *   {"process":1,"type":"ok","f":"read","key":"s","value":[3,17,5]}  (every element read; fail/info: null)
 * Each add value is unique (number or string). Reads may happen at any time; the *final* reads are the
 * ok reads invoked after every add has been invoked and every ok/fail add has completed (the harness does
 * them after healing the cluster). Elements are compared by their JSON text (17 and "17" differ).
 *
 * Anomalies (valid = none of them, and at least one final read exists; no final read = 'unknown'):
 *  - lost: an element acknowledged (ok add) or seen by a read, both completed before a final read was
 *    invoked, but missing from that final read;
 *  - unexpected: an element read that no add ever attempted;
 *  - failedPresent: an element read whose add definitely failed (type fail);
 *  - duplicated: an element that appears more than once in one read;
 *  - stale: the same for a non-final ok read (adds never go away, so a linearizable read sees every add
 *    acknowledged, and every element read, before it started). Reads done as several linearizable
 *    page reads (scan) still satisfy this.
 * info/pending adds may or may not be present: counted as `recovered` when read, never an anomaly.
 */
import { TesseraError } from '../../src/base';
import { pairOperations, type HistoryEvent, type Operation, type Scalar } from '../history';

export interface SetElementAnomaly {
  element: Scalar;
  /** Event position of the read that shows it (invoke of the read). */
  readIndex: number;
}

export interface SetKeyResult {
  key: string;
  valid: boolean | 'unknown';
  attempted: number;
  acknowledged: number;
  finalReads: number;
  /** Elements read whose add was info/pending. */
  recovered: number;
  lost: SetElementAnomaly[];
  unexpected: SetElementAnomaly[];
  failedPresent: SetElementAnomaly[];
  duplicated: SetElementAnomaly[];
  stale: SetElementAnomaly[];
  note?: string;
}

export interface SetCheckResult {
  valid: boolean | 'unknown';
  keys: SetKeyResult[];
}

/** Anomaly lists are capped so a badly broken run gives a readable result; counts stay exact. */
const LIST_MAX = 100;

function push(list: SetElementAnomaly[], a: SetElementAnomaly, counter: { n: number }): void {
  counter.n++;
  if (list.length < LIST_MAX) list.push(a);
}

const keyOf = (v: Scalar): string => JSON.stringify(v);

function checkOneSet(key: string, ops: readonly Operation[]): SetKeyResult & { counts: Record<string, number> } {
  const adds = ops.filter((o) => o.f === 'add');
  const reads = ops.filter((o) => o.f === 'read' && o.outcome === 'ok');
  const addByElement = new Map<string, Operation>();
  for (const a of adds) addByElement.set(keyOf(a.invokeValue as Scalar), a);
  const lastAddInvoke = adds.reduce((m, a) => Math.max(m, a.invokeIndex), -1);
  const lastAddCompletion = adds.reduce(
    (m, a) => (a.outcome === 'ok' || a.outcome === 'fail' ? Math.max(m, a.completeIndex!) : m),
    -1,
  );
  const isFinal = (r: Operation): boolean => r.invokeIndex > lastAddInvoke && r.invokeIndex > lastAddCompletion;

  const res: SetKeyResult = {
    key,
    valid: true,
    attempted: adds.length,
    acknowledged: adds.filter((a) => a.outcome === 'ok').length,
    finalReads: 0,
    recovered: 0,
    lost: [],
    unexpected: [],
    failedPresent: [],
    duplicated: [],
    stale: [],
  };
  const counts = {
    lost: { n: 0 },
    unexpected: { n: 0 },
    failedPresent: { n: 0 },
    duplicated: { n: 0 },
    stale: { n: 0 },
  };
  const recovered = new Set<string>();
  // For each element, the earliest completion of an ok read that saw it.
  const firstSeenCompletion = new Map<string, number>();
  for (const r of reads) {
    for (const el of r.resultValue as Scalar[]) {
      const k = keyOf(el);
      const at = firstSeenCompletion.get(k);
      if (at === undefined || r.completeIndex! < at) firstSeenCompletion.set(k, r.completeIndex!);
    }
  }
  for (const r of reads) {
    const seen = new Set<string>();
    for (const el of r.resultValue as Scalar[]) {
      const k = keyOf(el);
      if (seen.has(k)) push(res.duplicated, { element: el, readIndex: r.invokeIndex }, counts.duplicated);
      seen.add(k);
      const add = addByElement.get(k);
      if (add === undefined) push(res.unexpected, { element: el, readIndex: r.invokeIndex }, counts.unexpected);
      else if (add.outcome === 'fail')
        push(res.failedPresent, { element: el, readIndex: r.invokeIndex }, counts.failedPresent);
      else if (add.outcome === 'info' || add.outcome === 'pending') recovered.add(k);
    }
    const final = isFinal(r);
    if (final) res.finalReads++;
    // Elements known present before this read was invoked: acknowledged adds, and elements seen by
    // reads that completed before it. Missing from a final read: lost; from an earlier read: stale.
    const missing = new Set<string>();
    for (const a of adds) {
      if (a.outcome !== 'ok' || a.completeIndex! > r.invokeIndex) continue;
      const k = keyOf(a.invokeValue as Scalar);
      if (!seen.has(k)) missing.add(k);
    }
    for (const [k, seenAt] of firstSeenCompletion) {
      if (seenAt > r.invokeIndex || seen.has(k)) continue;
      const add = addByElement.get(k);
      if (add !== undefined && add.outcome !== 'fail') missing.add(k);
    }
    for (const k of missing) {
      const element = addByElement.get(k)!.invokeValue as Scalar;
      push(final ? res.lost : res.stale, { element, readIndex: r.invokeIndex }, final ? counts.lost : counts.stale);
    }
  }
  res.recovered = recovered.size;
  const flat = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v.n]));
  const anomalies = Object.values(flat).reduce((s, n) => s + n, 0);
  if (anomalies > 0) res.valid = false;
  else if (res.finalReads === 0) {
    res.valid = 'unknown';
    res.note = 'no final read (an ok read invoked after every add)';
  }
  return { ...res, counts: flat };
}

/** Checks every set (key) in a set-workload history. */
export function checkSet(events: readonly HistoryEvent[]): SetCheckResult & { counts: Record<string, number> } {
  const ops = pairOperations(events);
  const byKey = new Map<string, Operation[]>();
  for (const op of ops) {
    if (op.f !== 'add' && op.f !== 'read')
      throw new TesseraError('INVALID_ARGUMENT', `set checker: unexpected operation ${op.f} (expected add or read)`);
    let list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, (list = []));
    list.push(op);
  }
  const keys: SetKeyResult[] = [];
  const counts: Record<string, number> = { lost: 0, unexpected: 0, failedPresent: 0, duplicated: 0, stale: 0 };
  let valid: boolean | 'unknown' = true;
  for (const [key, list] of byKey) {
    const { counts: c, ...r } = checkOneSet(key, list);
    keys.push(r);
    for (const [k, n] of Object.entries(c)) counts[k] = (counts[k] ?? 0) + n;
    if (r.valid === false) valid = false;
    else if (r.valid === 'unknown' && valid === true) valid = 'unknown';
  }
  if (byKey.size === 0) valid = 'unknown';
  return { valid, keys, counts };
}
