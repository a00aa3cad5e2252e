/**
 * Log compaction of a group. The host records (index, term, config) points as entries are applied and
 * compacts once the log holds more than snapshotEntries applied entries OR more than snapshotBytes bytes of
 * applied entries (entryBytes: the payload, the memory an entry holds), at the newest point at least
 * logRetainEntries behind the applied index (so briefly lagging followers still get entries, not a
 * snapshot), or at a newer one when that would keep more than logRetainBytes behind the applied index
 * (the retained tail is bounded in bytes too: large values must not keep the log near its bound).
 * Invariants: a compaction point is an applied entry with its exact term and the configuration in force
 * after it, so the stored snapshot meta matches the state machine; bytesApplied - bytesCompacted is the
 * payload of the applied entries still in the log (from firstIndex to the last noted entry).
 * Shared by NodeHost and the simulator: it depends on structural shapes only, and compactAt is a ready-loop
 * task (loop-driver.ts) so either driver runs it.
 */
import type { GroupId } from '../base';
import { entryBytes, type ConfigState, type Entry, type RawNode } from '../raft';
import type { LoopTask, LoopWait } from './loop-driver';
import type { PersistWrite } from './ready-loop';

const POINTS_MAX = 256;

export interface CompactionPoint {
  index: number;
  term: number;
  config: ConfigState;
  /** The group's bytesApplied once this entry was applied. */
  bytesApplied: number;
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
  /** Running total of the bytes of entries applied (noteApplied) since the group opened. */
  bytesApplied: number;
  /** Of bytesApplied, the bytes compacted away or replaced by a snapshot. */
  bytesCompacted: number;
}

export interface CompactionLimits {
  snapshotEntries: number;
  logRetainEntries: number;
  /** Compact once the applied entries in the log hold more bytes than this (Infinity: entries only). */
  snapshotBytes: number;
}

/** Bytes the log keeps behind the applied index at compaction: a quarter of snapshotBytes. */
export function logRetainBytesOf(cfg: CompactionLimits): number {
  return Math.floor(cfg.snapshotBytes / 4);
}

/** Bytes of applied entries still in the group's log. */
export function appliedLogBytes(g: CompactionGroup): number {
  return g.bytesApplied - g.bytesCompacted;
}

export interface CompactionStore {
  persist(writes: PersistWrite[]): LoopWait;
  compactLog(groupId: GroupId, index: number): LoopWait;
}

/**
 * Counts the bytes of entries just applied and records a compaction point after the last of them (at
 * least every logRetainEntries / 4 entries or snapshotBytes / 64 bytes, and after every config entry);
 * returns whether a point was added.
 */
export function noteApplied(g: CompactionGroup, entries: readonly Entry[], cfg: CompactionLimits): boolean {
  const last = entries[entries.length - 1];
  if (last === undefined) return false;
  let configChanged = false;
  for (const e of entries) {
    g.bytesApplied += entryBytes(e);
    if (e.kind === 'config') configChanged = true;
  }
  return noteCompactionPoint(g, last, configChanged, cfg);
}

function noteCompactionPoint(g: CompactionGroup, last: Entry, force: boolean, cfg: CompactionLimits): boolean {
  const points = g.compactionPoints;
  const step = Math.max(1, Math.floor(cfg.logRetainEntries / 4), Math.floor(cfg.snapshotEntries / 64));
  const byteStep = cfg.snapshotBytes / 64;
  const prev = points[points.length - 1];
  if (!force && prev !== undefined && last.index - prev.index < step && g.bytesApplied - prev.bytesApplied < byteStep)
    return false;
  points.push({ index: last.index, term: last.term, config: g.core.status().config, bytesApplied: g.bytesApplied });
  if (points.length > POINTS_MAX) points.splice(0, points.length - POINTS_MAX);
  return true;
}

/** A group opened from the store: its log starts at firstIndex, and the applied part of `entries` counts. */
export function openedLog(g: CompactionGroup, firstIndex: number, entries: readonly Entry[]): void {
  g.firstIndex = firstIndex;
  for (const e of entries) if (e.index >= firstIndex && e.index <= g.sm.applied) g.bytesApplied += entryBytes(e);
}

/** The log starts over after a snapshot install at `snapshotIndex`: no points, none of its bytes applied. */
export function resetCompaction(g: CompactionGroup, snapshotIndex: number): void {
  g.compactionPoints = [];
  g.firstIndex = snapshotIndex + 1;
  g.bytesCompacted = g.bytesApplied;
}

/** The point to compact at now, removed from the group's list, or null. */
export function takeCompactionPoint(g: CompactionGroup, cfg: CompactionLimits): CompactionPoint | null {
  const applied = g.sm.applied;
  const overEntries = applied - g.firstIndex + 1 > cfg.snapshotEntries;
  if (!overEntries && appliedLogBytes(g) <= cfg.snapshotBytes) return null;
  const limit = applied - cfg.logRetainEntries;
  // Retaining more than this many bytes behind the applied index, a point is far enough back already.
  const bytesLimit = g.bytesApplied - logRetainBytesOf(cfg);
  let point: CompactionPoint | null = null;
  let keepFrom = 0;
  for (let i = 0; i < g.compactionPoints.length; i++) {
    const p = g.compactionPoints[i] as CompactionPoint;
    if (p.index > limit && p.bytesApplied > bytesLimit) break;
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
  g.bytesCompacted = Math.max(g.bytesCompacted, point.bytesApplied);
  logger.info(
    { group: g.id, index: point.index, applied: g.sm.applied, logBytes: appliedLogBytes(g) },
    'log compacted',
  );
}
