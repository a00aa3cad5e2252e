/**
 * The receiving side of a snapshot, between the stream and the ready loop (shared by NodeHost and the
 * simulator): a group stages at most one snapshot at a time; once its data is staged the host steps the
 * core with the snapshot message whose data is the staging id, and the ready loop installs it when the
 * core hands exactly that snapshot out (or discards it: ready-loop.ts).
 * Invariant: g.staging names the one staging in progress; `stepped` is set before the core sees it.
 */
import type { Message, SnapshotMeta, StepOutcome } from '../raft';
import type { LoopGroup } from './ready-loop';

/** Starts staging; false (refuse the stream) while another snapshot is being received or installed. */
export function beginStaging(g: LoopGroup, id: string, meta: SnapshotMeta): boolean {
  if (g.staging !== null) return false;
  g.staging = { id, meta, stepped: false };
  return true;
}

/**
 * Steps the fully staged snapshot into the core (its data replaced by the staging id). On a refusal the
 * staging stays marked stepped: the caller discards it.
 */
export function stepStaged(g: LoopGroup, message: Message & { type: 'snapshot' }, id: string): StepOutcome {
  const staging = g.staging;
  if (staging === null || staging.id !== id) throw new Error(`group ${g.id}: snapshot ${id} is not being staged`);
  staging.stepped = true;
  return g.core.step({ ...message, snapshot: { meta: message.snapshot.meta, data: Buffer.from(id, 'utf8') } });
}

/** The stream failed or was cut before the step: forgets the staging; true when its data must be dropped. */
export function abandonStaging(g: LoopGroup, id: string): boolean {
  if (g.staging?.id !== id || g.staging.stepped) return false;
  g.staging = null;
  return true;
}
