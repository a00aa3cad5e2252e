/** Public shapes of the node layer (what server/ sees of NodeHost). */
import type { Clock, GroupId, NodeId, Random, Scheduler } from '../base';
import type { NodeConfig } from '../config';
import type { KeyRange } from '../kv';
import type { Logger, NodeMetrics } from '../obs';
import type { NodeStore } from '../storage';
import type { Transport } from '../transport';

export interface ResponseHeader {
  groupId: GroupId;
  term: number;
  leaderId: NodeId;
  index: number;
}

export interface MemberInfo {
  id: NodeId;
  address: string;
  voter: boolean;
  match: number;
}

export interface GroupStatusInfo {
  groupId: GroupId;
  leader: NodeId;
  term: number;
  role: string;
  commit: number;
  applied: number;
  firstIndex: number;
  lastIndex: number;
  members: MemberInfo[];
  range: KeyRange;
  /** 'data': a shard of user data (range: its keys); 'meta': the meta shard. */
  kind: 'data' | 'meta';
}

/** One shard (KV group) this node hosts, as this replica sees it (Admin.ListShards). */
export interface LocalShardInfo {
  id: GroupId;
  start: Buffer;
  /** null: unbounded (the last shard). */
  end: Buffer | null;
  epoch: number;
  replicas: { id: NodeId; voter: boolean }[];
  /** 0 when unknown. */
  leader: NodeId;
  applied: number;
}

export type ReadConsistency = 'linearizable' | 'stale';

export interface NodeHostOptions {
  config: NodeConfig;
  store: NodeStore;
  transport: Transport;
  logger: Logger;
  metrics: NodeMetrics;
  random: Random;
  /** Time for the ready loop and its metrics (default: systemClock, systemScheduler). */
  clock?: Clock;
  scheduler?: Scheduler;
  /** The cluster id (storage/identity.ts); null on a joining node that has not learned it. */
  clusterId?: string | null;
  /** Called once on an unrecoverable error (persist/apply failure, invariant violation). */
  onFatal: (error: unknown) => void;
}
