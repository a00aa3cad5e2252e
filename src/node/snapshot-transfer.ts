/**
 * Snapshot streaming between a group's leader and a lagging follower.
 * Leader: the core's snapshot message carries meta at its applied index when ready() was produced;
 * sendSnapshot captures the state machine at exactly that index (before the Ready's entries are
 * applied: the caller guarantees it) and streams it in chunks, then reports the outcome to the core.
 * Follower: stageSnapshot writes the chunks to the state machine's staging area (bounded memory) and
 * checks the data is at the meta's index; the host then steps the core with the snapshot message whose
 * data is the staging id, and installs it when the core hands the snapshot out in a Ready.
 */
import { encodeRaftMessage } from '../codec';
import type { Logger, NodeMetrics } from '../obs';
import type { Message } from '../raft';
import type { IncomingSnapshot, Transport } from '../transport';
import type { Group } from './group';

export interface SnapshotSendContext {
  transport: Transport;
  logger: Logger;
  metrics: NodeMetrics;
  chunkBytes: number;
  /** Re-run the ready loop (the core's snapshot progress changed). */
  schedule(): void;
}

export function sendSnapshot(ctx: SnapshotSendContext, g: Group, m: Message & { type: 'snapshot' }): void {
  if (g.snapshotSends.has(m.to) || g.sm.applied !== m.snapshot.meta.index) {
    if (g.sm.applied !== m.snapshot.meta.index) {
      ctx.logger.error({ group: g.id, applied: g.sm.applied, meta: m.snapshot.meta.index }, 'snapshot meta does not match the applied index');
    }
    g.core.reportSnapshot(m.to, false);
    return;
  }
  const reader = g.sm.openSnapshot({ chunkBytes: ctx.chunkBytes });
  g.snapshotSends.add(m.to);
  const header = encodeRaftMessage({ groupId: g.id, message: m });
  ctx.logger.info({ group: g.id, to: m.to, index: m.snapshot.meta.index }, 'sending snapshot');
  ctx.transport
    .sendSnapshot(m.to, g.id, header, reader)
    .then(
      () => {
        ctx.metrics.snapshotsSent.inc({ outcome: 'ok' });
        g.core.reportSnapshot(m.to, true);
      },
      (e: unknown) => {
        ctx.metrics.snapshotsSent.inc({ outcome: 'failed' });
        ctx.logger.warn({ group: g.id, to: m.to, err: (e as Error).message }, 'snapshot send failed');
        g.core.reportSnapshot(m.to, false);
      },
    )
    .finally(() => {
      g.snapshotSends.delete(m.to);
      ctx.schedule();
    });
}

/** Stages every chunk under `stagingId`; throws if the stream is short, overlong or at another index. */
export async function stageSnapshot(g: Group, s: IncomingSnapshot, stagingId: string, metaIndex: number): Promise<void> {
  await g.sm.beginSnapshotStaging(stagingId);
  let done = false;
  let applied = -1;
  for await (const chunk of s.chunks) {
    if (done) throw new Error('data after the last snapshot chunk');
    ({ done, applied } = await g.sm.stageChunk(stagingId, chunk));
  }
  if (!done) throw new Error('snapshot stream ended before its last chunk');
  if (applied !== metaIndex) throw new Error(`snapshot data is at index ${applied}, its meta at ${metaIndex}`);
}
