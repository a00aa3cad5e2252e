/**
 * Register workload: get, put and compare-and-swap on many independent keys (Jepsen's "independent"
 * registers). Each key takes `opsPerKey` operations and is then retired for a fresh key, so every key's
 * sub-history stays small enough for the linearizability search. Values are small integers so that
 * writes collide and CAS succeeds often.
 *
 * History keys are the store keys without the `jl/r/` prefix; every key starts absent (initial null).
 */
import type { Random } from '../../src/base';
import type { Completion } from './recorder';
import { decodeValue, encodeValue, keyPrefix, type KvClient, type OpSpec, type Workload } from './workload';

export interface RegisterOptions {
  /** Keys in use at any time. */
  keys: number;
  /** Operations on a key before it is retired. */
  opsPerKey: number;
  /** Fraction of reads; the rest is split between put and cas. */
  readFraction: number;
  /** Values are drawn from 0..valuesMax. */
  valuesMax: number;
}

export const defaultRegisterOptions: RegisterOptions = { keys: 8, opsPerKey: 150, readFraction: 0.5, valuesMax: 4 };

const storeKey = (k: string): string => `${keyPrefix}r/${k}`;

export class RegisterWorkload implements Workload {
  readonly name = 'register' as const;
  readonly pinnedReaders = true;
  private readonly active: { key: string; used: number }[] = [];
  private nextKey = 0;
  private readonly allKeys: string[] = [];

  constructor(private readonly opts: RegisterOptions) {
    if (opts.keys < 1 || opts.opsPerKey < 1) throw new RangeError('register: keys and opsPerKey must be >= 1');
    for (let i = 0; i < opts.keys; i++) this.active.push({ key: this.freshKey(), used: 0 });
  }

  private freshKey(): string {
    const k = `k${this.nextKey++}`;
    this.allKeys.push(k);
    return k;
  }

  async setup(): Promise<void> {}

  nextOp(rng: Random): OpSpec {
    const slot = rng.int(0, this.active.length - 1);
    const entry = this.active[slot]!;
    entry.used++;
    if (entry.used >= this.opts.opsPerKey) this.active[slot] = { key: this.freshKey(), used: 0 };
    const v = (): number => rng.int(0, this.opts.valuesMax);
    const x = rng.float();
    if (x < this.opts.readFraction) return { f: 'get', key: entry.key, value: null };
    if (x < this.opts.readFraction + (1 - this.opts.readFraction) / 2) return { f: 'put', key: entry.key, value: v() };
    return { f: 'cas', key: entry.key, value: [rng.chance(0.1) ? null : v(), v()] };
  }

  readOnly(op: OpSpec): boolean {
    return op.f === 'get';
  }

  async execute(client: KvClient, op: OpSpec, deadlineMs: number): Promise<Completion> {
    const key = storeKey(op.key);
    switch (op.f) {
      case 'get':
        return { type: 'ok', value: decodeValue(await client.get(key, { deadlineMs })) };
      case 'put':
        await client.put(key, encodeValue(op.value as number), { deadlineMs });
        return { type: 'ok', value: op.value };
      case 'cas': {
        const [expected, next] = op.value as [number | null, number];
        const r = await client.compareAndSwap(
          key,
          expected === null ? null : encodeValue(expected),
          encodeValue(next),
          { deadlineMs },
        );
        if (r.succeeded) return { type: 'ok', value: op.value };
        const current = decodeValue(r.current);
        // A compare failure reporting current == expected is itself wrong; it is recorded as a mismatch
        // without `current`, so the checker judges the observation "value != expected" alone.
        if (current === expected) return { type: 'fail', error: 'mismatch' };
        return { type: 'fail', error: 'mismatch', current };
      }
      default:
        throw new RangeError(`register cannot execute ${op.f}`);
    }
  }

  finalOps(): OpSpec[] {
    return this.allKeys.map((key) => ({ f: 'get', key, value: null }));
  }
}
