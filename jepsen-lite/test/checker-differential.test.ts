/**
 * Differential test: the WGL checker against a brute-force reference (every real-time-respecting order
 * of every subset of optional ops, no pruning) on small random single-key histories. Seeded: a failure
 * prints the seed and the history; replay with JL_CHECKER_SEED=<seed>.
 */
import { describe, expect, it } from 'vitest';
import { Random } from '../../src/base';
import { checkLinearizability } from '../checker';
import {
  historyToJsonl,
  pairOperations,
  parseHistory,
  type HistoryEvent,
  type Operation,
  type Scalar,
} from '../history';

/** Reference semantics, written independently of register-model.ts. */
function bruteForce(events: HistoryEvent[], initial: Scalar): boolean {
  const ops = pairOperations(events).filter((o) => {
    if (o.outcome === 'fail') return o.f === 'cas' && o.error === 'mismatch';
    if (o.f === 'get') return o.outcome === 'ok';
    return true;
  });
  const required = (o: Operation): boolean => o.outcome === 'ok' || o.outcome === 'fail';
  const precedes = (a: Operation, b: Operation): boolean => required(a) && a.completeIndex! < b.invokeIndex;
  const step = (o: Operation, s: Scalar): { ok: boolean; s: Scalar } => {
    switch (o.f) {
      case 'get':
        return { ok: s === o.resultValue, s };
      case 'put':
        return { ok: true, s: o.invokeValue as Scalar };
      case 'delete':
        return { ok: true, s: null };
      case 'append':
        return { ok: true, s: (s === null ? '' : String(s)) + (o.invokeValue as string) };
      case 'cas': {
        const [e, n] = o.invokeValue as [Scalar, Scalar];
        if (o.outcome === 'fail') return { ok: s !== e && (o.current === undefined || s === o.current), s };
        return { ok: s === e, s: n };
      }
      default:
        throw new Error(o.f);
    }
  };
  const placed = new Array<boolean>(ops.length).fill(false);
  const search = (s: Scalar): boolean => {
    if (ops.every((o, i) => placed[i] || !required(o))) return true;
    for (let i = 0; i < ops.length; i++) {
      if (placed[i]) continue;
      const o = ops[i]!;
      if (ops.some((p, j) => !placed[j] && precedes(p, o))) continue;
      const r = step(o, s);
      if (!r.ok) continue;
      placed[i] = true;
      const found = search(r.s);
      placed[i] = false;
      if (found) return true;
    }
    return false;
  };
  return search(initial);
}

/** An integer in [0, n). */
const below = (rng: Random, n: number): number => rng.int(0, n - 1);

function randomHistory(
  rng: Random,
  opCount: number,
  processes: number,
  strings: boolean,
  currentAlways: boolean,
): HistoryEvent[] {
  const values: Scalar[] = strings ? [null, 'x', 'y', 'xa'] : [null, 1, 2, 3];
  const pick = <T>(xs: readonly T[]): T => xs[below(rng, xs.length)]!;
  const events: HistoryEvent[] = [];
  const open = new Map<number, HistoryEvent>();
  let started = 0;
  // Keep a plausible current value so that many histories are linearizable.
  let model: Scalar = null;
  while (started < opCount || open.size > 0) {
    const idle = [...Array(processes).keys()].filter((p) => !open.has(p));
    if (started < opCount && idle.length > 0 && (open.size === 0 || below(rng, 2) === 0)) {
      const p = pick(idle);
      const fs = strings
        ? (['get', 'put', 'append', 'cas', 'delete'] as const)
        : (['get', 'put', 'cas', 'delete'] as const);
      const f = pick(fs);
      const value =
        f === 'get' || f === 'delete'
          ? null
          : f === 'put'
            ? below(rng, 4) === 0
              ? strings
                ? `u${started}`
                : 100 + started // a unique value, often never read
              : pick(values.slice(1))
            : f === 'append'
              ? 'a'
              : [pick(values), below(rng, 4) === 0 ? (strings ? `u${started}` : 100 + started) : pick(values.slice(1))];
      const inv: HistoryEvent = { process: p, type: 'invoke', f, key: 'k', value: value as HistoryEvent['value'] };
      events.push(inv);
      open.set(p, inv);
      started++;
      continue;
    }
    const p = pick([...open.keys()]);
    const inv = open.get(p)!;
    open.delete(p);
    if (started >= opCount && below(rng, 8) === 0) continue; // stays pending
    const roll = below(rng, 10);
    if (inv.f === 'get') {
      const v = roll < 6 ? model : pick(values);
      events.push(roll === 9 ? { ...inv, type: 'info', value: null } : { ...inv, type: 'ok', value: v });
    } else if (inv.f === 'cas') {
      const [e, n] = inv.value as [Scalar, Scalar];
      if (roll < 2) events.push({ ...inv, type: 'info' });
      else if (roll < 4) events.push({ ...inv, type: 'fail' });
      else if (model !== e || roll < 6) {
        const withCurrent = (currentAlways || below(rng, 2) === 0) && model !== e;
        events.push({ ...inv, type: 'fail', error: 'mismatch', ...(withCurrent ? { current: model } : {}) });
      } else {
        model = n;
        events.push({ ...inv, type: 'ok' });
      }
    } else {
      if (roll < 2) events.push({ ...inv, type: 'info', error: 'timed-out' });
      else if (roll < 3) events.push({ ...inv, type: 'fail' });
      else {
        model =
          inv.f === 'put'
            ? (inv.value as Scalar)
            : inv.f === 'delete'
              ? null
              : (model === null ? '' : String(model)) + 'a';
        events.push({ ...inv, type: 'ok' });
      }
    }
  }
  return events;
}

function agreeOn(baseSeed: number, histories: number): void {
  let linearizable = 0;
  for (let i = 0; i < histories; i++) {
    const seed = baseSeed + i;
    const rng = new Random(seed);
    const events = parseHistory(
      historyToJsonl(
        randomHistory(rng, 3 + below(rng, 5), 2 + below(rng, 3), below(rng, 2) === 0, below(rng, 2) === 0),
      ),
    );
    const initial: Scalar = below(rng, 3) === 0 ? 1 : null;
    const expected = bruteForce(events, initial);
    const got = checkLinearizability(events, { initial }).valid;
    if (got !== expected) {
      console.error(
        `seed ${seed} (replay: JL_CHECKER_SEED=${seed} npx vitest run jepsen-lite/test/checker-differential.test.ts), initial ${JSON.stringify(initial)}:\n${historyToJsonl(events)}`,
      );
    }
    expect(got, `seed ${seed}`).toBe(expected);
    if (expected) linearizable++;
  }
  // The generator must produce both verdicts in useful numbers.
  if (histories > 100) {
    expect(linearizable).toBeGreaterThan(histories * 0.2);
    expect(linearizable).toBeLessThan(histories * 0.8);
  }
}

describe('WGL checker vs brute force', () => {
  const envSeed = process.env.JL_CHECKER_SEED;
  if (envSeed !== undefined) {
    it(`agrees on the history of seed ${envSeed}`, () => agreeOn(Number(envSeed), 1));
    return;
  }
  it('agrees on 1500 random histories of a fixed seed range (20240001..20241500)', () => agreeOn(20_240_001, 1500));
  const fresh = (Date.now() % 4_000_000) * 1000; // below 2^32, so the seed replays exactly
  it(`agrees on 300 random histories of fresh seeds ${fresh}..${fresh + 299}`, () => {
    console.log(`fresh seeds ${fresh}..${fresh + 299}; a failure prints its seed and a replay command`);
    agreeOn(fresh, 300);
  });
});
