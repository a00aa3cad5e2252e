/** Test helpers for src/meta: meta log entries from commands, a bootstrapped state machine, quick ids. */
import { epochOf, shardIdOf } from '../../../src/base';
import type { Epoch, ShardId } from '../../../src/base';
import { FIRST_DATA_SHARD_ID, META_SHARD_ID, MetaStateMachine, encodeMetaCommand } from '../../../src/meta';
import type { MetaCommand, MetaResult } from '../../../src/meta';
import type { Entry } from '../../../src/raft';
import type { NodeStore } from '../../../src/storage';

export { Stores } from '../kv/helpers';

export const CLUSTER = '0123456789abcdef0123456789abcdef';
export const OTHER_CLUSTER = 'fedcba9876543210fedcba9876543210';
export const sid = (n: number): ShardId => shardIdOf(n);
export const ep = (n: number): Epoch => epochOf(n);
export const key = (s: string): Buffer => Buffer.from(s);
export const addr = (id: number): string => `127.0.0.1:${7000 + id}`;

export const bootstrap = (nodes = [1, 2, 3]): Extract<MetaCommand, { type: 'bootstrap' }> => ({
  type: 'bootstrap',
  clusterId: CLUSTER,
  nodes: nodes.map((id) => ({ id, address: addr(id) })),
  metaShardId: META_SHARD_ID,
  dataShardId: FIRST_DATA_SHARD_ID,
  atMs: 1000,
});

/** Meta log entries 1.. (null = an empty leader entry, 'config' = a membership entry, bytes = raw data). */
export class MetaLog {
  readonly entries: Entry[] = [];
  add(c: MetaCommand | null | 'config' | Uint8Array): Entry {
    const index = this.entries.length + 1;
    const e: Entry =
      c === null
        ? { kind: 'empty', term: 1, index }
        : c === 'config'
          ? { kind: 'config', term: 1, index, change: { type: 'addLearner', node: 9 } }
          : { kind: 'normal', term: 1, index, data: c instanceof Uint8Array ? c : encodeMetaCommand(c) };
    this.entries.push(e);
    return e;
  }
}

/** A meta state machine with its own log; run() appends commands and applies them, returning the results. */
export class MetaHarness {
  readonly log = new MetaLog();
  constructor(public sm: MetaStateMachine) {}

  static async open(store: NodeStore, groupId: number = META_SHARD_ID): Promise<MetaHarness> {
    return new MetaHarness(await MetaStateMachine.open(store, groupId));
  }

  async run(...commands: (MetaCommand | Uint8Array)[]): Promise<MetaResult[]> {
    const added = commands.map((c) => this.log.add(c));
    const results = await this.sm.apply(this.log.entries);
    return added.map((e) => results.get(e.index) as MetaResult);
  }

  async one(c: MetaCommand | Uint8Array): Promise<MetaResult> {
    return (await this.run(c))[0] as MetaResult;
  }
}

/** The refusal reason of a result, or its type when it was not refused. */
export const outcome = (r: MetaResult): string => (r.type === 'refused' ? `refused:${r.reason}` : r.type);
