/**
 * The register model of `jepsen-lite-history/v1`, compiled for the search: every key's operations become
 * ModelOps over interned value ids (null = id 0). What each outcome means (README "Semantics"):
 *  - ok get: a read (state must equal the value read); ok put/delete/append/cas: take effect once, inside
 *    [invoke, ok].
 *  - cas fail with error "mismatch": an observation, required, no state change: state != expected (and
 *    state == current when `current` is given). Any other fail: dropped.
 *  - info/pending put/delete/append/cas: optional (may take effect once, any time after the invoke, or not
 *    at all): return time +infinity. info/pending get: dropped.
 * Real-time order is the event order: `call`/`ret` are event positions (distinct integers).
 */
import { TesseraError } from '../../../src/base';
import type { Operation, Scalar } from '../../history';

export const OpKind = { Read: 0, Write: 1, Cas: 2, Mismatch: 3, Append: 4 } as const;
export type OpKind = (typeof OpKind)[keyof typeof OpKind];

export interface ModelOp {
  /** The Operation.id this came from. */
  opId: number;
  kind: OpKind;
  /** Read: the value read; Write: the value written; Cas/Mismatch: expected. */
  a: number;
  /** Cas: the new value; Mismatch: the `current` observed, or -1 when not reported. */
  b: number;
  /** Append: the suffix. */
  suffix: string;
  required: boolean;
  /** Event position of the invoke. */
  call: number;
  /** Event position of the completion, or Infinity for optional ops. */
  ret: number;
}

/** Interns register values to small integers; id 0 is null (absent). */
export class ValueTable {
  private readonly ids = new Map<string, number>();
  private readonly values: Scalar[] = [null];

  intern(v: Scalar): number {
    if (v === null) return 0;
    const k = typeof v === 'number' ? `n${v}` : `s${v}`;
    let id = this.ids.get(k);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(v);
      this.ids.set(k, id);
    }
    return id;
  }

  value(id: number): Scalar {
    return this.values[id]!;
  }

  /** Value after appending `suffix` (append on null treats it as ""). */
  appended(id: number, suffix: string): number {
    const v = this.values[id]!;
    return this.intern((v === null ? '' : String(v)) + suffix);
  }

  get size(): number {
    return this.values.length;
  }
}

const REGISTER_FUNCTIONS: ReadonlySet<string> = new Set(['get', 'put', 'cas', 'delete', 'append']);

/** Compiles one operation; null when it constrains nothing (dropped). */
export function compileOperation(op: Operation, values: ValueTable): ModelOp | null {
  if (!REGISTER_FUNCTIONS.has(op.f)) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `operation ${op.f} on key ${JSON.stringify(op.key)} is not a register operation (get, put, cas, delete, append)`,
    );
  }
  const optional = op.outcome === 'info' || op.outcome === 'pending';
  const ret = optional ? Infinity : (op.completeIndex as number);
  const make = (kind: OpKind, a: number, b: number, suffix: string): ModelOp => ({
    opId: op.id,
    kind,
    a,
    b,
    suffix,
    required: !optional,
    call: op.invokeIndex,
    ret,
  });
  if (op.outcome === 'fail') {
    if (op.f === 'cas' && op.error === 'mismatch') {
      const expected = (op.invokeValue as [Scalar, Scalar])[0];
      const current = op.current === undefined ? -1 : values.intern(op.current);
      return make(OpKind.Mismatch, values.intern(expected), current, '');
    }
    return null;
  }
  switch (op.f) {
    case 'get':
      return optional ? null : make(OpKind.Read, values.intern(op.resultValue as Scalar), -1, '');
    case 'put':
      return make(OpKind.Write, values.intern(op.invokeValue as Scalar), -1, '');
    case 'delete':
      return make(OpKind.Write, 0, -1, '');
    case 'append':
      return make(OpKind.Append, 0, -1, op.invokeValue as string);
    case 'cas': {
      const [expected, next] = op.invokeValue as [Scalar, Scalar];
      return make(OpKind.Cas, values.intern(expected), values.intern(next), '');
    }
    default:
      throw new TesseraError('INTERNAL', `unreachable register function ${op.f}`);
  }
}

/** A key's compiled operations (in invoke order) with its value table and initial state. */
export interface KeyModel {
  key: string;
  ops: ModelOp[];
  values: ValueTable;
  initialState: number;
}

/** Partitions operations by key (linearizability is local) and compiles them. Keys in first-seen order. */
export function compileByKey(ops: readonly Operation[], initial: Scalar): KeyModel[] {
  const byKey = new Map<string, KeyModel>();
  for (const op of ops) {
    let km = byKey.get(op.key);
    if (km === undefined) {
      const values = new ValueTable();
      km = { key: op.key, ops: [], values, initialState: values.intern(initial) };
      byKey.set(op.key, km);
    }
    const m = compileOperation(op, km.values);
    if (m !== null) km.ops.push(m);
  }
  for (const km of byKey.values()) km.ops = dropUnobservedOptionalWrites(km.ops);
  return [...byKey.values()];
}

/**
 * Sound pruning: an optional put/delete/cas whose written value nobody ever observes (no read, cas
 * expectation or mismatch `current` of that value) can be left out, provided the key has no appends and
 * no mismatch without `current`. Proof: in any linearization, the ops between such a write and the next
 * write cannot depend on the unobserved value (they would fail on it), so they are unconditional writes,
 * and removing the write leaves the order legal. Unique values with timeouts (the usual register
 * workload) make this common, and every kept optional op multiplies the search space.
 */
function dropUnobservedOptionalWrites(ops: ModelOp[]): ModelOp[] {
  const observed = new Set<number>();
  for (const op of ops) {
    if (op.kind === OpKind.Append || (op.kind === OpKind.Mismatch && op.b < 0)) return ops;
    if (op.kind === OpKind.Read || op.kind === OpKind.Cas) observed.add(op.a);
    if (op.kind === OpKind.Mismatch) observed.add(op.b);
  }
  return ops.filter(
    (op) =>
      op.required || (op.kind === OpKind.Write && observed.has(op.a)) || (op.kind === OpKind.Cas && observed.has(op.b)),
  );
}
