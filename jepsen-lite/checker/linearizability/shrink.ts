/**
 * A small failing sub-history for a non-linearizable key, found within a time bound. Only shrinking
 * steps that keep the witness sound are used, so the sub-history is itself non-linearizable AND its
 * non-linearizability implies the key's:
 *  1. Shortest failing prefix (binary search over completion points; prefix-closure of linearizability):
 *     ops invoked after the cut are removed, ops completing after it become pending (reads dropped).
 *  2. Removal of read-only ops (ok gets, cas mismatch observations), delta-debugging style: removing a
 *     read from a linearizable history leaves it linearizable, so a failing remainder proves the original.
 * The last op of the shortest prefix is `failingOp`: the completion after which no linearization exists.
 * Each candidate is checked with its own bounded search; an undecided check counts as "not failing".
 */
import type { HistoryEvent, Operation } from '../../history';
import { OpKind, type KeyModel, type ModelOp } from './register-model';
import { WglSearch } from './wgl-search';

export interface FailingOp {
  process: number;
  f: string;
  value: unknown;
  outcome: string;
  /** 0-based event positions. */
  invokeIndex: number;
  completeIndex: number | null;
}

export interface Anomaly {
  key: string;
  /** The failing sub-history: events of the original history, in order; non-linearizable on its own. */
  subhistory: HistoryEvent[];
  /** 0-based positions in the original event array of the sub-history's events. */
  eventIndexes: number[];
  /** Operations in the sub-history, and of this key in the whole history. */
  ops: number;
  keyOps: number;
  /** The op after whose completion the key has no linearization (end of the shortest failing prefix). */
  failingOp: FailingOp | null;
  shrink: { complete: boolean; checks: number; elapsedMs: number };
  explanation: string;
}

export interface ShrinkOptions {
  /** Time bound; 0 returns the key's whole history as the sub-history. */
  timeMs: number;
  /** Step budget for each candidate check. Default 300,000. */
  stepsPerCheck?: number;
}

const isReadOnly = (op: ModelOp): boolean => op.kind === OpKind.Read || op.kind === OpKind.Mismatch;

/** The ops of the prefix that ends at event position `cut` (inclusive). */
function prefixOps(ops: readonly ModelOp[], cut: number): ModelOp[] {
  const out: ModelOp[] = [];
  for (const op of ops) {
    if (op.call > cut) continue;
    if (op.ret <= cut) out.push(op);
    else if (!isReadOnly(op)) out.push(op.required ? { ...op, required: false, ret: Infinity } : op);
  }
  return out;
}

export function shrinkFailingKey(
  events: readonly HistoryEvent[],
  operations: readonly Operation[],
  model: KeyModel,
  options: ShrinkOptions,
): Anomaly {
  const t0 = performance.now();
  const deadline = t0 + options.timeMs;
  const stepsPerCheck = options.stepsPerCheck ?? 300_000;
  let checks = 0;
  let complete = true;
  // A candidate fails if its search refutes it within the step budget and the time bound.
  const fails = (ops: ModelOp[]): boolean => {
    checks++;
    const s = new WglSearch(ops, model.initialState, model.values, { cacheBytesMax: 64 * 1024 * 1024 });
    let status = s.run(Math.min(50_000, stepsPerCheck));
    while (status === 'running' && s.steps < stepsPerCheck) {
      if (performance.now() > deadline) {
        complete = false;
        break;
      }
      status = s.run(Math.min(50_000, stepsPerCheck - s.steps));
    }
    s.release();
    return status === 'illegal';
  };

  let witness: ModelOp[] = model.ops.slice();
  let failingRet: number | null = null;
  if (options.timeMs > 0) {
    // 1. Shortest failing prefix. cuts[hi] (the last completion) is known to fail.
    const cuts = [...new Set(model.ops.filter((o) => o.required).map((o) => o.ret))].sort((a, b) => a - b);
    let lo = 0;
    let hi = cuts.length - 1;
    while (lo < hi) {
      if (performance.now() > deadline) {
        complete = false;
        break;
      }
      const mid = (lo + hi) >> 1;
      if (fails(prefixOps(model.ops, cuts[mid]!))) hi = mid;
      else lo = mid + 1;
    }
    if (cuts.length > 0) {
      failingRet = cuts[hi]!;
      witness = prefixOps(model.ops, failingRet);
    }
    // 2. Remove read-only ops, in chunks then one by one (ddmin-style), while it keeps failing.
    let chunk = Math.max(1, witness.filter(isReadOnly).length >> 1);
    while (complete) {
      let removedAny = false;
      const reads = witness.filter((o) => isReadOnly(o) && o.ret !== failingRet);
      for (let start = 0; start < reads.length; start += chunk) {
        if (performance.now() > deadline) {
          complete = false;
          break;
        }
        const drop = new Set(reads.slice(start, start + chunk));
        const candidate = witness.filter((o) => !drop.has(o));
        if (fails(candidate)) {
          witness = candidate;
          removedAny = true;
        }
      }
      if (!complete) break;
      if (chunk === 1 && !removedAny) break;
      if (!removedAny) chunk = Math.max(1, chunk >> 1);
    }
  } else complete = false;

  // Events of the witness: invoke lines, plus completion lines where the op still completes in it.
  const indexes: number[] = [];
  for (const m of witness) {
    const op = operations[m.opId]!;
    indexes.push(op.invokeIndex);
    const truncated = failingRet !== null && op.completeIndex !== null && op.completeIndex > failingRet;
    if (op.completeIndex !== null && !truncated) indexes.push(op.completeIndex);
  }
  indexes.sort((a, b) => a - b);
  const failing = failingRet === null ? null : operations[witness.find((o) => o.ret === failingRet)?.opId ?? -1];
  const failingOp: FailingOp | null =
    failing === undefined || failing === null
      ? null
      : {
          process: failing.process,
          f: failing.f,
          value: failing.outcome === 'ok' ? failing.resultValue : failing.invokeValue,
          outcome: failing.outcome,
          invokeIndex: failing.invokeIndex,
          completeIndex: failing.completeIndex,
        };
  const explanation =
    failingOp === null
      ? `key ${JSON.stringify(model.key)} has no linearization (${model.ops.length} ops; not shrunk)`
      : `no linearization of key ${JSON.stringify(model.key)} exists once process ${failingOp.process}'s ${failingOp.f} ` +
        `${JSON.stringify(failingOp.value)} completes (event ${failingOp.completeIndex}); the ${witness.length} ops below ` +
        `(from ${model.ops.length}) are already non-linearizable on their own`;
  return {
    key: model.key,
    explanation,
    failingOp,
    ops: witness.length,
    keyOps: model.ops.length,
    shrink: { complete, checks, elapsedMs: Math.round(performance.now() - t0) },
    eventIndexes: indexes,
    subhistory: indexes.map((i) => events[i]!),
  };
}
