/**
 * Folds the per-node status replies into one view per replica group (the stable `status --json` shape):
 * groups[].leader and groups[].term are taken from the newest term any reachable replica reports; a
 * replica that calls itself leader in that term wins over hearsay. leader 0 means no leader is known.
 * groups[].start/end: the key range as the most applied replica reports it (one that has not applied a split
 * yet still reports the parent's wider range), keys shown as in `shard list` (shard-view.ts).
 */
import type { EndpointStatus, Member } from '../../src/client';
import { printableKey } from './shard-view';

export interface ReplicaView {
  nodeId: number;
  address: string;
  role: string;
  term: number;
  leader: number;
  commit: number;
  applied: number;
  firstIndex: number;
  lastIndex: number;
}

export interface GroupSummary {
  groupId: number;
  leader: number;
  term: number;
  /** The group's key range [start, end) as its most applied replica reports it (printable keys; end null: unbounded). */
  start: string;
  end: string | null;
  /** 'meta': the meta shard (its range is not user keys); 'data' also for nodes that do not say. */
  kind: 'data' | 'meta';
  members: Member[];
  replicas: ReplicaView[];
}

export interface NodeSummary {
  endpoint: string;
  ok: boolean;
  nodeId?: number;
  version?: string;
  error?: string;
}

export interface ClusterSummary {
  groups: GroupSummary[];
  nodes: NodeSummary[];
}

interface GroupEntry {
  replicas: ReplicaView[];
  members: Member[];
  membersTerm: number;
  range: { start: string; end: string | null };
  rangeApplied: number;
  kind: 'data' | 'meta';
}

export function summarize(statuses: readonly EndpointStatus[]): ClusterSummary {
  const nodes: NodeSummary[] = [];
  const byGroup = new Map<number, GroupEntry>();
  const seenNodes = new Set<number>();
  for (const s of statuses) {
    if (!s.ok) {
      nodes.push({ endpoint: s.endpoint, ok: false, error: s.error.message });
      continue;
    }
    nodes.push({ endpoint: s.endpoint, ok: true, nodeId: s.status.nodeId, version: s.status.version });
    if (seenNodes.has(s.status.nodeId)) continue; // the same node reached through two addresses
    seenNodes.add(s.status.nodeId);
    for (const g of s.status.groups) {
      let entry = byGroup.get(g.groupId);
      if (!entry) {
        entry = {
          replicas: [],
          members: [],
          membersTerm: -1,
          range: { start: '', end: null },
          rangeApplied: -1,
          kind: 'data',
        };
        byGroup.set(g.groupId, entry);
      }
      entry.replicas.push({
        nodeId: s.status.nodeId,
        address: s.status.address,
        role: g.role,
        term: g.term,
        leader: g.leader,
        commit: g.commit,
        applied: g.applied,
        firstIndex: g.firstIndex,
        lastIndex: g.lastIndex,
      });
      if (g.kind === 'meta') entry.kind = 'meta';
      if (g.applied > entry.rangeApplied) {
        entry.range = { start: printableKey(g.start), end: g.end.length === 0 ? null : printableKey(g.end) };
        entry.rangeApplied = g.applied;
      }
      const authoritative = g.role === 'leader' ? 0.5 : 0;
      if (g.term + authoritative > entry.membersTerm) {
        entry.members = g.members;
        entry.membersTerm = g.term + authoritative;
      }
    }
  }
  const groups: GroupSummary[] = [...byGroup.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([groupId, e]) => {
      const term = Math.max(...e.replicas.map((r) => r.term));
      const newest = e.replicas.filter((r) => r.term === term);
      const self = newest.find((r) => r.role === 'leader');
      const leader = self ? self.nodeId : (newest.find((r) => r.leader > 0)?.leader ?? 0);
      return {
        groupId,
        leader,
        term,
        ...e.range,
        kind: e.kind,
        members: e.members,
        replicas: e.replicas.sort((a, b) => a.nodeId - b.nodeId),
      };
    });
  return { groups, nodes };
}
