/**
 * The key-value state machine, used twice: each simulated node applies committed entries to its own
 * KvState (one per group replica), and the checkers keep an independent KvState per group built from the
 * canonical committed log. Operations are deduplicated by operation id: a re-proposed operation returns its
 * first result and changes nothing (the simulator's stand-in for client sessions).
 * With splits (split-state.ts): a state owns a range [start, end) at an epoch (the whole keyspace at epoch 1
 * until a split; null for an uninitialized replica, which owns nothing). As kv/state-machine.ts: the
 * session lookup comes first, then a write for a key outside the range is refused (wrongShard, remembered,
 * nothing applied). A split, checked by the real refuseSplit (kv/split-apply.ts), narrows the range at its
 * index and hands the right-hand state (its keys, a copy of the results: the sessions) to the host.
 * Snapshot = JSON of (applied index, key/values, remembered results, group, range).
 */
import type { SimCommand, SimResult } from './command-codec';
import { splitState, type SimRange } from './split-state';

export type { SimRange } from './split-state';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface KvSnapshotData {
  applied: number;
  kv: [string, string][];
  results: [number, SimResult][];
  group?: number;
  range?: SimRange | null;
}

/** Unsafe switches of the simulated state machine (canaries of the split checkers; nodes only). */
export interface KvUnsafe {
  /** Apply a write whatever the range (a right-side write lands on the left after the split). */
  splitWrongSide?: boolean;
  /** The right-hand group starts without the parent's results (sessions not copied). */
  splitSkipSessions?: boolean;
}

export const WHOLE_RANGE: SimRange = { start: '', end: null, epoch: 1 };

export class KvState {
  applied = 0;
  readonly kv = new Map<string, string>();
  readonly results = new Map<number, SimResult>();
  group = 1;
  range: SimRange | null = { ...WHOLE_RANGE };
  unsafe: KvUnsafe = {};
  /** Whether the last apply was a write's effect (not remembered, not refused). */
  lastFresh = false;
  /** The right-hand state of a split the last apply made (the host takes it). */
  splitRight: KvState | null = null;

  /** Applies a command at `index` (or just advances applied for empty/config entries when command is null). */
  apply(index: number, command: SimCommand | null): SimResult | null {
    this.applied = index;
    this.lastFresh = false;
    this.splitRight = null;
    if (command === null) return null;
    if (command.t === 'split') return this.applySplit(command);
    const remembered = this.results.get(command.op);
    if (remembered) return remembered;
    let result: SimResult;
    if (!this.owns(command.k) && !this.unsafe.splitWrongSide) {
      result = { t: 'wrongShard' };
    } else if (command.t === 'put') {
      this.kv.set(command.k, command.v);
      result = { t: 'put' };
    } else {
      const cur = this.kv.get(command.k) ?? null;
      const ok = cur === command.e;
      if (ok) this.kv.set(command.k, command.v);
      result = { t: 'cas', ok, cur };
    }
    this.lastFresh = result.t !== 'wrongShard';
    this.results.set(command.op, result);
    return result;
  }

  private applySplit(command: Extract<SimCommand, { t: 'split' }>): SimResult {
    const right = splitState(this, command);
    if (right === null) return { t: 'split', ok: false };
    if (this.unsafe.splitSkipSessions) right.results.clear();
    this.splitRight = right;
    return { t: 'split', ok: true };
  }

  /** True when the key lies in this state's range. */
  owns(key: string): boolean {
    const r = this.range;
    return r !== null && key >= r.start && (r.end === null || key < r.end);
  }

  get(key: string): string | null {
    return this.kv.get(key) ?? null;
  }

  serialize(): Uint8Array {
    const data: KvSnapshotData = {
      applied: this.applied,
      kv: [...this.kv.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)),
      results: [...this.results.entries()].sort((a, b) => a[0] - b[0]),
    };
    if (this.group !== 1 || !isWhole(this.range)) {
      data.group = this.group;
      data.range = this.range;
    }
    return encoder.encode(JSON.stringify(data));
  }

  static deserialize(bytes: Uint8Array): KvState {
    const data = JSON.parse(decoder.decode(bytes)) as KvSnapshotData;
    const s = new KvState();
    s.applied = data.applied;
    for (const [k, v] of data.kv) s.kv.set(k, v);
    for (const [op, r] of data.results) s.results.set(op, r);
    if (data.group !== undefined) s.group = data.group;
    if (data.range !== undefined) s.range = data.range === null ? null : { ...data.range };
    return s;
  }

  /** A canonical string of the visible state (keys and values), for equality checks. */
  fingerprint(): string {
    return JSON.stringify([...this.kv.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  }
}

function isWhole(r: SimRange | null): boolean {
  return r !== null && r.start === '' && r.end === null && r.epoch === 1;
}
