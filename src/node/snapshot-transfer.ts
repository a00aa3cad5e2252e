/**
 * Snapshot streaming between a group's leader and a lagging follower.
 * Leader: the core's snapshot message carries meta at its applied index when ready() was produced;
 * sendSnapshot captures the state machine at exactly that index (before the Ready's entries are
 * applied: the caller guarantees it) and streams it in chunks, then reports the outcome to the core.
 * Follower: stageSnapshot writes the chunks to the state machine's staging area (bounded memory) and
 * checks the data is at the meta's index; the host then steps the core with the snapshot message whose
 * data is the staging id, and installs it when the core hands the snapshot out in a Ready.
 *
 * Invariants of a send (leader side):
 * - it always settles (the transport's send does: success, failure or timeout) and is then taken out of
 *   the group's "sending" set; nothing it does can leave a rejection unhandled;
 * - the LevelDB snapshot (the reader) is closed whatever the outcome, even if the send fails before the
 *   first chunk;
 * - the core always hears the outcome (reportSnapshot), also for a snapshot message that is not sent (one
 *   already in flight to that peer, or the peer is in backoff);
 * - failures are logged rate-limited per (group, peer) and retried with exponential backoff: a snapshot
 *   message for a peer in backoff is not sent (the core retries after a heartbeat round).
 */
import { encodeRaftMessage } from '../codec';
import type { Logger, NodeMetrics } from '../obs';
import type { NodeId } from '../base';
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
  /** Retry delays after consecutive failures to one peer: initialMs, doubling, at most maxMs. */
  backoff?: { initialMs: number; maxMs: number };
  /** At most one skip or failure log line per (group, peer) per this many ms (the rest are counted). */
  logEveryMs?: number;
  /** The clock (tests); Date.now by default. */
  nowMs?: () => number;
}

export const SNAPSHOT_BACKOFF_DEFAULT = { initialMs: 250, maxMs: 5_000 };
export const SNAPSHOT_LOG_EVERY_MS_DEFAULT = 10_000;

/** Per (group, peer): consecutive failures, the earliest next attempt, and the rate-limited log. */
interface PeerSendState {
  failures: number;
  retryAtMs: number;
  loggedAtMs: number;
  suppressed: number;
}

const peerStates = new WeakMap<Group, Map<NodeId, PeerSendState>>();

function peerState(g: Group, peer: NodeId): PeerSendState {
  let m = peerStates.get(g);
  if (m === undefined) {
    m = new Map();
    peerStates.set(g, m);
  }
  let st = m.get(peer);
  if (st === undefined) {
    st = { failures: 0, retryAtMs: 0, loggedAtMs: Number.NEGATIVE_INFINITY, suppressed: 0 };
    m.set(peer, st);
  }
  return st;
}

/** Logs at most once per logEveryMs per (group, peer); the lines left out are counted in the next one. */
function logRateLimited(
  ctx: SnapshotSendContext,
  st: PeerSendState,
  fields: Record<string, unknown>,
  msg: string,
): void {
  const now = (ctx.nowMs ?? Date.now)();
  if (now - st.loggedAtMs < (ctx.logEveryMs ?? SNAPSHOT_LOG_EVERY_MS_DEFAULT)) {
    st.suppressed++;
    return;
  }
  ctx.logger.warn({ ...fields, suppressedSinceLastLog: st.suppressed }, msg);
  st.loggedAtMs = now;
  st.suppressed = 0;
}

export function sendSnapshot(ctx: SnapshotSendContext, g: Group, m: Message & { type: 'snapshot' }): void {
  const now = (ctx.nowMs ?? Date.now)();
  const st = peerState(g, m.to);
  if (g.sm.applied !== m.snapshot.meta.index) {
    ctx.logger.error(
      { group: g.id, applied: g.sm.applied, meta: m.snapshot.meta.index },
      'snapshot meta does not match the applied index',
    );
    g.core.reportSnapshot(m.to, false);
    return;
  }
  if (g.snapshotSends.has(m.to) || now < st.retryAtMs) {
    ctx.metrics.snapshotsSent.inc({ outcome: 'skipped' });
    const why = g.snapshotSends.has(m.to)
      ? 'a snapshot to this peer is still in flight'
      : 'the peer is in backoff after failed sends';
    logRateLimited(ctx, st, { group: g.id, to: m.to, why, failures: st.failures }, 'snapshot not sent');
    g.core.reportSnapshot(m.to, false);
    return;
  }
  const reader = g.sm.openSnapshot({ chunkBytes: ctx.chunkBytes });
  g.snapshotSends.add(m.to);
  ctx.logger.info({ group: g.id, to: m.to, index: m.snapshot.meta.index }, 'sending snapshot');
  const settle = (ok: boolean, err: unknown): void => {
    if (ok) {
      ctx.metrics.snapshotsSent.inc({ outcome: 'ok' });
      st.failures = 0;
      st.retryAtMs = 0;
    } else {
      ctx.metrics.snapshotsSent.inc({ outcome: 'failed' });
      st.failures++;
      const backoff = ctx.backoff ?? SNAPSHOT_BACKOFF_DEFAULT;
      const delayMs = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(st.failures - 1, 30));
      st.retryAtMs = (ctx.nowMs ?? Date.now)() + delayMs;
      logRateLimited(
        ctx,
        st,
        { group: g.id, to: m.to, err: (err as Error)?.message, failures: st.failures, retryInMs: delayMs },
        'snapshot send failed',
      );
    }
    g.core.reportSnapshot(m.to, ok);
  };
  let sending: Promise<void>;
  try {
    sending = ctx.transport.sendSnapshot(m.to, g.id, encodeRaftMessage({ groupId: g.id, message: m }), reader);
  } catch (e) {
    sending = Promise.reject(e);
  }
  sending
    .then(
      () => settle(true, null),
      (e: unknown) => settle(false, e),
    )
    .catch((e: unknown) =>
      ctx.logger.error({ group: g.id, to: m.to, err: (e as Error)?.message }, 'reporting a snapshot outcome failed'),
    )
    .finally(async () => {
      g.snapshotSends.delete(m.to);
      await reader
        .close()
        .catch((e: unknown) =>
          ctx.logger.warn({ group: g.id, err: (e as Error)?.message }, 'closing a snapshot reader failed'),
        );
      ctx.schedule();
    })
    .catch(() => undefined);
}

/** Stages every chunk under `stagingId`; throws if the stream is short, overlong or at another index. */
export async function stageSnapshot(
  g: Group,
  s: IncomingSnapshot,
  stagingId: string,
  metaIndex: number,
): Promise<void> {
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
