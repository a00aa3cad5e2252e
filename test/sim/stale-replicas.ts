/**
 * The placement driver's collection of stale replicas (placement/driver.ts gc, node destroyStaleReplica),
 * as the simulator models it with `moves`: a replica that never applied its own removal (the node was down
 * or cut off when it was removed) keeps its log and range; on a node that the group later splits without,
 * that range refuses the right-hand group's snapshot (rule 2) for good. Every COLLECT_EVERY_TICKS, in both
 * phases, a replica is marked for destruction (SimNode.destroyReplica) when all of these hold:
 *  - its group has a live leader L with the highest term among the group's live replicas, which has applied
 *    its whole log (so L's applied configuration is the group's newest: a later one needs a higher term);
 *  - the replica's node is not in that configuration (voter, learner or outgoing voter);
 *  - the replica has a log, a snapshot or a range (a bootstrap replica that never applied anything owns
 *    the whole keyspace; an uninitialized one holds nothing to collect), nothing unsynced,
 *    and the term of its last entry is at most L's: a leader of a later term that added it back (one L does
 *    not know of) would have given it entries of that term. Its hard-state term does not count: a removed
 *    replica that never learned it campaigns, and its term climbs without any leader's data.
 * Invariant: a replica in the newest committed configuration is never destroyed (destroying a voter's log
 * could lose a committed entry: the checkers would blame the core for the harness).
 */
import type { SimNode } from './sim-node';
import { replicaOn } from './split-cluster';

export const COLLECT_EVERY_TICKS = 20;

export interface CollectHost {
  nodes(): readonly SimNode[];
  leaderOf(group: number): SimNode | null;
  trace(text: string): void;
}

/** Marks the stale replicas of every group (see the header); returns how many it marked. */
export function collectStaleReplicas(host: CollectHost): number {
  const groups = new Set<number>();
  for (const p of host.nodes()) for (const r of p.allReplicas()) groups.add(r.group);
  let marked = 0;
  for (const group of groups) {
    const leader = host.leaderOf(group);
    if (!leader?.core || !leader.sm || leader.core.status().lastIndex !== leader.sm.applied) continue;
    const cfg = leader.config;
    const members = new Set([...cfg.voters, ...cfg.learners, ...cfg.votersOutgoing]);
    for (const p of host.nodes()) {
      const r = replicaOn(p, group);
      if (!r?.alive || r === leader || r.pendingDestroy !== null || members.has(p.id)) continue;
      const holdsNothing = r.disk.lastIndex() === 0 && (r.sm === null || r.sm.range === null);
      if (holdsNothing || r.disk.pendingBatches > 0) continue;
      if ((r.disk.termAt(r.disk.lastIndex()) ?? Infinity) > leader.term) continue;
      r.pendingDestroy = { kind: 'stale', appliedMax: r.disk.lastIndex() };
      marked++;
      host.trace(
        `collect: n${p.id} g${group} is not in the configuration of leader n${leader.id} (term ${leader.term})`,
      );
    }
  }
  return marked;
}
