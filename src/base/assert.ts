/**
 * Invariant assertions. A failed assertion throws InvariantError, which crashes the node: a correctness
 * bug becomes a liveness bug, never silent corruption. Never catch InvariantError to carry on.
 */
export class InvariantError extends Error {
  readonly code = 'INVARIANT' as const;
  constructor(message: string) {
    super(`invariant violated: ${message}`);
    this.name = 'InvariantError';
  }
}

export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === 'string' ? message : message());
}

/** For exhaustive switches over discriminated unions. */
export function unreachable(value: never, what = 'value'): never {
  throw new InvariantError(`unexpected ${what}: ${JSON.stringify(value)}`);
}
