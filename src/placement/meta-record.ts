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
 *   would all be refused; a shard whose changes cancel out (a learner added, then removed) gets the
 *   catch-up record below.
 * Order of steps: a replica the truth lacks is removed, then a learner promoted, then a new one added.
 *
 * Catch-up, for what the steps cannot follow (the meta copy lagged for good before: every later split
 * record of the shard was refused, planned at an epoch the meta shard did not have, and a soak's meta
 * shard knew a third of the shards):
 * - a data shard whose replicas or epoch differ, whose range is the same and whose reported epoch is later,
 *   and that no step sequence reaches at exactly its epochs (changes that cancel out, a record lost), gets
 *   one setReplicas record: the leader's configuration and epoch as they are;
 * - a split the meta shard never recorded (its node's record timed out or was refused) is recorded from
 *   the reports, in the order the splits happened, so that every recorded descriptor is one the shard
 *   really had (epochs only grow along every key's history, the rule ShardMap.apply relies on). A reported
 *   shard T unknown to the meta shard, whose start lies strictly inside recorded shard R, came from R's
 *   range: split R at T's start with T's id (reserved by the real split). The meta shard gives both
 *   halves R's epoch + 1 and the right half R's range from T's start on, which is right only when T was
 *   R's next split: then every other shard now in that right half descends from T, born after it, at an
 *   epoch past R's + 1. So of the unknown shards, lowest id first (ids are reserved when a split is
 *   planned, so a parent's split has a lower id than its children's), the first whose right half holds no
 *   other shard at R's epoch + 1 or less is recorded. Nor is a piece recorded whose R's epoch + 1 would be
 *   past either shard's own (the meta epoch never passes the shard's: its records would then all be
 *   refused). One per round per parent; a later round takes the next piece. Recording the pieces from the
 *   right (the one next to R's reported end first), as before, made the meta copy of R's last split cover
 *   its earlier pieces at their own epoch (not a descriptor R ever had) and left the rest unrecordable.
 */
import type { NodeId } from '../base';
import type { MetaCommand, MetaResult, ReplicaChangeKind } from '../meta';
import type { Logger } from '../obs';
import {
  addLearner,
  compareEnds,
  compareKeys,
  containsKey,
  keysEqual,
  promoteLearner,
  rangesOverlap,
  removeReplica,
  type ShardDescriptor,
} from '../shard';

export const RECORDS_PER_ROUND_MAX = 8;

/** The meta commands the driver records. */
export type MetaRecord = Extract<MetaCommand, { type: 'split' | 'changeReplicas' | 'setReplicas' }>;
type SplitRecord = Extract<MetaCommand, { type: 'split' }>;

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

const sameRange = (a: ShardDescriptor, b: ShardDescriptor): boolean =>
  keysEqual(a.start, b.start) && compareEnds(a.end, b.end) === 0;

/** The membership record of data shard `t` recorded as `r`, or null (see the header). */
function membershipRecord(t: ShardDescriptor, r: ShardDescriptor): MetaRecord | null {
  const step = nextRecordStep(r, t);
  if (step !== null && stepsBetween(r, t) === t.epoch - r.epoch)
    return { type: 'changeReplicas', shard: t.id, epoch: r.epoch, change: step.change, node: step.node };
  if (t.epoch <= r.epoch || !sameRange(r, t)) return null;
  return { type: 'setReplicas', shard: t.id, epoch: r.epoch, newEpoch: t.epoch, replicas: t.replicas };
}

/** The recorded data shard whose range holds `key` after its start (recorded: sorted by start), or undefined. */
function parentOf(sorted: readonly ShardDescriptor[], key: ShardDescriptor['start']): ShardDescriptor | undefined {
  let lo = 0;
  let hi = sorted.length; // the first shard whose start is not before key
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareKeys(sorted[mid]!.start, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  const d = sorted[lo - 1];
  return d !== undefined && containsKey(d, key) ? d : undefined;
}

/** Splits the meta shard never recorded, at most one per recorded parent, in the order they happened (see the header). */
function splitRecords(
  truth: readonly ShardDescriptor[],
  recorded: readonly ShardDescriptor[],
  metaGroupId: number,
): SplitRecord[] {
  const known = new Set(recorded.map((d) => d.id as number));
  const unknown = truth.filter((t) => !known.has(t.id) && t.id !== metaGroupId).sort((a, b) => a.id - b.id);
  if (unknown.length === 0) return [];
  const sorted = recorded.filter((d) => d.id !== metaGroupId).sort((a, b) => compareKeys(a.start, b.start));
  const truthById = new Map(truth.map((d) => [d.id as number, d]));
  const dataTruth = truth.filter((d) => d.id !== metaGroupId);
  const parents = new Set<number>();
  const out: SplitRecord[] = [];
  for (const t of unknown) {
    const r = parentOf(sorted, t.start);
    const rNow = r === undefined ? undefined : truthById.get(r.id);
    if (r === undefined || rNow === undefined || parents.has(r.id)) continue;
    // Both halves get r.epoch + 1 in the meta shard: never past either shard's own epoch.
    const halvesEpoch = r.epoch + 1;
    if (halvesEpoch > Math.min(rNow.epoch, t.epoch)) continue;
    // T was R's next split only if everything else in the right half was born after T.
    const laterPiece = (x: ShardDescriptor) =>
      x.id === t.id || x.epoch > halvesEpoch || !rangesOverlap(x.start, x.end, t.start, r.end);
    if (!dataTruth.every(laterPiece)) continue;
    parents.add(r.id);
    out.push({ type: 'split', shard: r.id, epoch: r.epoch, key: t.start, rightId: t.id });
  }
  return out;
}

/** The records to make this round (see the header). Pure. */
export function plannedRecords(
  truth: readonly ShardDescriptor[],
  recorded: readonly ShardDescriptor[],
  metaGroupId: number,
): MetaRecord[] {
  const byId = new Map(recorded.map((d) => [d.id as number, d]));
  const splits = splitRecords(truth, recorded, metaGroupId).slice(0, RECORDS_PER_ROUND_MAX);
  const splitting = new Set(splits.map((c) => c.shard as number));
  const out: MetaRecord[] = [...splits];
  for (const t of truth) {
    const r = byId.get(t.id);
    if (r === undefined || splitting.has(t.id) || out.length >= RECORDS_PER_ROUND_MAX) continue;
    if (t.id === metaGroupId) {
      // The meta group never splits and its epoch is its own: every step is recorded.
      const step = nextRecordStep(r, t);
      if (step !== null)
        out.push({ type: 'changeReplicas', shard: t.id, epoch: r.epoch, change: step.change, node: step.node });
      continue;
    }
    const c = membershipRecord(t, r);
    if (c !== null) out.push(c);
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
    const what = c.type === 'changeReplicas' ? `${c.change} ${c.node}` : c.type;
    try {
      const result = await apply(c, opts.timeoutMs);
      if (result.type === 'replicasChanged' || result.type === 'split') {
        done++;
        // A catch-up record means the step-by-step records fell behind: worth a line.
        if (c.type !== 'changeReplicas')
          opts.logger.info({ shard: c.shard, record: what, epoch: c.epoch }, 'placement: meta descriptor caught up');
      } else
        opts.logger.info(
          { shard: c.shard, record: what, result: result.type },
          'placement: meta descriptor not updated',
        );
    } catch (e) {
      opts.logger.info({ shard: c.shard, err: (e as Error).message }, 'placement: meta descriptor not updated');
    }
  }
  return done;
}
