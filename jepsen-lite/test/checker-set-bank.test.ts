import { describe, expect, it } from 'vitest';
import { checkBank, checkSet } from '../checker';
import { historyToJsonl, parseHistory, type HistoryEvent } from '../history';
import { ev, seq } from './checker-helpers';

const valid = (events: HistoryEvent[]) => parseHistory(historyToJsonl(events));
const add = (p: number, v: number, type: 'ok' | 'fail' | 'info' = 'ok') => seq(p, 'add', v, v, type, { key: 's' });
const read = (p: number, vs: number[]) => seq(p, 'read', null, vs, 'ok', { key: 's' });

describe('set checker', () => {
  it('accepts a history whose final read has every acknowledged add and only attempted elements', () => {
    const r = checkSet(
      valid([...add(0, 1), ...add(1, 2), ...add(0, 3, 'info'), ...add(1, 4, 'info'), ...read(2, [2, 1, 3])]),
    );
    expect(r.valid).toBe(true);
    expect(r.keys[0]).toMatchObject({ attempted: 4, acknowledged: 2, finalReads: 1, recovered: 1 });
  });

  it('reports lost acknowledged adds', () => {
    const r = checkSet(valid([...add(0, 1), ...add(1, 2), ...read(2, [1])]));
    expect(r.valid).toBe(false);
    expect(r.keys[0]!.lost).toEqual([{ element: 2, readIndex: 4 }]);
    expect(r.counts.lost).toBe(1);
  });

  it('reports an info add that was read and then disappeared as lost', () => {
    const r = checkSet(valid([...add(0, 1, 'info'), ...add(0, 2), ...read(2, [1, 2]), ...read(2, [2])]));
    expect(r.valid).toBe(false);
    expect(r.keys[0]!.lost.map((l) => l.element)).toEqual([1]);
  });

  it('reports unexpected, failed-but-present and duplicated elements', () => {
    const r = checkSet(valid([...add(0, 1), ...add(0, 2, 'fail'), ...read(1, [1, 2, 9, 1])]));
    expect(r.valid).toBe(false);
    expect(r.keys[0]!.unexpected.map((a) => a.element)).toEqual([9]);
    expect(r.keys[0]!.failedPresent.map((a) => a.element)).toEqual([2]);
    expect(r.keys[0]!.duplicated.map((a) => a.element)).toEqual([1]);
  });

  it('reports stale non-final reads (missing an add acknowledged before the read began)', () => {
    const r = checkSet(valid([...add(0, 1), ...read(1, []), ...add(0, 2), ...read(1, [1, 2])]));
    expect(r.valid).toBe(false);
    expect(r.keys[0]!.stale.map((a) => a.element)).toEqual([1]);
    // A read concurrent with the add may miss it.
    const concurrent = [
      ev(0, 'invoke', 'add', 1, { key: 's' }),
      ev(1, 'invoke', 'read', null, { key: 's' }),
      ev(0, 'ok', 'add', 1, { key: 's' }),
      ev(1, 'ok', 'read', [], { key: 's' }),
      ...read(1, [1]),
    ];
    expect(checkSet(valid(concurrent)).valid).toBe(true);
  });

  it('is unknown without a final read, and checks each set (key) on its own', () => {
    expect(checkSet(valid([...read(1, []), ...add(0, 1)])).valid).toBe('unknown');
    const two = [
      ...add(0, 1),
      ...seq(0, 'add', 1, 1, 'ok', { key: 't' }),
      ...read(1, [1]),
      ...seq(1, 'read', null, [], 'ok', { key: 't' }),
    ];
    const r = checkSet(valid(two));
    expect(r.keys.map((k) => [k.key, k.valid])).toEqual([
      ['s', true],
      ['t', false],
    ]);
  });

  it('rejects other operations', () => {
    expect(() => checkSet(valid(seq(0, 'put', 1)))).toThrow(/unexpected operation put/);
  });
});

describe('bank checker', () => {
  const transfer = (p: number, from: string, to: string, amount: number, type: 'ok' | 'fail' | 'info' = 'ok') =>
    seq(p, 'transfer', { from, to, amount }, { from, to, amount }, type, { key: 'bank' });
  const balances = (p: number, b: Record<string, number>) => seq(p, 'read', null, b, 'ok', { key: 'bank' });

  it('accepts reads that keep the total', () => {
    const r = checkBank(
      valid([
        ...balances(0, { a: 10, b: 10 }),
        ...transfer(1, 'a', 'b', 3),
        ...transfer(1, 'b', 'a', 1, 'info'),
        ...balances(0, { a: 7, b: 13 }),
      ]),
      { total: 20, accounts: ['a', 'b'] },
    );
    expect(r.valid).toBe(true);
    expect(r.reads).toBe(2);
    expect(r.transfers).toEqual({ ok: 1, fail: 0, info: 1, pending: 0 });
  });

  it('reports a read with the wrong total', () => {
    const r = checkBank(valid([...transfer(1, 'a', 'b', 3), ...balances(0, { a: 7, b: 10 })]), { total: 20 });
    expect(r.valid).toBe(false);
    expect(r.anomalies).toEqual([
      { kind: 'wrongTotal', key: 'bank', readIndex: 2, total: 17, expected: 20, balances: { a: 7, b: 10 } },
    ]);
  });

  it('reports negative balances unless allowed', () => {
    const h = valid(balances(0, { a: -2, b: 22 }));
    expect(checkBank(h, { total: 20 }).anomalies.map((a) => a.kind)).toEqual(['negative']);
    expect(checkBank(h, { total: 20, negativeAllowed: true }).valid).toBe(true);
  });

  it('reports missing and unexpected accounts when the accounts are given', () => {
    const r = checkBank(valid(balances(0, { a: 10, c: 10 })), { total: 20, accounts: ['a', 'b'] });
    expect(r.anomalies.map((a) => a.kind)).toEqual(['missingAccounts', 'unexpectedAccounts']);
  });

  it('is unknown without an ok read; rejects sets of elements as bank reads', () => {
    expect(checkBank(valid(transfer(0, 'a', 'b', 1)), { total: 20 }).valid).toBe('unknown');
    expect(() => checkBank(valid(read(0, [1])), { total: 1 })).toThrow(/object of balances/);
  });
});
