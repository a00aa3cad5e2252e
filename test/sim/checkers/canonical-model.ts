/**
 * The checkers' reference model: the canonical sequence of applied entries (index -> identity) and the
 * KV state it produces, with per-key value histories so any key's value at any index can be looked up.
 * Built only from what the first node applied at each index; independent of every node's state machine.
 */
import type { SimCommand, SimResult } from '../command-codec';
import { KvState } from '../kv-model';

interface KeyChange {
  index: number;
  value: string;
}

export class CanonicalModel {
  /** identity[i] for i >= 1; identity[0] unused. */
  readonly identity: string[] = [''];
  private readonly state = new KvState();
  private readonly history = new Map<string, KeyChange[]>();
  /** op id -> index of its first (effective) application and its result. */
  private readonly ops = new Map<number, { index: number; result: SimResult }>();

  get length(): number {
    return this.identity.length - 1;
  }

  /** Appends the entry at index length + 1. */
  append(identity: string, command: SimCommand | null): void {
    const index = this.identity.length;
    this.identity.push(identity);
    if (command === null) return;
    const before = this.state.get(command.k);
    const known = this.ops.has(command.op);
    const result = this.state.apply(index, command)!;
    if (known) return;
    this.ops.set(command.op, { index, result });
    const after = this.state.get(command.k);
    if (after !== before) {
      let h = this.history.get(command.k);
      if (!h) this.history.set(command.k, (h = []));
      h.push({ index, value: after! });
    }
  }

  op(opId: number): { index: number; result: SimResult } | undefined {
    return this.ops.get(opId);
  }

  /** The value of key after applying indexes 1..index. */
  valueAt(key: string, index: number): string | null {
    const h = this.history.get(key);
    if (!h) return null;
    let lo = 0;
    let hi = h.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (h[mid]!.index <= index) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? null : h[found]!.value;
  }

  /** True if key had value `value` after some index in [lo, hi]. */
  hadValueBetween(key: string, value: string | null, lo: number, hi: number): boolean {
    if (this.valueAt(key, lo) === value) return true;
    const h = this.history.get(key);
    if (!h) return false;
    for (const c of h) if (c.index > lo && c.index <= hi && c.value === value) return true;
    return false;
  }

  /** The visible KV state after applying 1..index, as KvState.fingerprint() would print it. */
  fingerprintAt(index: number): string {
    const out: [string, string][] = [];
    for (const key of this.history.keys()) {
      const v = this.valueAt(key, index);
      if (v !== null) out.push([key, v]);
    }
    out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    return JSON.stringify(out);
  }

  opsAppliedCount(): number {
    return this.ops.size;
  }
}
