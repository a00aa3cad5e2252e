/**
 * jepsen-lite checkers: linearizability of register histories (WGL search, per-key, interleaved,
 * budgeted), the set checker, the bank checker, and the `check` command.
 */
export { checkLinearizability, checkOperations } from './linearizability';
export type {
  Anomaly,
  FailingOp,
  KeyResult,
  KeyVerdict,
  LinearizabilityOptions,
  LinearizabilityResult,
  Verdict,
} from './linearizability';
export { checkSet } from './set-checker';
export type { SetCheckResult, SetElementAnomaly, SetKeyResult } from './set-checker';
export { checkBank } from './bank-checker';
export type { BankAnomaly, BankCheckResult, BankOptions } from './bank-checker';
export { CHECK_USAGE, runCheckCommand } from './check-command';
export type { CommandIo } from './check-command';
export { syntheticRegisterHistory } from './synthetic-history';
export type { SyntheticOptions } from './synthetic-history';
