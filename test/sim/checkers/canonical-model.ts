/**
 * The checkers' reference model of one group: the canonical sequence of applied entries (index -> identity)
 * and the KV state it produces, with per-key value histories so any key's value at any index can be looked up.
 * Built only from what the first node applied at each index; independent of every node's state machine.
 * With splits: a right-hand group's model starts at SPLIT_INITIAL_INDEX from the parent model's state at the
 * split (`initial`); the range a model owns at each index is kept, so the visible state at an index holds
 * only its keys. The effects of operations (op id -> group and index of its first effective application) are
 * one registry shared by every group's model: an operation takes effect once in the whole keyspace.
 */
import type { SimCommand, SimResult } from '../command-codec';
import { KvState } from '../kv-model';
import type { SimRange } from '../split-state';
import { rangeContains } from '../split-state';

interface KeyChange {
  index: number;
  value: string;
}

export interface OpEffect {
  group: number;
  index: number;
  result: SimResult;
}

/** op id -> its effect, for every group of a seed. */
export type OpRegistry = Map<number, OpEffect>;

export class CanonicalModel {
  /** identity[i] for i >= 1; identity[0] unused (and 1..start for a right-hand group). */
  readonly identity: string[] = [''];
  private readonly state: KvState;
  private readonly history = new Map<string, KeyChange[]>();
  /** The range from each index on (ascending). */
  private readonly ranges: { index: number; range: SimRange | null }[] = [];
  /** The index this model starts at (0, or SPLIT_INITIAL_INDEX for a right-hand group). */
  readonly startIndex: number;
  /** Called when the model applies a split: the right-hand group's initial state. */
  onSplit: ((right: KvState) => void) | null = null;

  constructor(
    private readonly ops: OpRegistry = new Map(),
    readonly group = 1,
    initial: KvState | null = null,
  ) {
    this.state = initial ?? new KvState();
    this.startIndex = initial?.applied ?? 0;
    this.ranges.push({ index: 0, range: this.state.range });
    if (initial === null) return;
    for (let i = 1; i <= initial.applied; i++) this.identity.push(`start/${group}`);
    for (const [k, v] of initial.kv) this.history.set(k, [{ index: initial.applied, value: v }]);
  }

  get length(): number {
    return this.identity.length - 1;
  }

  /** Appends the entry at index length + 1. */
  append(identity: string, command: SimCommand | null): void {
    const index = this.identity.length;
    this.identity.push(identity);
    if (command === null) return;
    const before = command.t === 'split' ? null : this.state.get(command.k);
    const result = this.state.apply(index, command)!;
    if (command.t === 'split') {
      const right = this.state.splitRight;
      if (right === null) return;
      this.ranges.push({ index, range: this.state.range });
      this.onSplit?.(right);
      return;
    }
    if (!this.state.lastFresh || this.ops.has(command.op)) return;
    this.ops.set(command.op, { group: this.group, index, result });
    const after = this.state.get(command.k);
    if (after !== before) {
      let h = this.history.get(command.k);
      if (!h) this.history.set(command.k, (h = []));
      h.push({ index, value: after! });
    }
  }

  /** The effect of an operation, in whichever group it took effect. */
  op(opId: number): OpEffect | undefined {
    return this.ops.get(opId);
  }

  /** The range this group owns after applying 1..index. */
  rangeAt(index: number): SimRange | null {
    let r: SimRange | null = null;
    for (const x of this.ranges) if (x.index <= index) r = x.range;
    return r;
  }

  /** The current range (after the whole canonical log). */
  get range(): SimRange | null {
    return this.state.range;
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

  /** The visible KV state after applying 1..index (only the keys the group owns then), as KvState.fingerprint(). */
  fingerprintAt(index: number): string {
    const range = this.ranges.length > 1 ? this.rangeAt(index) : null;
    const out: [string, string][] = [];
    for (const key of this.history.keys()) {
      if (range !== null && !rangeContains(range, key)) continue;
      const v = this.valueAt(key, index);
      if (v !== null) out.push([key, v]);
    }
    out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    return JSON.stringify(out);
  }

  /** The remembered results (the session table) after the whole canonical log: its op ids, sorted. */
  sessionsFingerprint(): string {
    return sessionsOf(this.state);
  }

  opsAppliedCount(): number {
    let n = 0;
    for (const e of this.ops.values()) if (e.group === this.group) n++;
    return n;
  }
}

/** A state's remembered results (the simulator's session table) as its sorted op ids. */
export function sessionsOf(state: KvState): string {
  return [...state.results.keys()].sort((a, b) => a - b).join(',');
}
