/**
 * Log compaction of a group. The host records (index, term, config) points as entries are applied and,
 * once the log holds more than snapshotEntries entries, compacts at the newest point at least
 * logRetainEntries behind the applied index (so briefly lagging followers still get entries, not a
 * snapshot). Invariant: a compaction point is an applied entry with its exact term and the configuration
 * in force after it, so the stored snapshot meta matches the state machine.
 * Shared by NodeHost and the simulator: it depends on structural shapes only, and compactAt is a ready-loop
 * task (loop-driver.ts) so either driver runs it.
 */
import type { GroupId } from '../base';
import type { ConfigState, Entry, RawNode } from '../raft';
import type { LoopTask, LoopWait } from './loop-driver';
import type { PersistWrite } from './ready-loop';

const POINTS_MAX = 256;

export interface CompactionPoint {
  index: number;
  term: number;
  config: ConfigState;
}

/** What compaction reads and keeps of a group. */
export interface CompactionGroup {
  readonly id: GroupId;
  readonly core: RawNode;
  readonly sm: { readonly applied: number };
  /** Recent points to compact at; ascending by index, bounded. */
  compactionPoints: CompactionPoint[];
  /** First index still in the log (after the last compaction or snapshot). */
  firstIndex: number;
}

export interface CompactionLimits {
  snapshotEntries: number;
  logRetainEntries: number;
}

export interface CompactionStore {
  persist(writes: PersistWrite[]): LoopWait;
  compactLog(groupId: GroupId, index: number): LoopWait;
}

/** Records a point after `last` was applied; returns whether a point was added. */
export function noteCompactionPoint(g: CompactionGroup, last: Entry, force: boolean, cfg: CompactionLimits): boolean {
  const points = g.compactionPoints;
  const step = Math.max(1, Math.floor(cfg.logRetainEntries / 4), Math.floor(cfg.snapshotEntries / 64));
  const prev = points[points.length - 1];
  if (!force && prev !== undefined && last.index - prev.index < step) return false;
  points.push({ index: last.index, term: last.term, config: g.core.status().config });
  if (points.length > POINTS_MAX) points.splice(0, points.length - POINTS_MAX);
  return true;
}

/** The point to compact at now, removed from the group's list, or null. */
export function takeCompactionPoint(g: CompactionGroup, cfg: CompactionLimits): CompactionPoint | null {
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

/** Compacts the core and the stored log at `point` (run by the group's serial runner, the ready loop). */
export function* compactAt(
  g: CompactionGroup,
  point: CompactionPoint,
  store: CompactionStore,
  logger: { info(fields: object, message: string): void },
): LoopTask {
  g.core.compact(point.index);
  // The snapshot meta goes down with sync (it also syncs the state machine's earlier, unsynced applies,
  // which share LevelDB's write-ahead log), then the stored entries up to it are dropped.
  yield store.persist([
    {
      groupId: g.id,
      hardState: null,
      entries: [],
      snapshot: { index: point.index, term: point.term, config: point.config },
      installStagingId: null,
    },
  ]);
  yield store.compactLog(g.id, point.index);
  g.firstIndex = point.index + 1;
  logger.info({ group: g.id, index: point.index, applied: g.sm.applied }, 'log compacted');
}
