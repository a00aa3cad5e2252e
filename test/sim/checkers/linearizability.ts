/**
 * Client-visible correctness against the canonical model:
 *  - an acknowledged write was applied (first, effectively) at an index in (c0, c1], where c0 and c1
 *    are the cluster-wide commit index when the operation was invoked and when it was acknowledged;
 *  - a CAS result equals what the model gives at that index (the value just before it);
 *  - a read that returned v equals the model's value of its key at some index in [c0, c1];
 *  - acknowledged writes are remembered; the final check demands every live member still has them.
 */
import type { SimResult } from '../command-codec';
import { sameResult } from '../command-codec';
import { SimFailure } from '../sim-failure';
import type { CanonicalModel } from './canonical-model';

export interface AckedWrite {
  op: number;
  index: number;
}

export class LinearizabilityChecker {
  readonly acked: AckedWrite[] = [];
  readsChecked = 0;

  constructor(private readonly model: CanonicalModel) {}

  onWriteAck(
    opId: number,
    kind: 'put' | 'cas',
    key: string,
    expected: string | null,
    result: SimResult,
    c0: number,
    c1: number,
  ): void {
    const applied = this.model.op(opId);
    if (!applied)
      throw new SimFailure('linearizability', `write #${opId} acknowledged but never applied in the canonical log`);
    const { index } = applied;
    if (index <= c0 || index > c1) {
      throw new SimFailure(
        'linearizability',
        `write #${opId} took effect at index ${index}, outside (${c0}, ${c1}] (commit at invoke, at ack)`,
      );
    }
    if (!sameResult(result, applied.result)) {
      throw new SimFailure(
        'linearizability',
        `write #${opId} returned ${JSON.stringify(result)}, the canonical result is ${JSON.stringify(applied.result)}`,
      );
    }
    if (kind === 'cas') {
      const before = this.model.valueAt(key, index - 1);
      const want: SimResult = { t: 'cas', ok: before === expected, cur: before };
      if (!sameResult(result, want)) {
        throw new SimFailure(
          'linearizability',
          `cas #${opId} on ${key} at index ${index} returned ${JSON.stringify(result)}, model says ${JSON.stringify(want)}`,
        );
      }
    }
    this.acked.push({ op: opId, index });
  }

  onReadAck(opId: number, key: string, value: string | null, c0: number, c1: number): void {
    this.readsChecked++;
    const hi = Math.min(c1, this.model.length);
    if (c0 > hi || !this.model.hadValueBetween(key, value, c0, hi)) {
      throw new SimFailure(
        'linearizability',
        `read #${opId} of ${key} returned ${value ?? '∅'}, but the key never had that value between index ${c0} and ${hi} (commit at invoke ${c0}, at answer ${c1}; value at ${c0} was ${this.model.valueAt(key, c0) ?? '∅'})`,
      );
    }
  }
}
