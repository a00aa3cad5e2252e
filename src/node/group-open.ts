/**
 * Opens one replica group of this node: its state machine (finishing an interrupted snapshot install),
 * its durable Raft state, and a core restored from them. An empty store bootstraps the group with every
 * --peers member as a voter (like etcd's initial cluster), or with no members when joining (--join: the
 * node waits for a leader to add it and replicate to it).
 */
import type { GroupId, Random } from '../base';
import type { NodeConfig } from '../config';
import { StateMachine, type KeyRange, type StateMachineOptions } from '../kv';
import type { NodeMetrics } from '../obs';
import { RaftCore, type ConfigState, type RaftConfig } from '../raft';
import type { GroupDurableState, NodeStore } from '../storage';
import { MetaStateMachine } from '../meta';
import { openedLog } from './compaction';
import { Group, type HostedMachine } from './group';

export function raftConfigOf(config: NodeConfig): RaftConfig {
  return {
    id: config.id,
    electionTicks: config.timing.electionTicks,
    heartbeatTicks: config.timing.heartbeatTicks,
    preVote: config.raft.preVote,
    checkQuorum: config.raft.checkQuorum,
    lazyCommit: config.raft.lazyCommit,
    inflightMessagesMax: config.raft.inflightMessagesMax,
    inflightBytesMax: config.raft.inflightBytesMax,
    appendBytesMax: config.raft.appendBytesMax,
    uncommittedBytesMax: config.raft.uncommittedBytesMax,
    pendingReadsMax: config.queues.readsMax,
  };
}

export function bootstrapConfigOf(config: NodeConfig): ConfigState {
  return config.join
    ? { voters: [], learners: [], votersOutgoing: [] }
    : { voters: [...config.peers.keys()].sort((a, b) => a - b), learners: [], votersOutgoing: [] };
}

export async function openGroup(
  groupId: GroupId,
  range: KeyRange,
  config: NodeConfig,
  store: NodeStore,
  metrics: NodeMetrics,
  random: Random,
  onUndecodable?: StateMachineOptions['onUndecodable'],
  onCorruptRead?: StateMachineOptions['onCorruptRead'],
  bootstrap = true,
): Promise<{ group: Group; durable: GroupDurableState | null }> {
  // The state machine first: it may finish a snapshot install, which raises the applied index.
  const sm = await StateMachine.open(store, groupId, range, {
    sessionsMax: config.sessionsMax,
    sessionTtlMs: config.sessionTtlMs,
    onUndecodable,
    onCorruptRead,
  });
  const durable = await store.loadGroup(groupId);
  const initialConfig = bootstrap ? bootstrapConfigOf(config) : EMPTY_CONFIG;
  return {
    group: restoreCore(groupId, { kind: 'kv', sm }, range, config, durable, metrics, random, initialConfig),
    durable,
  };
}

/** The configuration of a group that starts with none (it follows the leader that contacts it). */
const EMPTY_CONFIG: ConfigState = { voters: [], learners: [], votersOutgoing: [] };

/**
 * Opens the meta shard's group (src/meta): bootstrapped, like the first data shard, with every --peers
 * member as a voter; its state machine keeps descriptors, the node registry and shard ids.
 */
export async function openMetaGroup(
  groupId: GroupId,
  config: NodeConfig,
  store: NodeStore,
  metrics: NodeMetrics,
  random: Random,
  onUndecodable?: StateMachineOptions['onUndecodable'],
  bootstrap = true,
): Promise<{ group: Group; durable: GroupDurableState | null }> {
  const sm = await MetaStateMachine.open(store, groupId, { onUndecodable });
  const durable = await store.loadGroup(groupId);
  const whole = { start: Buffer.alloc(0), end: null };
  // Not bootstrapped: a replica destroyed here and added again follows the leader that contacts it.
  const initialConfig = bootstrap ? bootstrapConfigOf(config) : EMPTY_CONFIG;
  return {
    group: restoreCore(groupId, { kind: 'meta', sm }, whole, config, durable, metrics, random, initialConfig),
    durable,
  };
}

function restoreCore(
  groupId: GroupId,
  machine: HostedMachine,
  range: KeyRange,
  config: NodeConfig,
  durable: GroupDurableState | null,
  metrics: NodeMetrics,
  random: Random,
  initialConfig: ConfigState,
): Group {
  const hardState = durable?.hardState ?? { term: 0, vote: 0, commit: 0 };
  const core = new RaftCore(
    raftConfigOf(config),
    {
      hardState,
      snapshot: durable?.snapshot ?? null,
      entries: durable?.entries ?? [],
      initialConfig,
      applied: machine.sm.applied,
    },
    random,
  );
  const g = new Group(groupId, core, machine, range, metrics);
  const st = core.status();
  g.term = st.term;
  g.commit = st.commit;
  g.syncedHardState = hardState;
  openedLog(g, st.firstIndex, durable?.entries ?? []);
  return g;
}
