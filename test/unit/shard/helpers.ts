/** Test helpers for src/shard: keys from strings, descriptors from short specs. */
import { epochOf, shardIdOf } from '../../../src/base';
import { makeDescriptor } from '../../../src/shard';
import type { Replica, ShardDescriptor } from '../../../src/shard';

export const k = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (key: Uint8Array | null): string | null => (key === null ? null : new TextDecoder().decode(key));

/** Replicas from a spec like '1v 2v 3l' (node id, v = voter, l = learner). */
export function reps(spec: string): Replica[] {
  return spec
    .split(/\s+/)
    .filter((x) => x.length > 0)
    .map((x) => ({ node: Number(x.slice(0, -1)), role: x.endsWith('l') ? 'learner' : 'voter' }));
}

/** A descriptor; start and end are strings ('' = keyspace start, null = +infinity). */
export function desc(id: number, start: string, end: string | null, replicas = '1v 2v 3v', epoch = 1): ShardDescriptor {
  return makeDescriptor({
    id: shardIdOf(id),
    start: k(start),
    end: end === null ? null : k(end),
    replicas: reps(replicas),
    epoch: epochOf(epoch),
  });
}

export function codeAndRule(fn: () => unknown): { code: unknown; rule: unknown } {
  try {
    fn();
  } catch (e) {
    const err = e as { code?: unknown; details?: { rule?: unknown } };
    return { code: err.code, rule: err.details?.rule };
  }
  return { code: 'no error', rule: undefined };
}
