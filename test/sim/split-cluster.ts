/**
 * The cluster's view of groups (the `splits` fault mix): one checker suite per group, all sharing the op
 * registry; a right-hand group's suite is created when its parent's canonical model applies the split (its
 * model starts from the parent model's right-hand state). Also the routing table the clients refresh from
 * on WRONG_SHARD (the groups' canonical ranges: the simulator's meta shard) and the lookups of a group's
 * replica on a node. Messages of a group other than SIM_GROUP carry its id on the simulated wire.
 */
import { CheckerSuite, type OpRegistry } from './checkers';
import type { KvState } from './kv-model';
import type { Message } from '../../src/raft';
import { SimFailure } from './sim-failure';
import { SIM_GROUP } from './sim-host';
import type { SimNode } from './sim-node';
import { rangesOverlap, type SimRange } from './split-state';

/** A message on the simulated wire: `group` absent = SIM_GROUP. */
export type GroupMessage = Message & { group?: number };

export interface Route {
  group: number;
  range: SimRange;
}

export class GroupSuites {
  readonly registry: OpRegistry = new Map();
  readonly byGroup = new Map<number, CheckerSuite>();
  readonly first: CheckerSuite;

  constructor(private readonly checkAckOrder: boolean) {
    this.first = this.add(new CheckerSuite(checkAckOrder, this.registry));
  }

  private add(s: CheckerSuite): CheckerSuite {
    this.byGroup.set(s.group, s);
    s.model.onSplit = (right: KvState) => {
      if (this.byGroup.has(right.group)) throw new SimFailure('split', `group ${right.group} created twice`);
      this.add(new CheckerSuite(this.checkAckOrder, this.registry, right.group, right));
    };
    return s;
  }

  get(group: number): CheckerSuite {
    const s = this.byGroup.get(group);
    if (!s) throw new SimFailure('host', `no checkers for group ${group}`);
    return s;
  }

  groups(): number[] {
    return [...this.byGroup.keys()];
  }

  /** The routing table: each group's canonical range (groups ascending by start). */
  routes(): Route[] {
    const out: Route[] = [];
    for (const s of this.byGroup.values()) if (s.model.range) out.push({ group: s.group, range: s.model.range });
    return out.sort((a, b) => (a.range.start < b.range.start ? -1 : 1));
  }

  /** Final check: the canonical ranges cover the keyspace once, in order. */
  checkCover(): void {
    let at: string | null = '';
    for (const r of this.routes()) {
      if (at === null || r.range.start !== at)
        throw new SimFailure(
          'split-cover',
          `the groups' ranges do not cover the keyspace: ${JSON.stringify(this.routes())}`,
        );
      at = r.range.end;
    }
    if (at !== null) throw new SimFailure('split-cover', `the keyspace past ${at} has no group`);
  }

  /** c0 of each group at a client's invoke (only with several groups). */
  commits(): Map<number, number> | null {
    if (this.byGroup.size === 1) return null;
    const m = new Map<number, number>();
    for (const [g, s] of this.byGroup) m.set(g, s.globalCommit);
    return m;
  }
}

/** The replica of `group` on node `primary` (undefined if that node has none). */
export function replicaOn(primary: SimNode | undefined, group: number): SimNode | undefined {
  if (!primary) return undefined;
  return group === SIM_GROUP ? primary : primary.replicas.get(group);
}

/**
 * Final check: on every node, the initialized replicas own disjoint ranges. With `isMember`, only the
 * replicas of groups that count the node a member: a stale one (removed without knowing it, its range as of
 * before a split it never applied) is the placement driver's to collect (stale-replicas.ts).
 */
export function checkNodeRanges(
  nodes: readonly SimNode[],
  isMember: (node: number, group: number) => boolean = () => true,
): void {
  for (const p of nodes) {
    const rs = p.allReplicas().filter((r) => r.sm?.range && isMember(p.id, r.group));
    for (const a of rs)
      for (const b of rs)
        if (a.group < b.group && rangesOverlap(a.sm!.range!, b.sm!.range!))
          throw new SimFailure('split-ownership', `node ${p.id}: groups ${a.group} and ${b.group} own the same keys`);
  }
}
