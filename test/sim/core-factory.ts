/**
 * How the simulator builds a Raft core: RaftCore and defaultRaftConfig from src/raft, behind a small
 * factory type so the rest of the simulator depends only on the RawNode contract in types.ts.
 */
import type { Random } from '../../src/base';
import { RaftCore, defaultRaftConfig } from '../../src/raft';
import type { RaftConfig, RawNode, RestoreState } from '../../src/raft';

export type CoreFactory = (config: RaftConfig, restore: RestoreState, random: Random) => RawNode;

export const raftCoreFactory: CoreFactory = (config, restore, random) => new RaftCore(config, restore, random);

export function defaultConfig(id: number): RaftConfig {
  return defaultRaftConfig(id);
}
