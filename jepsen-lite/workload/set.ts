/**
 * Set workload: unique adds (each element is its own store key under `jl/s/`, so an add is one put),
 * occasional reads of the whole set (a scan of the prefix), and final reads after recovery. History key
 * "s"; `add` carries the element, `read` the sorted elements seen.
 */
import type { Random } from '../../src/base';
import type { Completion } from './recorder';
import { keyPrefix, type KvClient, type OpSpec, type Workload } from './workload';

export interface SetOptions {
  /** Fraction of ops that read the whole set. */
  readFraction: number;
}

export const defaultSetOptions: SetOptions = { readFraction: 0.02 };

const setKey = 's';
const prefix = `${keyPrefix}s/`;
const elementKey = (e: number): string => `${prefix}${String(e).padStart(9, '0')}`;

export class SetWorkload implements Workload {
  readonly name = 'set' as const;
  readonly pinnedReaders = false;
  private nextElement = 0;

  constructor(private readonly opts: SetOptions) {}

  async setup(): Promise<void> {}

  nextOp(rng: Random): OpSpec {
    if (rng.chance(this.opts.readFraction)) return { f: 'read', key: setKey, value: null };
    return { f: 'add', key: setKey, value: this.nextElement++ };
  }

  readOnly(op: OpSpec): boolean {
    return op.f === 'read';
  }

  async execute(client: KvClient, op: OpSpec, deadlineMs: number): Promise<Completion> {
    if (op.f === 'add') {
      const e = op.value as number;
      await client.put(elementKey(e), Buffer.from(String(e)), { deadlineMs });
      return { type: 'ok', value: e };
    }
    if (op.f !== 'read') throw new RangeError(`set cannot execute ${op.f}`);
    const seen: number[] = [];
    const end = Buffer.from(prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1));
    for await (const page of client.scan(prefix, end, { deadlineMs })) {
      for (const kv of page.items) seen.push(Number(kv.value.toString('utf8')));
    }
    seen.sort((a, b) => a - b);
    return { type: 'ok', value: seen };
  }

  finalOps(): OpSpec[] {
    return [{ f: 'read', key: setKey, value: null }];
  }
}
