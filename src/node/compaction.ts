/**
 * Log compaction of a group. The host records (index, term, config) points as entries are applied and,
 * once the log holds more than snapshotEntries entries, compacts at the newest point at least
 * logRetainEntries behind the applied index (so briefly lagging followers still get entries, not a
 * snapshot). Invariant: a compaction point is an applied entry with its exact term and the configuration
 * in force after it, so the stored snapshot meta matches the state machine.
 */
import type { NodeConfig } from '../config';
import type { Logger } from '../obs';
import type { Entry } from '../raft';
import type { NodeStore } from '../storage';
import type { CompactionPoint, Group } from './group';

const POINTS_MAX = 256;

export function noteCompactionPoint(g: Group, last: Entry, force: boolean, cfg: NodeConfig): void {
  const points = g.compactionPoints;
  const step = Math.max(1, Math.floor(cfg.logRetainEntries / 4), Math.floor(cfg.snapshotEntries / 64));
  const prev = points[points.length - 1];
  if (!force && prev !== undefined && last.index - prev.index < step) return;
  points.push({ index: last.index, term: last.term, config: g.core.status().config });
  if (points.length > POINTS_MAX) points.splice(0, points.length - POINTS_MAX);
}

/** The point to compact at now, removed from the group's list, or null. */
export function takeCompactionPoint(g: Group, cfg: NodeConfig): CompactionPoint | null {
  const applied = g.sm.applied;
  if (applied - g.firstIndex + 1 <= cfg.snapshotEntries) return null;
  const limit = applied - cfg.logRetainEntries;
  let point: CompactionPoint | null = null;
  let keepFrom = 0;
  for (let i = 0; i < g.compactionPoints.length; i++) {
    const p = g.compactionPoints[i] as CompactionPoint;
    if (p.index > limit) break;
    point = p;
    keepFrom = i + 1;
  }
  if (point === null || point.index < g.firstIndex) return null;
  g.compactionPoints = g.compactionPoints.slice(keepFrom);
  return point;
}

/** Compacts the core and the stored log when the threshold is passed (run by the group's serial runner). */
export async function maybeCompact(g: Group, cfg: NodeConfig, store: NodeStore, logger: Logger): Promise<void> {
  const point = takeCompactionPoint(g, cfg);
  if (point === null) return;
  g.core.compact(point.index);
  // The snapshot meta goes down with sync (it also syncs the state machine's earlier, unsynced applies,
  // which share LevelDB's write-ahead log), then the stored entries up to it are dropped.
  await store.persist([
    {
      groupId: g.id,
      hardState: null,
      entries: [],
      snapshot: { index: point.index, term: point.term, config: point.config },
    },
  ]);
  await store.compactLog(g.id, point.index);
  g.firstIndex = point.index + 1;
  logger.info({ group: g.id, index: point.index, applied: g.sm.applied }, 'log compacted');
}
