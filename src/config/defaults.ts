/**
 * Every default in one place, and the named timing profiles.
 * - default: etcd-like timing (heartbeat 100 ms, election 1000 ms).
 * - low-latency: heartbeat 20 ms, election 200 ms, for loopback or a LAN with low jitter; faster
 *   failover at the price of more heartbeat traffic and more spurious elections under load or GC pauses.
 */
import type { ProfileName } from './types';

export const DEFAULTS = {
  http: null as string | null,
  join: false,
  profile: 'default' as ProfileName,
  keyBytesMax: 4096,
  valueBytesMax: 1024 * 1024,
  batchOpsMax: 128,
  batchBytesMax: 4 * 1024 * 1024,
  scanItemsMax: 10_000,
  scanBytesMax: 4 * 1024 * 1024,
  proposalsMax: 8192,
  readsMax: 8192,
  outboxMessagesMax: 4096,
  preVote: true,
  checkQuorum: true,
  lazyCommit: true,
  inflightMessagesMax: 256,
  appendBytesMax: 1024 * 1024,
  uncommittedBytesMax: 64 * 1024 * 1024,
  snapshotEntries: 10_000,
  snapshotChunkBytes: 1024 * 1024,
  balanceLeaders: true,
  placement: true,
  replicas: 3,
  deadNodeTimeoutMs: 5 * 60 * 1000,
  placementIntervalMs: 1000,
  splitMaxKeys: 960_000,
  splitMaxBytes: 96 * 1024 * 1024,
  sessionsMax: 100_000,
  sessionsNewPerClientPerSecond: 100,
  /** One hour, a bound like an etcd lease: far above any client's retry window for one write. */
  sessionTtlMs: 60 * 60 * 1000,
  requestTimeoutMs: 10_000,
  /** SIGTERM: leaderships are moved off the node for at most this long before it stops (server/shutdown-drain.ts). */
  shutdownDrainMs: 5000,
  /** The node's memory budget (server/memory-budget.ts derives the overload bounds from it). */
  memoryBudgetMib: 512,
  /** Open client connections on --listen (server/connection-gate.ts); more are refused. */
  connectionsMax: 1024,
  unsafeStaleReads: false,
  logLevel: 'info' as const,
} as const;

/**
 * The shortest session TTL accepted: a session must outlive every retry of its last write (SDK deadlines
 * are seconds), or a retried write could apply twice.
 */
export const SESSION_TTL_MS_MIN = 60_000;

/** The smallest memory budget accepted: a node's baseline (V8, LevelDB caches) needs about this much. */
export const MEMORY_BUDGET_MIB_MIN = 64;
/** The largest memory budget accepted (1 TiB). */
export const MEMORY_BUDGET_MIB_MAX = 1024 * 1024;

export interface ProfileTiming {
  heartbeatMs: number;
  electionMs: number;
}

export const PROFILES: Record<ProfileName, ProfileTiming> = {
  default: { heartbeatMs: 100, electionMs: 1000 },
  'low-latency': { heartbeatMs: 20, electionMs: 200 },
};

/** The tick period when not given: half a heartbeat (finer election randomization), at least 5 ms. */
export function derivedTickMs(heartbeatMs: number): number {
  return Math.max(5, Math.floor(heartbeatMs / 2));
}

/** The smallest --snapshot-bytes accepted (one large value must fit below it). */
export const SNAPSHOT_BYTES_MIN = 1024 * 1024;

/**
 * Bytes of applied entries the in-memory Raft log may hold before compaction, when not given: an eighth of
 * the memory budget (the log is part of the node's baseline; like TiKV's raft-log-gc-size-limit, a byte
 * bound so that large values do not keep snapshotEntries of them in memory).
 */
export function derivedSnapshotBytes(memoryBudgetBytes: number): number {
  return Math.max(SNAPSHOT_BYTES_MIN, Math.floor(memoryBudgetBytes / 8));
}

/**
 * Entry bytes of the AppendEntries in flight to one follower, when not given: a sixteenth of the memory
 * budget (a follower that stops reading holds at most this much of the leader's memory in its outbox).
 */
export function derivedInflightBytesMax(memoryBudgetBytes: number): number {
  return Math.max(SNAPSHOT_BYTES_MIN, Math.floor(memoryBudgetBytes / 16));
}

/** Entries kept behind the applied index at compaction when not given. */
export function derivedLogRetainEntries(snapshotEntries: number): number {
  return Math.max(1, Math.floor(snapshotEntries / 10));
}
