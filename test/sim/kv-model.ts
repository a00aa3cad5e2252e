/**
 * The key-value state machine, used twice: each simulated node applies committed entries to its own
 * KvState, and the checkers keep an independent KvState built from the canonical committed log.
 * Operations are deduplicated by operation id: a re-proposed operation returns its first result and
 * changes nothing (the simulator's stand-in for client sessions).
 * Snapshot = JSON of (applied index, key/values, remembered results).
 */
import type { SimCommand, SimResult } from './command-codec';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface KvSnapshotData {
  applied: number;
  kv: [string, string][];
  results: [number, SimResult][];
}

export class KvState {
  applied = 0;
  readonly kv = new Map<string, string>();
  readonly results = new Map<number, SimResult>();

  /** Applies a command at `index` (or just advances applied for empty/config entries when command is null). */
  apply(index: number, command: SimCommand | null): SimResult | null {
    this.applied = index;
    if (command === null) return null;
    const remembered = this.results.get(command.op);
    if (remembered) return remembered;
    let result: SimResult;
    if (command.t === 'put') {
      this.kv.set(command.k, command.v);
      result = { t: 'put' };
    } else {
      const cur = this.kv.get(command.k) ?? null;
      const ok = cur === command.e;
      if (ok) this.kv.set(command.k, command.v);
      result = { t: 'cas', ok, cur };
    }
    this.results.set(command.op, result);
    return result;
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
    return encoder.encode(JSON.stringify(data));
  }

  static deserialize(bytes: Uint8Array): KvState {
    const data = JSON.parse(decoder.decode(bytes)) as KvSnapshotData;
    const s = new KvState();
    s.applied = data.applied;
    for (const [k, v] of data.kv) s.kv.set(k, v);
    for (const [op, r] of data.results) s.results.set(op, r);
    return s;
  }

  /** A canonical string of the visible state (keys and values), for equality checks. */
  fingerprint(): string {
    return JSON.stringify([...this.kv.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  }
}
