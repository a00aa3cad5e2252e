/** Linearizability checking of register histories (WGL search with per-key partitioning). */
export { checkLinearizability, checkOperations } from './check';
export type { KeyResult, KeyVerdict, LinearizabilityOptions, LinearizabilityResult, Verdict } from './check';
export type { Anomaly, FailingOp } from './shrink';
