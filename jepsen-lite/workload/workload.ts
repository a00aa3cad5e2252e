/**
 * The contract of a workload: a seeded generator of operations, how to execute one through the SDK,
 * the final reads to do after the cluster has healed, and which checker judges the history.
 */
import type { Random } from '../../src/base';
import type { Client } from '../../src/client';
import type { EventValue, OpFunction } from '../history';
import type { Completion } from './recorder';

export type KvClient = Pick<Client, 'get' | 'put' | 'compareAndSwap' | 'batch' | 'scan' | 'close'>;

export interface OpSpec {
  f: OpFunction;
  key: string;
  value: EventValue;
}

export type WorkloadName = 'register' | 'set' | 'bank';
export const workloadNames: readonly WorkloadName[] = ['register', 'set', 'bank'];

export interface Workload {
  readonly name: WorkloadName;
  /** Whether pinned workers in 'mixed' client mode should only read (register: catches stale reads). */
  readonly pinnedReaders: boolean;
  /** Runs once before the workers start (e.g. creating the bank accounts). */
  setup(client: KvClient, deadlineMs: number): Promise<void>;
  /** The next operation for a worker (seeded). */
  nextOp(rng: Random): OpSpec;
  /** Executes an operation; resolves to ok or a definite fail; throws on errors (classified by the caller). */
  execute(client: KvClient, op: OpSpec, deadlineMs: number): Promise<Completion>;
  /** True when the op changes nothing (a failed read is `fail`, never `info`). */
  readOnly(op: OpSpec): boolean;
  /** The reads done after recovery. */
  finalOps(): OpSpec[];
}

export const keyPrefix = 'jl/';

/** Values are stored as their JSON text; absent stays absent. */
export function encodeValue(v: number | string): Buffer {
  return Buffer.from(JSON.stringify(v));
}

export function decodeValue(b: Buffer | null): number | string | null {
  if (b === null) return null;
  const text = b.toString('utf8');
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === 'number' || typeof v === 'string') return v;
  } catch {
    // not ours: report the raw text, which no checker will expect
  }
  return `<raw:${text}>`;
}
