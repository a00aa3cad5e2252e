/**
 * History events in the `jepsen-lite-history/v1` format (../shared/linearizability-vectors/README.md):
 * one JSON object per line, lines in real-time order. Register workloads use get/put/cas/delete/append;
 * the set workload uses add/read and the bank workload transfer/read (shapes in ../checker/set-checker.ts
 * and ../checker/bank-checker.ts).
 *
 * Invariants (enforced by the parser): a process has at most one outstanding op; a completion (ok, fail,
 * info) matches its process's outstanding invoke in f and key; `error` only on fail/info; `current` only
 * on a cas fail with error "mismatch", and it differs from the expected value; `time` never decreases.
 */

export const HISTORY_FORMAT = 'jepsen-lite-history/v1';

export type EventType = 'invoke' | 'ok' | 'fail' | 'info';
export type RegisterFunction = 'get' | 'put' | 'cas' | 'delete' | 'append';
export type SetFunction = 'add' | 'read';
export type BankFunction = 'transfer' | 'read';
export type OpFunction = RegisterFunction | SetFunction | BankFunction;

/** A register value: `null` means the key is absent. */
export type Scalar = null | number | string;

/** Bank transfer argument. */
export interface Transfer {
  from: string;
  to: string;
  amount: number;
}

/**
 * What `value` may hold: a scalar (get/put/append/delete/add), `[expected, new]` (cas), the elements read
 * (set read), the balances read (bank read) or a transfer.
 */
export type EventValue = Scalar | [Scalar, Scalar] | Scalar[] | Record<string, number> | Transfer;

export interface HistoryEvent {
  process: number;
  type: EventType;
  f: OpFunction;
  key: string;
  value: EventValue;
  error?: string;
  /** Only on a cas fail with error "mismatch": the value the store reported (null = absent). */
  current?: Scalar;
  /** Monotonic nanoseconds, informational only (real-time order comes from line order). */
  time?: number;
}

/** The outcome of an operation once paired: `pending` has no completion line in the history. */
export type OpOutcome = 'ok' | 'fail' | 'info' | 'pending';

/** An invoke paired with its completion. Indexes are 0-based positions in the event array. */
export interface Operation {
  /** Position of this operation in invoke order (0-based). */
  id: number;
  process: number;
  f: OpFunction;
  key: string;
  /** The invoke's argument. */
  invokeValue: EventValue;
  outcome: OpOutcome;
  /** The completion's value (the value read for an ok get/read); the invoke's for pending ops. */
  resultValue: EventValue;
  error?: string;
  current?: Scalar;
  invokeIndex: number;
  /** Index of the completion event, or null when pending. */
  completeIndex: number | null;
  invokeTime?: number;
  completeTime?: number;
}
