/**
 * Keeping the meta shard's descriptors current with the shards' real membership (the driver's step 4),
 * best effort: a record lost or refused is tried again from the next round's reports, and routing never
 * depends on it (the nodes answer from their groups, the driver plans from the leaders' reports).
 *
 * One changeReplicas step per shard per round, at most RECORDS_PER_ROUND_MAX, each conditional on the meta
 * descriptor's epoch (a concurrent record makes it refused, harmlessly):
 * - the meta group: whenever its descriptor's replicas differ from its leader's configuration (it never
 *   splits, so its epoch is the meta shard's alone);
 * - a data shard: only when the steps from the recorded replicas to its leader's report are exactly as many
 *   as the epochs between them (the shard counts every configuration entry, kv/state-machine.ts), one step
 *   a round: a move (learner added, promoted, old replica removed) is three steps over three epochs, each
 *   record bringing the meta epoch one closer. Recording a change the data shard did not count would put
 *   the meta epoch ahead of the shard's, and the shard's later split records (made at the shard's epoch)
 *   would all be refused; a shard whose changes cancel out (a learner added, then removed) or that split
 *   since is left for a later record (or stays behind: routing never reads these descriptors).
 * Order of steps: a replica the truth lacks is removed, then a learner promoted, then a new one added.
 */
import type { NodeId } from '../base';
import type { MetaCommand, MetaResult, ReplicaChangeKind } from '../meta';
import type { Logger } from '../obs';
import { addLearner, promoteLearner, removeReplica, type ShardDescriptor } from '../shard';

export const RECORDS_PER_ROUND_MAX = 8;

/** The one step that brings `recorded`'s replicas toward `truth`'s, or null when they are the same. */
export function nextRecordStep(
  recorded: ShardDescriptor,
  truth: ShardDescriptor,
): { change: ReplicaChangeKind; node: NodeId } | null {
  const role = (d: ShardDescriptor, node: NodeId) => d.replicas.find((r) => r.node === node)?.role;
  const gone = recorded.replicas.find((r) => role(truth, r.node) === undefined);
  if (gone) return { change: 'removeReplica', node: gone.node };
  const promoted = truth.replicas.find((r) => r.role === 'voter' && role(recorded, r.node) === 'learner');
  if (promoted) return { change: 'promoteLearner', node: promoted.node };
  const added = truth.replicas.find((r) => role(recorded, r.node) === undefined);
  if (added) return { change: 'addLearner', node: added.node };
  return null;
}

const STEPS = { addLearner, promoteLearner, removeReplica };

function stepped(d: ShardDescriptor, step: { change: ReplicaChangeKind; node: NodeId }): ShardDescriptor {
  return STEPS[step.change](d, step.node);
}

function sameReplicas(a: ShardDescriptor, b: ShardDescriptor): boolean {
  const key = (d: ShardDescriptor) => d.replicas.map((r) => `${r.node}:${r.role}`).join(',');
  return key(a) === key(b);
}

/**
 * How many nextRecordStep steps lead from `recorded`'s replicas to `truth`'s (each changes one replica), or
 * -1 when they never reach it (a voter demoted) or a step is refused (say, no voter left on the way).
 */
function stepsBetween(recorded: ShardDescriptor, truth: ShardDescriptor): number {
  let d = recorded;
  let n = 0;
  try {
    for (let step = nextRecordStep(d, truth); step !== null; step = nextRecordStep(d, truth)) {
      d = stepped(d, step);
      n++;
    }
  } catch {
    return -1;
  }
  return sameReplicas(d, truth) ? n : -1;
}

/** The records to make this round (see the header). Pure. */
export function plannedRecords(
  truth: readonly ShardDescriptor[],
  recorded: readonly ShardDescriptor[],
  metaGroupId: number,
): MetaCommand[] {
  const byId = new Map(recorded.map((d) => [d.id as number, d]));
  const out: MetaCommand[] = [];
  for (const t of truth) {
    const r = byId.get(t.id);
    if (r === undefined || out.length >= RECORDS_PER_ROUND_MAX) continue;
    const step = nextRecordStep(r, t);
    if (step === null) continue;
    // A data shard: the steps to its report must be exactly its epochs since the record.
    if (t.id !== metaGroupId && stepsBetween(r, t) !== t.epoch - r.epoch) continue;
    out.push({ type: 'changeReplicas', shard: t.id, epoch: r.epoch, change: step.change, node: step.node });
  }
  return out;
}

/** Makes this round's records one after another; refusals and failures are logged, never thrown. */
export async function recordMembership(
  apply: (command: MetaCommand, timeoutMs: number) => Promise<MetaResult>,
  truth: readonly ShardDescriptor[],
  recorded: readonly ShardDescriptor[],
  metaGroupId: number,
  opts: { timeoutMs: number; logger: Logger },
): Promise<number> {
  let done = 0;
  for (const c of plannedRecords(truth, recorded, metaGroupId)) {
    if (c.type !== 'changeReplicas') continue;
    try {
      const result = await apply(c, opts.timeoutMs);
      if (result.type === 'replicasChanged') done++;
      else
        opts.logger.info(
          { shard: c.shard, change: c.change, node: c.node, result: result.type },
          'placement: meta descriptor not updated',
        );
    } catch (e) {
      opts.logger.info({ shard: c.shard, err: (e as Error).message }, 'placement: meta descriptor not updated');
    }
  }
  return done;
}
