/**
 * The placement driver's picture of the cluster, built from the meta shard (registry, descriptors), the
 * meta leader's liveness table and the nodes' reports (wire.ts). Pure.
 *
 * Which source wins, per shard:
 * - the report of the replica that leads it (the highest term among those claiming to, then the highest
 *   commit): its Raft configuration is the truth about membership, and its range and epoch are the data
 *   shard's own (the meta shard records splits and replica changes after they happen, best effort, so
 *   its descriptor may be behind). The meta group's epoch is the meta shard's own (metaEpoch);
 * - else the meta shard's descriptor (a shard whose leader did not report: nothing is done to it);
 * - else the report of a follower with the newest epoch (a split the meta shard has not recorded yet).
 * A descriptor that does not validate (say, a group reporting no voter) is left out, never guessed.
 * Status (leader, commit, match) comes only from leaders' reports. A registered node that this meta leader
 * has not heard from yet is given to the planner as down (no new replica goes to it; its own are not
 * replaced before the dead timeout, counted from the takeover).
 */
import { NO_NODE, type Epoch, type NodeId, type ShardId } from '../base';
import { makeDescriptor } from '../shard';
import type { ClusterSnapshot, NodeState, PlacementAction, ShardDescriptor, ShardStatus } from '../shard';
import type { NodeReport, ReportedGroup } from './wire';

export interface RegistryNode {
  readonly id: NodeId;
  readonly address: string;
  /** Where nodes dial it for Raft when that is not `address` (a --peer-listen node that joined). */
  readonly peerAddress?: string | null;
  readonly state: NodeState;
}

export interface SnapshotInput {
  readonly nowMs: number;
  readonly registry: readonly RegistryNode[];
  /** When each node was last heard (the liveness table, on the nowMs clock). */
  readonly heardMs: (id: NodeId) => number;
  /** Whether this meta leader has heard from the node at all. */
  readonly heard: (id: NodeId) => boolean;
  readonly reports: ReadonlyMap<NodeId, NodeReport>;
  /** The meta shard's descriptors (data shards and the meta group); empty when not readable here. */
  readonly metaDescriptors: readonly ShardDescriptor[];
  readonly metaGroupId: number;
  readonly metaEpoch: number | null;
  readonly inFlight: (shard: ShardId) => readonly PlacementAction[];
}

/** What Admin ListNodes / ListShards and `node remove` checks read on the meta leader (see index.ts). */
export interface DriverView {
  readonly nodes: readonly {
    id: NodeId;
    address: string;
    state: NodeState;
    /** null: not heard by this meta leader yet. */
    lastHeardAgoMs: number | null;
    replicas: number;
    leaders: number;
  }[];
  readonly shards: readonly {
    id: ShardId;
    epoch: number;
    start: Buffer;
    end: Buffer | null;
    leader: NodeId;
    replicas: { node: NodeId; voter: boolean }[];
  }[];
  /** Wall clock (ms) of the round that built it. */
  readonly atMs: number;
}

interface Reported {
  readonly node: NodeId;
  readonly g: ReportedGroup;
}

/** The reports of each shard id, by reporting node. */
function byShard(reports: ReadonlyMap<NodeId, NodeReport>): Map<number, Reported[]> {
  const out = new Map<number, Reported[]>();
  for (const [node, r] of reports)
    for (const g of r.groups) {
      const list = out.get(g.id) ?? [];
      list.push({ node, g });
      out.set(g.id, list);
    }
  return out;
}

function leaderReport(list: readonly Reported[]): Reported | null {
  let best: Reported | null = null;
  for (const x of list)
    if (
      x.g.isLeader &&
      (best === null || x.g.term > best.g.term || (x.g.term === best.g.term && x.g.commit > best.g.commit))
    )
      best = x;
  return best;
}

function newestFollower(list: readonly Reported[]): Reported | null {
  let best: Reported | null = null;
  for (const x of list)
    if (best === null || x.g.epoch > best.g.epoch || (x.g.epoch === best.g.epoch && x.g.term > best.g.term)) best = x;
  return best;
}

function fromReport(g: ReportedGroup, epoch: number): ShardDescriptor | null {
  try {
    return makeDescriptor({
      id: g.id,
      start: g.start,
      end: g.end,
      epoch: epoch as Epoch,
      replicas: g.members.map((m) => ({ node: m.node, role: m.voter ? ('voter' as const) : ('learner' as const) })),
    });
  } catch {
    return null;
  }
}

/** The planner's snapshot, each shard's reporting leader, and the view for the Admin API. */
export function buildSnapshot(input: SnapshotInput, wallMs: number): { snapshot: ClusterSnapshot; view: DriverView } {
  const reported = byShard(input.reports);
  const meta = new Map(input.metaDescriptors.map((d) => [d.id as number, d]));
  const ids = [...new Set([...reported.keys(), ...meta.keys()])].sort((a, b) => a - b);
  const shards: ShardDescriptor[] = [];
  const status: ShardStatus[] = [];
  for (const id of ids) {
    const list = reported.get(id) ?? [];
    const lead = leaderReport(list);
    const epochOf = (g: ReportedGroup): number =>
      id === input.metaGroupId ? (input.metaEpoch ?? meta.get(id)?.epoch ?? g.epoch) : g.epoch;
    const follower = lead === null && !meta.has(id) ? newestFollower(list) : null;
    const d =
      (lead !== null ? fromReport(lead.g, epochOf(lead.g)) : null) ??
      meta.get(id) ??
      (follower !== null ? fromReport(follower.g, epochOf(follower.g)) : null);
    if (d === null) continue;
    shards.push(d);
    if (lead === null) continue;
    status.push({
      shard: d.id,
      leader: lead.node,
      commitIndex: lead.g.commit,
      match: new Map(lead.g.members.map((m) => [m.node, m.match])),
      inFlight: input.inFlight(d.id),
    });
  }
  const snapshot: ClusterSnapshot = {
    nowMs: input.nowMs,
    // A node this meta leader has not heard yet is not a target (state down: suspect to the planner), though
    // its silence counts from the takeover only (the liveness table's rule), so it is not dead any sooner.
    nodes: input.registry.map((n) => ({
      id: n.id,
      state: n.state === 'up' && !input.heard(n.id) ? ('down' as const) : n.state,
      lastHeartbeatMs: input.heardMs(n.id),
    })),
    shards,
    status,
  };
  return { snapshot, view: viewOf(input, snapshot, wallMs) };
}

function viewOf(input: SnapshotInput, snapshot: ClusterSnapshot, wallMs: number): DriverView {
  const leaders = new Map(snapshot.status.map((s) => [s.shard as number, s.leader]));
  const replicas = new Map<NodeId, number>();
  const led = new Map<NodeId, number>();
  for (const d of snapshot.shards) for (const r of d.replicas) replicas.set(r.node, (replicas.get(r.node) ?? 0) + 1);
  for (const l of leaders.values()) led.set(l, (led.get(l) ?? 0) + 1);
  return {
    nodes: input.registry.map((n) => ({
      id: n.id,
      address: n.address,
      state: n.state,
      lastHeardAgoMs: input.heard(n.id) ? Math.max(0, input.nowMs - input.heardMs(n.id)) : null,
      replicas: replicas.get(n.id) ?? 0,
      leaders: led.get(n.id) ?? 0,
    })),
    shards: snapshot.shards.map((d) => ({
      id: d.id,
      epoch: d.epoch,
      start: Buffer.from(d.start),
      end: d.end === null ? null : Buffer.from(d.end),
      leader: leaders.get(d.id) ?? NO_NODE,
      replicas: d.replicas.map((r) => ({ node: r.node, voter: r.role === 'voter' })),
    })),
    atMs: wallMs,
  };
}
