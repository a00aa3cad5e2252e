/**
 * Pairing events into operations: each invoke with the next completion of the same process (the parser
 * guarantees at most one outstanding op per process). An invoke with no completion is `pending`.
 * Operations come out in invoke order; `invokeIndex`/`completeIndex` are positions in the event array,
 * which is the real-time order.
 */
import { HistoryFormatError } from './errors';
import type { HistoryEvent, Operation } from './types';

export function pairOperations(events: readonly HistoryEvent[]): Operation[] {
  const ops: Operation[] = [];
  const open = new Map<number, Operation>();
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.type === 'invoke') {
      if (open.has(e.process))
        throw new HistoryFormatError(0, `event ${i}: process ${e.process} invokes while an op is outstanding`);
      const op: Operation = {
        id: ops.length,
        process: e.process,
        f: e.f,
        key: e.key,
        invokeValue: e.value,
        outcome: 'pending',
        resultValue: e.value,
        invokeIndex: i,
        completeIndex: null,
      };
      if (e.time !== undefined) op.invokeTime = e.time;
      ops.push(op);
      open.set(e.process, op);
    } else {
      const op = open.get(e.process);
      if (op === undefined || op.f !== e.f || op.key !== e.key) {
        throw new HistoryFormatError(
          0,
          `event ${i}: ${e.type} for process ${e.process} does not match an outstanding invoke`,
        );
      }
      op.outcome = e.type;
      op.resultValue = e.value;
      op.completeIndex = i;
      if (e.error !== undefined) op.error = e.error;
      if (e.current !== undefined) op.current = e.current;
      if (e.time !== undefined) op.completeTime = e.time;
      open.delete(e.process);
    }
  }
  return ops;
}

/** Summary counts of a history: per outcome and per function. */
export interface HistoryCounts {
  events: number;
  ops: number;
  keys: number;
  byOutcome: Record<'ok' | 'fail' | 'info' | 'pending', number>;
  byFunction: Record<string, Record<'ok' | 'fail' | 'info' | 'pending', number>>;
}

export function countOperations(events: readonly HistoryEvent[], ops: readonly Operation[]): HistoryCounts {
  const byOutcome = { ok: 0, fail: 0, info: 0, pending: 0 };
  const byFunction: HistoryCounts['byFunction'] = {};
  const keys = new Set<string>();
  for (const op of ops) {
    byOutcome[op.outcome]++;
    const fc = (byFunction[op.f] ??= { ok: 0, fail: 0, info: 0, pending: 0 });
    fc[op.outcome]++;
    keys.add(op.key);
  }
  return { events: events.length, ops: ops.length, keys: keys.size, byOutcome, byFunction };
}
