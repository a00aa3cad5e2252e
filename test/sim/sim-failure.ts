/**
 * A safety or liveness violation found by the simulator. Checkers throw it; run-seed catches it and
 * reports the seed, fault mix and trace. `checker` names the invariant that failed.
 */
export class SimFailure extends Error {
  readonly checker: string;
  constructor(checker: string, message: string) {
    super(`[${checker}] ${message}`);
    this.name = 'SimFailure';
    this.checker = checker;
  }
}

export function simAssert(condition: unknown, checker: string, message: () => string): asserts condition {
  if (!condition) throw new SimFailure(checker, message());
}
