import { describe, expect, it } from 'vitest';
import { checkLinearizability, type LinearizabilityOptions } from '../checker';
import { syntheticRegisterHistory } from '../checker/synthetic-history';
import { parseHistory, historyToJsonl, type HistoryEvent, type Scalar } from '../history';
import { ev, get, put, seq } from './checker-helpers';

const check = (events: HistoryEvent[], options: LinearizabilityOptions = {}) =>
  checkLinearizability(parseHistory(historyToJsonl(events)), options).valid;

describe('register semantics', () => {
  it('ok get reads the current value; the initial value applies to every key', () => {
    expect(check([...put(0, 1), ...get(1, 1)])).toBe(true);
    expect(check([...put(0, 1), ...get(1, 2)])).toBe(false);
    expect(check(get(0, null))).toBe(true);
    expect(check(get(0, 0))).toBe(false);
    expect(check(get(0, 0), { initial: 0 })).toBe(true);
    expect(check([...get(0, ''), ...get(1, '', { key: 'other' })], { initial: '' })).toBe(true);
  });

  it('real-time order comes from line order only, not from time fields', () => {
    // put 1 completes before get is invoked: the get must see 1.
    expect(check([...put(0, 1, { time: 5 }), ...get(1, null, { time: 5 })].map((e) => ({ ...e, time: 5 })))).toBe(
      false,
    );
    // Overlapping: the get may be linearized before the put.
    expect(
      check([ev(0, 'invoke', 'put', 1), ev(1, 'invoke', 'get', null), ev(0, 'ok', 'put', 1), ev(1, 'ok', 'get', null)]),
    ).toBe(true);
  });

  it('delete makes the key absent; append concatenates (absent as "")', () => {
    expect(check([...put(0, 'x'), ...seq(0, 'delete', null), ...get(1, null)])).toBe(true);
    expect(check([...put(0, 'x'), ...seq(0, 'delete', null), ...get(1, 'x')])).toBe(false);
    expect(check([...seq(0, 'append', 'a'), ...seq(1, 'append', 'b'), ...get(0, 'ab')])).toBe(true);
    expect(check([...seq(0, 'append', 'a'), ...seq(1, 'append', 'b'), ...get(0, 'ba')])).toBe(false);
  });

  it('ok cas requires the expected value and sets the new one', () => {
    expect(check([...put(0, 1), ...seq(1, 'cas', [1, 2]), ...get(0, 2)])).toBe(true);
    expect(check([...put(0, 1), ...seq(1, 'cas', [3, 2])])).toBe(false);
    expect(check([...seq(1, 'cas', [null, 2]), ...get(0, 2)])).toBe(true);
  });

  it('cas fail "mismatch" is an observation: linearized with no state change', () => {
    const mismatch = (expected: Scalar, next: Scalar, extra: Partial<HistoryEvent> = {}) =>
      seq(1, 'cas', [expected, next], [expected, next], 'fail', { error: 'mismatch', ...extra });
    // The value is 1, so a compare against 1 cannot have failed.
    expect(check([...put(0, 1), ...mismatch(1, 2)])).toBe(false);
    expect(check([...put(0, 1), ...mismatch(3, 2), ...get(0, 1)])).toBe(true);
    // Concurrent with a put of 3: it can be placed after the put, when the value is 3.
    expect(
      check([
        ...put(0, 1),
        ev(0, 'invoke', 'put', 3),
        ev(1, 'invoke', 'cas', [1, 2]),
        ev(1, 'fail', 'cas', [1, 2], { error: 'mismatch' }),
        ev(0, 'ok', 'put', 3),
      ]),
    ).toBe(true);
    // Concurrent with a put of 1 when the value was 3: it can be placed before the put.
    expect(
      check([
        ...put(0, 3),
        ev(0, 'invoke', 'put', 1),
        ev(1, 'invoke', 'cas', [1, 2]),
        ev(1, 'fail', 'cas', [1, 2], { error: 'mismatch' }),
        ev(0, 'ok', 'put', 1),
      ]),
    ).toBe(true);
    // It must be linearized somewhere: the value is 1 throughout its interval (the concurrent put writes 1).
    expect(check([...put(0, 1), ev(2, 'invoke', 'put', 1), ...mismatch(1, 2), ev(2, 'ok', 'put', 1)])).toBe(false);
  });

  it('cas fail "mismatch" with current is a read of current', () => {
    const mismatch = (current: Scalar) => seq(1, 'cas', [5, 6], [5, 6], 'fail', { error: 'mismatch', current });
    expect(check([...put(0, 1), ...mismatch(1)])).toBe(true);
    expect(check([...put(0, 1), ...mismatch(2)])).toBe(false);
    expect(check([...put(0, 1), ...mismatch(null)])).toBe(false);
    expect(check(mismatch(null))).toBe(true);
  });

  it('a cas fail without "mismatch" and any other fail give no information', () => {
    expect(check([...put(0, 1), ...seq(1, 'cas', [1, 2], [1, 2], 'fail'), ...get(0, 1)])).toBe(true);
    expect(check([...put(0, 1), ...seq(1, 'cas', [1, 2], [1, 2], 'fail', { error: 'timed-out' }), ...get(0, 1)])).toBe(
      true,
    );
    expect(check([...put(0, 1), ...seq(1, 'put', 7, 7, 'fail'), ...get(0, 1)])).toBe(true);
    expect(check([...put(0, 1), ...seq(1, 'put', 7, 7, 'fail'), ...get(0, 7)])).toBe(false);
    expect(check([...seq(1, 'get', null, null, 'fail'), ...put(0, 1)])).toBe(true);
  });

  it('an info put may or may not take effect', () => {
    const info = seq(1, 'put', 2, 2, 'info', { error: 'timed-out' });
    expect(check([...put(0, 1), ...info, ...get(0, 2)])).toBe(true);
    expect(check([...put(0, 1), ...info, ...get(0, 1)])).toBe(true);
    // ... but at most once: 2, then 1 (by a put after it), then 2 again is impossible.
    expect(check([...put(0, 1), ...info, ...get(0, 2), ...put(0, 1), ...get(0, 2)])).toBe(false);
  });

  it('an info op may take effect after its info line (return time +infinity)', () => {
    const info = seq(1, 'put', 2, 2, 'info', { error: 'timed-out' });
    // Reads 1 after the info line, then 2: the put took effect after its info line.
    expect(check([...put(0, 1), ...info, ...get(0, 1), ...get(0, 2)])).toBe(true);
    // An info op also gets no program-order constraint from its own process's later ops.
    expect(check([...put(0, 1), ...info, ...put(1, 3), ...get(0, 3), ...get(0, 2)])).toBe(true);
  });

  it('an info cas either did nothing or did its compare-and-set', () => {
    const infoCas = seq(1, 'cas', [1, 2], [1, 2], 'info');
    expect(check([...put(0, 1), ...infoCas, ...get(0, 2)])).toBe(true);
    expect(check([...put(0, 1), ...infoCas, ...get(0, 1)])).toBe(true);
    // The compare could never succeed (value 5 throughout): reading 2 is impossible.
    expect(check([...put(0, 5), ...infoCas, ...get(0, 2)])).toBe(false);
  });

  it('an info get observes nothing', () => {
    expect(check([...put(0, 1), ...seq(1, 'get', null, null, 'info'), ...get(0, 1)])).toBe(true);
  });

  it('pending ops (no completion) may or may not take effect, at any time after their invoke', () => {
    expect(check([...put(0, 1), ev(1, 'invoke', 'put', 2), ...get(0, 1), ...get(0, 2)])).toBe(true);
    expect(check([...put(0, 1), ev(1, 'invoke', 'put', 2), ...get(0, 1)])).toBe(true);
    // Not before its invoke: the read of 2 completes before the put is invoked.
    expect(check([...put(0, 1), ...get(0, 2), ev(1, 'invoke', 'put', 2)])).toBe(false);
    // A pending get is dropped.
    expect(check([...put(0, 1), ev(1, 'invoke', 'get', null)])).toBe(true);
  });

  it('keys are independent registers', () => {
    expect(check([...put(0, 1, { key: 'a' }), ...get(1, null, { key: 'b' }), ...get(1, 1, { key: 'a' })])).toBe(true);
    expect(check([...put(0, 1, { key: 'a' }), ...get(1, 1, { key: 'b' })])).toBe(false);
  });

  it('rejects non-register operations with a typed error', () => {
    expect(() => checkLinearizability(seq(0, 'add', 1))).toThrow(/not a register operation/);
  });
});

describe('search budgets, interleaving and results', () => {
  // Many concurrent appends on one key make the search space large; a bad read at the end can only be
  // refuted by exhausting it.
  function hardKey(key: string, writers: number): HistoryEvent[] {
    const out: HistoryEvent[] = [];
    for (let p = 0; p < writers; p++) out.push({ process: p, type: 'invoke', f: 'append', key, value: `${p},` });
    for (let p = 0; p < writers; p++) out.push({ process: p, type: 'ok', f: 'append', key, value: `${p},` });
    out.push(...get(100, 'impossible', { key }));
    return out;
  }

  it('gives "unknown", never a guess, when the per-key step budget runs out', () => {
    const r = checkLinearizability(hardKey('h', 14), { stepsPerKeyMax: 1000 });
    expect(r.valid).toBe('unknown');
    expect(r.perKey[0]).toMatchObject({ key: 'h', verdict: 'unknown' });
    expect(r.perKey[0]!.reason).toMatch(/step budget/);
  });

  it('gives "unknown" when the cache memory budget runs out', () => {
    const r = checkLinearizability(hardKey('h', 14), { cacheBytesPerKeyMax: 1 });
    expect(r.valid).toBe('unknown');
    expect(r.perKey[0]!.reason).toMatch(/memory/);
  });

  it('gives "unknown" when the total cache memory of keys searched at once runs out', () => {
    const r = checkLinearizability([...hardKey('h1', 14), ...hardKey('h2', 14)], {
      cacheBytesTotalMax: 200_000,
      sliceSteps: 2000,
    });
    expect(r.valid).toBe('unknown');
    expect(r.perKey.map((k) => k.reason)).toEqual([
      expect.stringMatching(/total cache memory/),
      expect.stringMatching(/total cache memory/),
    ]);
  });

  it('gives "unknown" at the time limit', () => {
    const r = checkLinearizability(hardKey('h', 20), { timeLimitMs: 50, sliceSteps: 1000 });
    expect(r.valid).toBe('unknown');
    expect(r.perKey[0]!.reason).toMatch(/time limit/);
  });

  it('interleaves keys: a quickly refuted key decides while a hard key is still searching', () => {
    const events = [...hardKey('hard', 20), ...put(200, 1, { key: 'easy' }), ...get(201, 2, { key: 'easy' })];
    const t0 = performance.now();
    const r = checkLinearizability(events);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(r.valid).toBe(false);
    expect(r.perKey.find((k) => k.key === 'hard')!.verdict).toBe('cancelled');
    expect(r.perKey.find((k) => k.key === 'easy')!.verdict).toBe('non-linearizable');
    expect(r.anomalies.map((a) => a.key)).toEqual(['easy']);
  });

  it('with stopAtFirstAnomaly false, checks every key', () => {
    const events = [
      ...put(0, 1, { key: 'a' }),
      ...get(1, 2, { key: 'a' }),
      ...put(0, 1, { key: 'b' }),
      ...get(1, 3, { key: 'b' }),
      ...get(1, null, { key: 'c' }),
    ];
    const r = checkLinearizability(events, { stopAtFirstAnomaly: false });
    expect(r.perKey.map((k) => k.verdict)).toEqual(['non-linearizable', 'non-linearizable', 'linearizable']);
    expect(r.anomalies.map((a) => a.key)).toEqual(['a', 'b']);
  });

  it('shrinks an anomaly to a small sub-history that is non-linearizable on its own', () => {
    // 30 unrelated reads and writes, then a stale read.
    const events: HistoryEvent[] = [];
    for (let i = 0; i < 30; i++) events.push(...put(0, i), ...get(1, i));
    events.push(...put(0, 'last'), ...get(2, 28), ...put(0, 'after'), ...get(1, 'after'));
    const r = checkLinearizability(events);
    expect(r.valid).toBe(false);
    const a = r.anomalies[0]!;
    expect(a.failingOp).toMatchObject({ process: 2, f: 'get', value: 28 });
    expect(a.ops).toBeLessThan(a.keyOps);
    // No reads but the failing one are left; the writes after the failing read are cut off.
    expect(a.subhistory.filter((e) => e.f === 'get' && e.type === 'ok')).toEqual([get(2, 28)[1]]);
    expect(a.subhistory.some((e) => e.value === 'after')).toBe(false);
    expect(a.shrink.complete).toBe(true);
    // The witness is itself non-linearizable, and event indexes point into the original history.
    expect(checkLinearizability(a.subhistory).valid).toBe(false);
    expect(a.eventIndexes.map((i) => events[i])).toEqual(a.subhistory);
  });

  it('shrinks at most shrinkKeysMax anomalies', () => {
    const events = ['a', 'b', 'c'].flatMap((key) => [
      ...put(0, 1, { key }),
      ...get(1, 1, { key }),
      ...get(1, 2, { key }),
    ]);
    const r = checkLinearizability(events, { stopAtFirstAnomaly: false, shrinkKeysMax: 2 });
    expect(r.anomalies.map((a) => [a.key, a.ops, a.shrink.complete])).toEqual([
      ['a', 2, true],
      ['b', 2, true],
      ['c', 3, false],
    ]);
  });

  it('reports the whole key when shrinking is off', () => {
    const events = [...put(0, 1), ...get(1, 1), ...get(1, 2)];
    const a = checkLinearizability(events, { shrink: false }).anomalies[0]!;
    expect(a.ops).toBe(3);
    expect(a.shrink.complete).toBe(false);
  });
});

describe('synthetic jepsen-like histories', () => {
  const base = { clients: 10, seconds: 6, ops: 2000, keys: 20, infoRate: 0.03, seed: 7, stale: false };
  it('a linearizable-by-construction history with info ops and mismatch observations checks true', () => {
    const events = syntheticRegisterHistory(base);
    expect(events.some((e) => e.type === 'info')).toBe(true);
    expect(events.some((e) => e.error === 'mismatch' && 'current' in e)).toBe(true);
    expect(checkLinearizability(events).valid).toBe(true);
  });
  it('one stale read makes it non-linearizable, with a small witness', () => {
    const r = checkLinearizability(syntheticRegisterHistory({ ...base, stale: true }));
    expect(r.valid).toBe(false);
    expect(r.anomalies[0]!.failingOp).toMatchObject({ process: 9999, f: 'get' });
    expect(r.anomalies[0]!.ops).toBeLessThan(r.anomalies[0]!.keyOps);
  });
});
