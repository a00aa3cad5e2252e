/**
 * One-step replica changes of a descriptor, each giving the next epoch: add a learner, promote a learner
 * to voter, remove a replica. These are what a committed membership change of the shard's Raft group does
 * to its descriptor (one server at a time, DESIGN.md section 9b: new members join as learners). Pure; the
 * result is validated like any descriptor, so removing the last voter is refused.
 */
import { TesseraError, epochOf } from '../base';
import type { NodeId } from '../base';
import { makeDescriptor, replicaOn } from './descriptor';
import type { Replica, ShardDescriptor } from './descriptor';

function refuse(d: ShardDescriptor, message: string): never {
  throw new TesseraError('INVALID_ARGUMENT', `shard ${d.id}: ${message}`, { rule: 'bad-replica-change', shard: d.id });
}

function withReplicas(d: ShardDescriptor, replicas: readonly Replica[]): ShardDescriptor {
  return makeDescriptor({ ...d, replicas, epoch: epochOf(d.epoch + 1) });
}

export function addLearner(d: ShardDescriptor, node: NodeId): ShardDescriptor {
  if (replicaOn(d, node)) refuse(d, `node ${node} already holds a replica`);
  return withReplicas(d, [...d.replicas, { node, role: 'learner' }]);
}

export function promoteLearner(d: ShardDescriptor, node: NodeId): ShardDescriptor {
  if (replicaOn(d, node)?.role !== 'learner') refuse(d, `node ${node} holds no learner`);
  return withReplicas(
    d,
    d.replicas.map((r) => (r.node === node ? { node, role: 'voter' as const } : r)),
  );
}

export function removeReplica(d: ShardDescriptor, node: NodeId): ShardDescriptor {
  if (!replicaOn(d, node)) refuse(d, `node ${node} holds no replica`);
  return withReplicas(
    d,
    d.replicas.filter((r) => r.node !== node),
  );
}
