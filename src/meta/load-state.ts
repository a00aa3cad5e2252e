/**
 * Builds a MetaState from stored items (suffix, record): from the c/G/ range when the state machine
 * opens, and from a staged snapshot before it is accepted. Every record is decoded and checked, its key
 * must name what it holds (shard S holds descriptor S, node N node N), nothing may appear twice, and the
 * result must be coherent (MetaState.checkCoherent): a damaged store is CORRUPTION at open, and a hostile
 * or broken snapshot is refused before it replaces anything.
 */
import { TesseraError } from '../base';
import type { NodeId } from '../base';
import { ShardMap } from '../shard';
import type { ShardDescriptor } from '../shard';
import { MetaState } from './meta-state';
import { formatSuffix, parseSuffix } from './meta-keys';
import { decodeCluster, decodeDescriptor, decodeNode } from './records';
import type { ClusterRecord, NodeRecord } from './types';
import { META_LIMITS } from './types';

/** Items a meta state holds at most: the cluster record, the meta descriptor, every shard and node. */
export const META_ITEMS_MAX = META_LIMITS.nodesMax + META_LIMITS.shardsMax + 2;

/** Collects items one at a time (bounded by META_LIMITS), then builds the state. */
export class StateLoader {
  private cluster: ClusterRecord | null = null;
  private metaGroup: ShardDescriptor | null = null;
  private readonly shards: ShardDescriptor[] = [];
  private readonly nodes = new Map<NodeId, NodeRecord>();
  private items = 0;

  constructor(private readonly where: string) {}

  /** Items added so far. */
  get count(): number {
    return this.items;
  }

  private bad(name: string, problem: string): never {
    throw new TesseraError('CORRUPTION', `${this.where}: ${name}: ${problem}`, { key: name });
  }

  add(suffix: Buffer, value: Buffer): void {
    const name = formatSuffix(suffix);
    const item = parseSuffix(suffix);
    if (item === null) this.bad(name, 'not a meta key');
    if (++this.items > META_ITEMS_MAX) this.bad(name, 'too many items');
    switch (item.kind) {
      case 'cluster':
        if (this.cluster !== null) this.bad(name, 'appears twice');
        this.cluster = decodeCluster(value, name);
        return;
      case 'metaGroup':
        if (this.metaGroup !== null) this.bad(name, 'appears twice');
        this.metaGroup = decodeDescriptor(value, name);
        return;
      case 'shard': {
        const d = decodeDescriptor(value, name);
        if (d.id !== item.id) this.bad(name, `holds the descriptor of shard ${d.id}`);
        this.shards.push(d);
        return;
      }
      case 'node': {
        const n = decodeNode(value, name);
        if (n.id !== item.id || this.nodes.has(n.id)) this.bad(name, `holds node ${n.id}, or appears twice`);
        this.nodes.set(n.id, n);
        return;
      }
    }
  }

  finish(): MetaState {
    let shards: ShardMap | null = null;
    if (this.shards.length > 0) {
      try {
        shards = ShardMap.create(this.shards);
      } catch (e) {
        this.bad('c/s', (e as Error).message);
      }
    }
    const state = new MetaState(this.cluster, this.metaGroup, shards, this.nodes);
    state.checkCoherent(this.where);
    return state;
  }
}
