/**
 * Linearizability check of a register history: partition by key (linearizability is local), then run one
 * resumable WGL search per key, interleaved round-robin in slices of steps, so that one adversarial key
 * cannot starve the others. By default the first non-linearizable key decides the history and the other
 * searches are cancelled (like Porcupine). Each key has a step budget and a cache-memory budget, and the
 * whole check may have a time limit: when one runs out the key's verdict is 'unknown', never a guess.
 *
 * Verdict: false if some key is non-linearizable; otherwise 'unknown' if some key is unknown; else true.
 * For each non-linearizable key, a small failing sub-history is searched for within a time bound
 * (see shrink.ts).
 */
import { TesseraError } from '../../../src/base';
import { pairOperations, type HistoryEvent, type Operation, type Scalar } from '../../history';
import { compileByKey, type KeyModel } from './register-model';
import { shrinkFailingKey, type Anomaly } from './shrink';
import { WglSearch } from './wgl-search';

export type Verdict = true | false | 'unknown';

export type KeyVerdict = 'linearizable' | 'non-linearizable' | 'unknown' | 'cancelled';

export interface KeyResult {
  key: string;
  /** Operations that constrain the search (required + optional; dropped ones not counted). */
  ops: number;
  verdict: KeyVerdict;
  steps: number;
  /** Why the verdict is 'unknown' or 'cancelled'. */
  reason?: string;
}

export interface LinearizabilityOptions {
  /** Initial value of every key (null = absent). */
  initial?: Scalar;
  /** Search steps per key before its verdict is 'unknown'. Default 20,000,000. */
  stepsPerKeyMax?: number;
  /** Cache bytes per key before its verdict is 'unknown'. Default 512 MiB. */
  cacheBytesPerKeyMax?: number;
  /** Cache bytes of all keys searched at once; over it, the key with the largest cache becomes 'unknown'.
   *  Default 1 GiB. */
  cacheBytesTotalMax?: number;
  /** Wall-clock limit for the whole search (not counting shrinking); undecided keys become 'unknown'. */
  timeLimitMs?: number;
  /** Stop at the first non-linearizable key (default true). False checks every key. */
  stopAtFirstAnomaly?: boolean;
  /** Search for a small failing sub-history of each non-linearizable key (default true). */
  shrink?: boolean;
  /** Time bound for shrinking, per anomaly. Default 2000 ms. */
  shrinkTimeMs?: number;
  /** Shrink at most this many anomalies (the others report their key's whole history). Default 10. */
  shrinkKeysMax?: number;
  /** Steps per slice of the round-robin scheduler. Default 20,000. */
  sliceSteps?: number;
}

export interface LinearizabilityResult {
  valid: Verdict;
  /** Number of keys. */
  keys: number;
  /** Number of operations in the history (all outcomes). */
  ops: number;
  perKey: KeyResult[];
  anomalies: Anomaly[];
  elapsedMs: number;
}

interface Running {
  model: KeyModel;
  /** Created at the key's first slice, so that only undecided keys hold search memory. */
  search: WglSearch | null;
  result: KeyResult;
}

function searchOf(r: Running, cacheBytesMax: number): WglSearch {
  r.search ??= new WglSearch(r.model.ops, r.model.initialState, r.model.values, { cacheBytesMax });
  return r.search;
}

/** Checks a parsed history. Throws TesseraError INVALID_ARGUMENT if it holds non-register operations. */
export function checkLinearizability(
  events: readonly HistoryEvent[],
  options: LinearizabilityOptions = {},
): LinearizabilityResult {
  const t0 = performance.now();
  const operations = pairOperations(events);
  const result = checkOperations(events, operations, options);
  result.elapsedMs = Math.round(performance.now() - t0);
  return result;
}

/** As checkLinearizability, with operations already paired. */
export function checkOperations(
  events: readonly HistoryEvent[],
  operations: readonly Operation[],
  options: LinearizabilityOptions = {},
): LinearizabilityResult {
  const t0 = performance.now();
  const initial = options.initial ?? null;
  const stepsPerKeyMax = options.stepsPerKeyMax ?? 20_000_000;
  const cacheBytesMax = options.cacheBytesPerKeyMax ?? 512 * 1024 * 1024;
  const cacheBytesTotalMax = options.cacheBytesTotalMax ?? 1024 * 1024 * 1024;
  const sliceSteps = options.sliceSteps ?? 20_000;
  const stopAtFirst = options.stopAtFirstAnomaly ?? true;
  if (!(stepsPerKeyMax > 0) || !(sliceSteps > 0))
    throw new TesseraError('INVALID_ARGUMENT', 'step budgets must be positive');
  const deadline = options.timeLimitMs === undefined ? Infinity : t0 + options.timeLimitMs;

  const models = compileByKey(operations, initial);
  const perKey: KeyResult[] = [];
  let active: Running[] = [];
  for (const model of models) {
    const result: KeyResult = { key: model.key, ops: model.ops.length, verdict: 'unknown', steps: 0 };
    perKey.push(result);
    active.push({ model, search: null, result });
  }

  const failing: Running[] = [];
  let stopReason: string | null = null;
  while (active.length > 0 && stopReason === null) {
    const stillRunning: Running[] = [];
    for (const r of active) {
      if (stopReason !== null) {
        stillRunning.push(r);
        continue;
      }
      const search = searchOf(r, cacheBytesMax);
      const status = search.run(Math.min(sliceSteps, stepsPerKeyMax - search.steps));
      r.result.steps = search.steps;
      if (status === 'running') {
        if (search.steps >= stepsPerKeyMax) {
          r.result.verdict = 'unknown';
          r.result.reason = `step budget of ${stepsPerKeyMax} exhausted`;
          search.release();
        } else stillRunning.push(r);
      } else {
        if (status === 'linearizable') r.result.verdict = 'linearizable';
        else if (status === 'illegal') {
          r.result.verdict = 'non-linearizable';
          failing.push(r);
          if (stopAtFirst) stopReason = `cancelled: key ${JSON.stringify(r.model.key)} is not linearizable`;
        } else {
          r.result.verdict = 'unknown';
          r.result.reason = `cache memory budget of ${cacheBytesMax} bytes exhausted`;
        }
        search.release();
        r.search = null;
      }
      if (stopReason === null && performance.now() > deadline)
        stopReason = `time limit of ${options.timeLimitMs} ms reached`;
    }
    active = stillRunning;
    // Many hard keys at once: give up the biggest cache rather than run out of memory.
    const bytesOf = (r: Running): number => r.search?.cacheBytes ?? 0;
    let totalBytes = active.reduce((sum, r) => sum + bytesOf(r), 0);
    while (totalBytes > cacheBytesTotalMax && active.length > 0) {
      const biggest = active.reduce((a, b) => (bytesOf(b) > bytesOf(a) ? b : a));
      totalBytes -= bytesOf(biggest);
      biggest.result.verdict = 'unknown';
      biggest.result.reason = `total cache memory budget of ${cacheBytesTotalMax} bytes exhausted`;
      biggest.search?.release();
      biggest.search = null;
      active = active.filter((r) => r !== biggest);
    }
  }
  for (const r of active) {
    r.result.verdict = failing.length > 0 ? 'cancelled' : 'unknown';
    r.result.reason = stopReason ?? 'stopped';
    r.search?.release();
    r.search = null;
  }

  // Shrinking checks get twice the steps the key's own refutation took (sub-histories are usually easier).
  const shrinkKeysMax = options.shrinkKeysMax ?? 10;
  const anomalies: Anomaly[] = failing.map((r, i) =>
    shrinkFailingKey(events, operations, r.model, {
      timeMs: options.shrink === false || i >= shrinkKeysMax ? 0 : (options.shrinkTimeMs ?? 2000),
      stepsPerCheck: Math.max(100_000, 2 * r.result.steps),
    }),
  );
  const valid: Verdict =
    failing.length > 0 ? false : perKey.every((k) => k.verdict === 'linearizable') ? true : 'unknown';
  return {
    valid,
    keys: models.length,
    ops: operations.length,
    perKey,
    anomalies,
    elapsedMs: Math.round(performance.now() - t0),
  };
}
