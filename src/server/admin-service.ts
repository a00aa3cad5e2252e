/**
 * The public Admin service (proto/admin.proto): node and group status, membership changes and
 * leadership transfer (the shard methods, ListShards and SplitShard, are in admin-shards.ts; replica moves,
 * node drain and removal and the node list in admin-nodes.ts). Membership
 * changes and transfers must reach the group's leader; elsewhere they answer NOT_LEADER with the leader
 * hint, like KV writes.
 */
import type * as grpc from '@grpc/grpc-js';
import { TesseraError, isNodeId, type GroupId } from '../base';
import { peerAddressOf, type NodeConfig } from '../config';
import { checkMemberAddress } from './member-address';
import { WHOLE_KEYSPACE_GROUP, type MemberInfo, type NodeHost } from '../node';
import { silentLogger, type Logger, type NodeMetrics } from '../obs';
import { adminNodeHandlers, metaLeaderRedirect, metaLeaderView, shardsToList, type ViewSource } from './admin-nodes';
import { adminBackupHandlers } from './admin-backup';
import { adminShardHandlers } from './admin-shards';
import { unary } from './unary';

export const TESSERA_VERSION = '0.1.0';

interface AddNodeWire {
  id: number;
  address: string;
  learner: boolean;
  /** Optional (empty when absent): the address peers dial, when it differs from the client address. */
  peerAddress?: string;
  /** Optional (0 when absent): the group to change; 0 is the first data shard. */
  groupId?: number;
}

interface RemoveNodeWire {
  id: number;
  groupId?: number;
}
interface TransferLeaderWire {
  groupId: number;
  to: number;
}

function checkNodeId(id: unknown): number {
  if (!isNodeId(id))
    throw new TesseraError('INVALID_ARGUMENT', `node id must be a positive integer, got ${String(id)}`, {
      limit: 'nodeId',
    });
  return id;
}

/** The group a call names: group_id when set, else the first data shard (the calls' meaning before shards). */
function namedGroup(groupId: number | undefined): GroupId {
  return groupId !== undefined && groupId > 0 ? groupId : WHOLE_KEYSPACE_GROUP;
}

function members(ms: MemberInfo[]) {
  return ms.map((m) => ({ id: m.id, address: m.address, voter: m.voter, match: m.match }));
}

export function statusResponse(host: NodeHost, config: NodeConfig) {
  return {
    nodeId: config.id,
    address: config.advertiseAddress,
    peerAddress: peerAddressOf(config),
    version: TESSERA_VERSION,
    groups: host.groupIds().map((id) => {
      const s = host.groupStatus(id);
      return {
        groupId: s.groupId,
        leader: s.leader,
        term: s.term,
        role: s.role,
        commit: s.commit,
        applied: s.applied,
        firstIndex: s.firstIndex,
        lastIndex: s.lastIndex,
        members: members(s.members),
        start: s.range.start,
        end: s.range.end ?? Buffer.alloc(0),
        kind: s.kind,
      };
    }),
  };
}

export function adminServiceHandlers(
  host: () => NodeHost,
  config: NodeConfig,
  metrics: NodeMetrics,
  /** The placement driver's last view (null: none; admin-nodes.ts). */
  view: ViewSource = () => null,
  logger: Logger = silentLogger(),
): grpc.UntypedServiceImplementation {
  const u = <Req, Res>(method: string, fn: (req: Req, timeoutMs: number) => Promise<Res>) =>
    unary<Req, Res>(method, metrics, config.requestTimeoutMs, fn);
  return {
    status: u('Admin.Status', async () => statusResponse(host(), config)),

    addNode: u('Admin.AddNode', async (req: AddNodeWire, timeoutMs) => {
      const id = checkNodeId(req.id);
      const address = checkMemberAddress(req.address, 'address');
      const peerAddress =
        req.peerAddress !== undefined && req.peerAddress !== ''
          ? checkMemberAddress(req.peerAddress, 'peer_address')
          : address;
      const groupId = namedGroup(req.groupId);
      return { members: members(await host().addNode(id, address, req.learner, timeoutMs, peerAddress, groupId)) };
    }),

    removeNode: u('Admin.RemoveNode', async (req: RemoveNodeWire, timeoutMs) => {
      const id = checkNodeId(req.id);
      return { members: members(await host().removeNode(id, timeoutMs, namedGroup(req.groupId))) };
    }),

    transferLeader: u('Admin.TransferLeader', async (req: TransferLeaderWire, timeoutMs) => {
      const to = checkNodeId(req.to);
      const groupId = namedGroup(req.groupId);
      return { leader: await host().transferLeader(groupId, to, timeoutMs) };
    }),

    // This replica's own data, never forwarded: the read fence of a stale read, at whatever it applied.
    digest: u('Admin.Digest', async (req: { groupId: number }) => {
      const groupId = namedGroup(req.groupId);
      return (await host().read(groupId, 'stale', (sm) => sm.digest())).value;
    }),

    ...adminShardHandlers(
      host,
      config,
      metrics,
      () => {
        const v = metaLeaderView(host(), config.id, view);
        return v === null ? [] : shardsToList(host(), v);
      },
      () => metaLeaderRedirect(host(), config.id),
    ),
    ...adminNodeHandlers(host, config, metrics, view, logger),
    ...adminBackupHandlers(host, config, metrics),
  };
}
