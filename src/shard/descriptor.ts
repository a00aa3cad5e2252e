/**
 * Shard descriptors (DESIGN.md section 5, issue 10): a shard owns the keys `[start, end)` (end null =
 * +infinity) and is replicated on `replicas` (one per node, voter or learner). `epoch` is bumped by every
 * change of the range or the replicas, and only ever grows along a key's history: a split gives both halves
 * parent+1, a replica change gives +1. So of two descriptors that share a key, the one with the larger epoch
 * is the newer one (the rule ShardMap.apply relies on).
 * Invariants (validateDescriptor): start < end, at least one voter, no node twice, valid ids and epoch.
 * Descriptors are frozen and own private copies of their keys.
 */
import { TesseraError, isEpoch, isNodeId, isShardId } from '../base';
import type { Epoch, NodeId, ShardId } from '../base';
import { compareKeys, copyKey, isBeforeEnd, printableKey } from './key';
import type { Key, KeyEnd } from './key';

export type ReplicaRole = 'voter' | 'learner';

export interface Replica {
  readonly node: NodeId;
  readonly role: ReplicaRole;
}

export interface ShardDescriptor {
  readonly id: ShardId;
  readonly start: Key;
  /** Exclusive; null is +infinity. */
  readonly end: KeyEnd;
  /** Sorted by node id. */
  readonly replicas: readonly Replica[];
  readonly epoch: Epoch;
}

/** Why a descriptor is malformed (TesseraError INVALID_ARGUMENT, `details.rule`). */
export type DescriptorRule =
  'bad-shard-id' | 'bad-epoch' | 'bad-node-id' | 'bad-role' | 'empty-range' | 'duplicate-replica' | 'no-voter';

export interface DescriptorInput {
  readonly id: ShardId;
  readonly start: Key;
  readonly end: KeyEnd;
  readonly replicas: readonly Replica[];
  readonly epoch: Epoch;
}

function refuse(input: { id: unknown }, rule: DescriptorRule, message: string): never {
  throw new TesseraError('INVALID_ARGUMENT', `shard descriptor ${String(input.id)}: ${message}`, {
    rule,
    shard: input.id,
  });
}

/** Throws TesseraError(INVALID_ARGUMENT, details.rule) when `d` breaks a descriptor invariant. */
export function validateDescriptor(d: DescriptorInput): void {
  if (!isShardId(d.id)) refuse(d, 'bad-shard-id', `id ${String(d.id)} is not a positive 32-bit integer`);
  if (!isEpoch(d.epoch)) refuse(d, 'bad-epoch', `epoch ${String(d.epoch)} is not a non-negative safe integer`);
  if (!(d.start instanceof Uint8Array) || (d.end !== null && !(d.end instanceof Uint8Array)))
    refuse(d, 'empty-range', 'start and end must be byte arrays (end null for +infinity)');
  if (!isBeforeEnd(d.start, d.end))
    refuse(d, 'empty-range', `start ${printableKey(d.start)} is not before end ${printableKey(d.end)}`);
  const seen = new Set<number>();
  let voters = 0;
  for (const r of d.replicas) {
    if (!isNodeId(r.node)) refuse(d, 'bad-node-id', `replica node ${String(r.node)} is not a node id`);
    if (r.role !== 'voter' && r.role !== 'learner') refuse(d, 'bad-role', `replica role ${String(r.role)}`);
    if (seen.has(r.node)) refuse(d, 'duplicate-replica', `node ${r.node} holds two replicas`);
    seen.add(r.node);
    if (r.role === 'voter') voters++;
  }
  if (voters === 0) refuse(d, 'no-voter', 'no voter among the replicas');
}

/** A validated, frozen descriptor with private key copies and replicas sorted by node id. */
export function makeDescriptor(input: DescriptorInput): ShardDescriptor {
  validateDescriptor(input);
  const replicas = [...input.replicas]
    .map((r) => Object.freeze({ node: r.node, role: r.role }))
    .sort((a, b) => a.node - b.node);
  return Object.freeze({
    id: input.id,
    start: copyKey(input.start),
    end: input.end === null ? null : copyKey(input.end),
    replicas: Object.freeze(replicas),
    epoch: input.epoch,
  });
}

export function voters(d: ShardDescriptor): NodeId[] {
  return d.replicas.filter((r) => r.role === 'voter').map((r) => r.node);
}

export function learners(d: ShardDescriptor): NodeId[] {
  return d.replicas.filter((r) => r.role === 'learner').map((r) => r.node);
}

export function replicaOn(d: ShardDescriptor, node: NodeId): Replica | undefined {
  return d.replicas.find((r) => r.node === node);
}

export function containsKey(d: ShardDescriptor, key: Key): boolean {
  return compareKeys(d.start, key) <= 0 && isBeforeEnd(key, d.end);
}

/** Same id, range, replicas and epoch. */
export function sameDescriptor(a: ShardDescriptor, b: ShardDescriptor): boolean {
  if (a.id !== b.id || a.epoch !== b.epoch || compareKeys(a.start, b.start) !== 0) return false;
  if ((a.end === null) !== (b.end === null)) return false;
  if (a.end !== null && b.end !== null && compareKeys(a.end, b.end) !== 0) return false;
  if (a.replicas.length !== b.replicas.length) return false;
  return a.replicas.every((r, i) => r.node === b.replicas[i]?.node && r.role === b.replicas[i]?.role);
}

/** `shard 7 [a, m) e4 {1v 2v 3l}`: for logs, errors and action reasons. */
export function describeShard(d: ShardDescriptor): string {
  const reps = d.replicas.map((r) => `${r.node}${r.role === 'voter' ? 'v' : 'l'}`).join(' ');
  return `shard ${d.id} [${printableKey(d.start)}, ${printableKey(d.end)}) e${d.epoch} {${reps}}`;
}
