/**
 * Bank checker for the `bank` workload.
 *
 * History shape (`jepsen-lite-history/v1` events; `key` names the bank and is copied into anomalies):
 *   {"process":0,"type":"invoke","f":"transfer","key":"bank","value":{"from":"a1","to":"a4","amount":3}}
 *     then ok / fail / info with the same value (a transfer is one atomic Batch in the store);
 *   {"process":2,"type":"invoke","f":"read","key":"bank","value":null}
 *   {"process":2,"type":"ok","f":"read","key":"bank","value":{"a0":20,"a1":17,...}}
 *     (every account's balance, read atomically; fail/info reads carry null).
 *
 * Anomalies, for every ok read (valid = none, and at least one ok read; no ok read = 'unknown'):
 *  - wrongTotal: the balances do not sum to `total` (transfers never change the total);
 *  - negative: a balance below zero, unless `negativeAllowed`;
 *  - missingAccounts / unexpectedAccounts: when `accounts` is given, the read lacks one of them or has
 *    another one.
 * Transfers are not replayed (their order is unknown), so fail/info transfers need no special handling.
 */
import { TesseraError } from '../../src/base';
import { pairOperations, type HistoryEvent, type Operation } from '../history';

export interface BankOptions {
  /** The constant sum of all balances. */
  total: number;
  /** The workload forbids overdrafts unless this is true. */
  negativeAllowed?: boolean;
  /** The exact set of accounts every read must return. */
  accounts?: readonly string[];
}

export type BankAnomaly =
  | {
      kind: 'wrongTotal';
      key: string;
      readIndex: number;
      total: number;
      expected: number;
      balances: Record<string, number>;
    }
  | { kind: 'negative'; key: string; readIndex: number; account: string; balance: number }
  | { kind: 'missingAccounts'; key: string; readIndex: number; accounts: string[] }
  | { kind: 'unexpectedAccounts'; key: string; readIndex: number; accounts: string[] };

export interface BankCheckResult {
  valid: boolean | 'unknown';
  reads: number;
  transfers: { ok: number; fail: number; info: number; pending: number };
  anomalies: BankAnomaly[];
  /** Anomaly count per kind (the list is capped at 100). */
  counts: Record<BankAnomaly['kind'], number>;
  note?: string;
}

const LIST_MAX = 100;

export function checkBank(events: readonly HistoryEvent[], options: BankOptions): BankCheckResult {
  if (!Number.isFinite(options.total))
    throw new TesseraError('INVALID_ARGUMENT', 'bank checker: total must be a finite number');
  const ops: Operation[] = pairOperations(events);
  const expectedAccounts = options.accounts === undefined ? null : new Set(options.accounts);
  const result: BankCheckResult = {
    valid: true,
    reads: 0,
    transfers: { ok: 0, fail: 0, info: 0, pending: 0 },
    anomalies: [],
    counts: { wrongTotal: 0, negative: 0, missingAccounts: 0, unexpectedAccounts: 0 },
  };
  const report = (a: BankAnomaly): void => {
    result.counts[a.kind]++;
    if (result.anomalies.length < LIST_MAX) result.anomalies.push(a);
  };
  for (const op of ops) {
    if (op.f === 'transfer') {
      result.transfers[op.outcome]++;
      continue;
    }
    if (op.f !== 'read')
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `bank checker: unexpected operation ${op.f} (expected transfer or read)`,
      );
    if (op.outcome !== 'ok') continue;
    if (Array.isArray(op.resultValue) || op.resultValue === null || typeof op.resultValue !== 'object') {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `bank checker: read at event ${op.completeIndex} must return an object of balances`,
      );
    }
    const balances = op.resultValue as Record<string, number>;
    result.reads++;
    const at = op.invokeIndex;
    let sum = 0;
    for (const [account, balance] of Object.entries(balances)) {
      sum += balance;
      if (balance < 0 && options.negativeAllowed !== true)
        report({ kind: 'negative', key: op.key, readIndex: at, account, balance });
    }
    if (sum !== options.total)
      report({ kind: 'wrongTotal', key: op.key, readIndex: at, total: sum, expected: options.total, balances });
    if (expectedAccounts !== null) {
      const missing = [...expectedAccounts].filter((a) => !(a in balances));
      const extra = Object.keys(balances).filter((a) => !expectedAccounts.has(a));
      if (missing.length > 0) report({ kind: 'missingAccounts', key: op.key, readIndex: at, accounts: missing });
      if (extra.length > 0) report({ kind: 'unexpectedAccounts', key: op.key, readIndex: at, accounts: extra });
    }
  }
  const anomalyCount = Object.values(result.counts).reduce((s, n) => s + n, 0);
  if (anomalyCount > 0) result.valid = false;
  else if (result.reads === 0) {
    result.valid = 'unknown';
    result.note = 'no ok read';
  }
  return result;
}
