/**
 * The serving side of Raft.Placement on every node (the placement driver on the meta leader is the caller):
 * - `report`: this node's view of each group it hosts: range and epoch, its leader and term, and, where
 *   this replica leads, the commit index and every member's match index (the truth about membership is
 *   the leader's Raft configuration, not the meta shard's descriptor, which may be behind);
 * - `act`: one placement step on a group this node leads: add a learner (its addresses are learned first,
 *   so the leader can reach it), promote a learner (waits until it caught up), remove a replica, or hand
 *   leadership over. A step planned against another epoch than the group's is refused (WRONG_SHARD with
 *   the epoch): the group split or changed since, and the driver plans again from a fresh report.
 * The caller is an authenticated cluster peer (the transport's door); an action is refused from a caller
 * this node knows not to lead the meta shard (checkActCaller); requests are decoded strictly (wire.ts). The node's own checks (leadership, quorum guard, idempotence) are NodeHost's (src/node).
 */
import { NO_NODE, TesseraError, type Epoch, type GroupId, type NodeId, type ShardId } from '../base';
import type { GroupStatusInfo, LocalShardInfo, MemberInfo } from '../node';
import {
  decodeRequest,
  encodeActAnswer,
  encodeGcAnswer,
  encodeReport,
  type ActAnswer,
  type ActRequest,
  type NodeReport,
  type ReportedGroup,
} from './wire';

/** What the placement RPC needs of the node (NodeHost satisfies it). */
export interface PlacementHost {
  readonly nodeId: NodeId;
  groupIds(): GroupId[];
  groupStatus(groupId: GroupId): GroupStatusInfo;
  listShards(): LocalShardInfo[];
  /** One hosted shard as listShards() would list it, or null (absent: found through listShards). */
  shardInfo?(groupId: GroupId): LocalShardInfo | null;
  changeReplica(
    groupId: number,
    change: { kind: 'addLearner' | 'promoteLearner' | 'removeReplica'; node: NodeId },
    timeoutMs?: number,
  ): Promise<MemberInfo[]>;
  transferLeader(groupId: GroupId, to: NodeId, timeoutMs?: number): Promise<NodeId>;
  learnNodeAddress(id: NodeId, client: string, peer: string): void;
  /** Destroys this node's replica of the group if it is stale (applied at most appliedMax); says what it did. */
  destroyStaleReplica?(groupId: number, appliedMax: number): string;
  /** A report request came from `node`: only the meta leader's driver asks (NodeHost.noteMetaLeaderHint). */
  noteMetaLeaderHint?(node: NodeId): void;
}

export interface ReportContext {
  host: PlacementHost;
  clusterId: () => string | null;
  /** This node's client-facing and peer addresses ('' when unknown). */
  client: string;
  peer: string;
  /** The meta group's id and its epoch as this node's meta replica knows it (null: unknown). */
  metaGroupId: number;
  metaEpoch: () => number | null;
  /** Wall clock (ms), for the report's display time. */
  wallMs: () => number;
}

/** This node's report (see the header). Groups that vanish while it is built are left out. */
export function buildReport(ctx: ReportContext): NodeReport {
  const shards = new Map(ctx.host.listShards().map((s) => [s.id, s]));
  const groups: ReportedGroup[] = [];
  for (const id of ctx.host.groupIds()) {
    let st: GroupStatusInfo;
    try {
      st = ctx.host.groupStatus(id);
    } catch {
      continue;
    }
    const shard = shards.get(id);
    const epoch = shard?.epoch ?? (id === ctx.metaGroupId ? (ctx.metaEpoch() ?? 1) : 1);
    const isLeader = st.role === 'leader';
    groups.push({
      id: id as number as ShardId,
      epoch: epoch as Epoch,
      start: Buffer.from(st.range.start),
      end: st.range.end === null ? null : Buffer.from(st.range.end),
      leader: st.leader,
      term: st.term,
      isLeader,
      commit: isLeader ? st.commit : 0,
      applied: isLeader ? st.applied : 0,
      members: st.members.map((m) => ({ node: m.id, voter: m.voter, match: isLeader ? m.match : 0 })),
    });
  }
  return {
    nodeId: ctx.host.nodeId,
    clusterId: ctx.clusterId(),
    sentAtMs: Math.max(0, Math.floor(ctx.wallMs())),
    client: ctx.client,
    peer: ctx.peer,
    groups,
  };
}

/** Carries out one action on this node (it must lead the group); resolves with the group's state after it. */
export async function runAction(ctx: ReportContext, a: ActRequest, timeoutMs: number): Promise<ActAnswer> {
  const host = ctx.host;
  const id = a.shard as number as GroupId;
  const st = host.groupStatus(id); // WRONG_SHARD when not hosted here
  // One shard's lookup, not a listing of all of them: a node with 1,000 shards runs many actions a round.
  const listed = (): LocalShardInfo | null =>
    host.shardInfo !== undefined ? host.shardInfo(id) : (host.listShards().find((s) => s.id === id) ?? null);
  const epochNow = (): number => listed()?.epoch ?? (id === ctx.metaGroupId ? (ctx.metaEpoch() ?? a.epoch) : 0);
  if (id !== ctx.metaGroupId && epochNow() !== a.epoch)
    throw new TesseraError(
      'WRONG_SHARD',
      `placement action on shard ${id} planned against epoch ${a.epoch}; the shard is at epoch ${epochNow()}`,
      { epoch: epochNow(), groupId: id },
    );
  if (st.role !== 'leader')
    throw new TesseraError('NOT_LEADER', `node ${host.nodeId} does not lead shard ${id}`, {
      ...(st.leader !== NO_NODE ? { leaderId: st.leader } : {}),
      groupId: id,
    });
  let members: MemberInfo[];
  if (a.kind === 'transferLeader') {
    // The node's own bound (a few election timeouts), not the call's: a transfer that did not happen by then
    // will not, and the shard's next step must not wait minutes behind it.
    await host.transferLeader(id, a.node);
    members = host.groupStatus(id).members;
  } else {
    if (a.kind === 'addLearner') host.learnNodeAddress(a.node, a.client, a.peer);
    members = await host.changeReplica(id, { kind: a.kind, node: a.node }, timeoutMs);
  }
  return { epoch: epochNow() as Epoch, members: members.map((m) => ({ node: m.id, voter: m.voter })) };
}

/**
 * Actions come from the meta shard's leader: a node that hosts a meta replica and knows another leader
 * refuses one from `from` (NOT_LEADER naming the leader it knows; the driver plans again next round). This
 * narrows the time in which a deposed meta leader's driver, still finishing a round, can act beside the new
 * one's. A node without a meta replica, or not knowing its leader, cannot tell and accepts.
 */
function checkActCaller(ctx: ReportContext, from: NodeId): void {
  let leader: NodeId;
  try {
    leader = ctx.host.groupStatus(ctx.metaGroupId as GroupId).leader;
  } catch {
    return;
  }
  if (leader !== NO_NODE && leader !== from)
    throw new TesseraError('NOT_LEADER', `node ${from} does not lead the meta shard; node ${leader} does`, {
      leaderId: leader,
      groupId: ctx.metaGroupId,
    });
}

/** The node's Raft.Placement handler (Transport.setPlacementHandler). */
export function placementHandler(ctx: ReportContext) {
  return async (from: NodeId, body: Buffer, timeoutMs: number): Promise<Buffer> => {
    const request = decodeRequest(body);
    if (request.type === 'report') {
      ctx.host.noteMetaLeaderHint?.(from);
      return encodeReport(buildReport(ctx));
    }
    if (request.type === 'gc') {
      checkActCaller(ctx, from);
      return encodeGcAnswer(
        ctx.host.destroyStaleReplica?.(request.shard, request.appliedMax) ?? 'not supported by this node',
      );
    }
    checkActCaller(ctx, from);
    return encodeActAnswer(await runAction(ctx, request, timeoutMs));
  };
}
