/**
 * Admin.MoveReplica, Admin.SetNodeState and Admin.ListNodes (proto/admin.proto): replica moves, node drain
 * and removal, and the node list, over the placement driver's view when this node has one.
 *
 * Invariants:
 * - every id and state arrives from the network and is checked before the host sees it;
 * - MoveReplica runs on the shard's leader (the host answers NOT_LEADER with the group otherwise, and the
 *   SDK follows it); with no_wait the leadership is checked first, the move runs in the background (at most
 *   BACKGROUND_MOVES_MAX at once per node, else RESOURCE_EXHAUSTED) and its outcome is logged;
 * - SetNodeState runs on the meta shard's leader only (NOT_LEADER naming it, or UNAVAILABLE when no leader is
 *   known here): that is where the placement driver's view of every shard lives, so the removal check sees
 *   replicas on shards this node does not host. "removed" is refused with FAILED_PRECONDITION while any shard
 *   known here (the driver's view, the hosted shards, the meta group) has a replica on the node; the
 *   registry itself (meta/node-transitions.ts) would allow it, the check is this API's.
 * - ListNodes is served by the meta leader after a read barrier (read-your-writes after SetNodeState);
 *   other nodes redirect like SetNodeState. Replica and leader counts come from the driver's view when it
 *   has one, else from the shards hosted here (a partial count).
 */
import type * as grpc from '@grpc/grpc-js';
import { NO_NODE, TesseraError, isNodeId, type GroupId, type NodeId } from '../base';
import type { NodeConfig } from '../config';
import { META_SHARD_ID, type MetaCommand } from '../meta';
import type { LocalShardInfo, MemberInfo, NodeHost } from '../node';
import type { Logger, NodeMetrics } from '../obs';
import { checkMemberAddress } from './member-address';
import { applyMetaCommand } from './meta-client';
import { unary } from './unary';

/** What the admin handlers read of the placement driver (placement/: DriverView), on the meta leader. */
export interface PlacementView {
  nodes: readonly { id: number; state: string; replicas: number; leaders: number }[];
  shards: readonly {
    id: number;
    epoch: number;
    start: Buffer;
    end: Buffer | null;
    leader: number;
    replicas: readonly { node: number; voter: boolean }[];
  }[];
}

/** The host methods behind these RPCs. */
export type NodesHost = Pick<
  NodeHost,
  | 'listNodes'
  | 'listShards'
  | 'groupStatus'
  | 'onForwardMeta'
  | 'leaderOf'
  | 'moveReplica'
  | 'learnNodeAddress'
  | 'readBarrier'
  | 'metaLeaderHint'
> & { readonly addresses: Pick<NodeHost['addresses'], 'get' | 'peer'> };

/**
 * Teaches the host the addresses of move target `to` when its address book does not know them (a node that
 * joined with --join and holds no replica yet): the request's to_address / to_peer_address when given (the
 * SDK asks the target's own Status for its peer address: right for a node with a separate --peer-listen, and
 * for a leader without a meta replica, which has no registry), else the meta shard's registry, which holds
 * one address, the client one, used for peers too. A node the local registry does not know, or knows as
 * removed, is refused, as is a to_address other than the one it registered.
 */
function learnTargetAddress(host: NodesHost, to: NodeId, given: TargetAddresses | null): void {
  if (host.addresses.peer(to) !== null) return;
  let record: { address: string; state: string } | undefined | null;
  try {
    record = host.listNodes().find((n) => n.id === to);
  } catch {
    record = null; // no registry here (no meta replica, or not bootstrapped yet)
  }
  if (record === undefined || record?.state === 'removed')
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `node ${to} is not a registered node of the cluster${record ? ' (removed)' : ''}`,
    );
  if (given !== null) {
    if (record !== null && record.address !== given.client)
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `node ${to} is registered at ${record.address}, not at to_address ${given.client}`,
      );
    host.learnNodeAddress(to, given.client, given.peer);
    return;
  }
  if (record === null) return; // nothing to learn from: the host answers for an unknown address itself
  host.learnNodeAddress(to, record.address, record.address);
}

interface TargetAddresses {
  client: string;
  peer: string;
}

/** The request's optional to_address / to_peer_address (both checked; a peer address alone is refused). */
function targetAddressesArg(req: { toAddress?: unknown; toPeerAddress?: unknown }): TargetAddresses | null {
  const client = req.toAddress === undefined || req.toAddress === '' ? null : req.toAddress;
  const peer = req.toPeerAddress === undefined || req.toPeerAddress === '' ? null : req.toPeerAddress;
  if (client === null) {
    if (peer !== null) throw new TesseraError('INVALID_ARGUMENT', 'to_peer_address needs to_address');
    return null;
  }
  const c = checkMemberAddress(client, 'to_address');
  return { client: c, peer: peer === null ? c : checkMemberAddress(peer, 'to_peer_address') };
}

/** The driver's last view, or null (not the meta leader, no driver, no round yet). */
export type ViewSource = () => PlacementView | null;

/** Longest a MoveReplica call may run on the node (the client's deadline usually ends it first). */
const MOVE_TIMEOUT_CAP_MS = 10 * 60_000;
/** no_wait moves running on one node at most. */
const BACKGROUND_MOVES_MAX = 16;

const SETTABLE_STATES = ['draining', 'up', 'removed'] as const;
type SettableState = (typeof SETTABLE_STATES)[number];

function nodeIdArg(id: unknown, field: string): NodeId {
  if (!isNodeId(id))
    throw new TesseraError('INVALID_ARGUMENT', `${field} must be a node id (a positive integer), got ${String(id)}`, {
      limit: 'nodeId',
    });
  return id;
}

const wireMembers = (ms: readonly MemberInfo[]) =>
  ms.map((m) => ({ id: m.id, address: m.address, voter: m.voter, match: m.match }));

/** Moves started with no_wait that are still running on this node (bounded by BACKGROUND_MOVES_MAX). */
export class BackgroundMoves {
  private running = 0;
  constructor(
    private readonly logger: Logger,
    readonly max = BACKGROUND_MOVES_MAX,
  ) {}

  get size(): number {
    return this.running;
  }

  /** Starts `move` unless `max` are running (RESOURCE_EXHAUSTED); its outcome is logged. */
  start(what: Record<string, number>, move: () => Promise<unknown>): void {
    if (this.running >= this.max)
      throw new TesseraError(
        'RESOURCE_EXHAUSTED',
        `${this.running} replica moves are running on this node; retry later`,
      );
    this.running++;
    move()
      .then(
        () => this.logger.info(what, 'replica moved (no_wait)'),
        (e: unknown) => this.logger.warn({ ...what, err: (e as Error).message }, 'replica move failed (no_wait)'),
      )
      .finally(() => this.running--);
  }
}

/** MoveReplica: the ids checked, then the host's move (on the shard's leader), awaited or in the background. */
export async function moveReplicaResponse(
  host: NodesHost,
  self: NodeId,
  moves: BackgroundMoves,
  req: {
    shardId?: unknown;
    from?: unknown;
    to?: unknown;
    noWait?: unknown;
    toAddress?: unknown;
    toPeerAddress?: unknown;
  },
  timeoutMs: number,
) {
  const shard = req.shardId;
  if (typeof shard !== 'number' || !Number.isSafeInteger(shard) || shard <= 0 || shard > 0xffff_ffff)
    throw new TesseraError('INVALID_ARGUMENT', `shard_id must be a shard id, got ${String(shard)}`);
  const from = nodeIdArg(req.from, 'from');
  const to = nodeIdArg(req.to, 'to');
  if (from === to) throw new TesseraError('INVALID_ARGUMENT', `from and to are both node ${from}: nothing to move`);
  const groupId = shard as GroupId;
  learnTargetAddress(host, to, targetAddressesArg(req));
  if (req.noWait !== true) return { members: wireMembers(await host.moveReplica(groupId, from, to, timeoutMs)) };
  // Answer now, after the checks a waiting call would fail at first: the shard is hosted and led here.
  const status = host.groupStatus(groupId);
  if (status.role !== 'leader') throw notGroupLeader(host, self, groupId, status.leader);
  moves.start({ shard, from, to }, () => host.moveReplica(groupId, from, to, MOVE_TIMEOUT_CAP_MS));
  return { members: wireMembers(status.members) };
}

/** NOT_LEADER naming a group's leader (with its address when known), or UNAVAILABLE when none is known. */
function notGroupLeader(host: NodesHost, self: NodeId, groupId: GroupId, leader: NodeId): TesseraError {
  if (leader === NO_NODE || leader === self)
    return new TesseraError('UNAVAILABLE', `group ${groupId} has no known leader on node ${self}; retry`);
  let address: string | null;
  try {
    address = host.leaderOf(groupId).leaderAddress;
  } catch {
    address = host.addresses.get(leader); // a group not hosted here (the meta group, on a node without it)
  }
  return new TesseraError('NOT_LEADER', `node ${self} does not lead group ${groupId}; the leader is node ${leader}`, {
    leaderId: leader,
    groupId,
    ...(address ? { leaderAddress: address } : {}),
  });
}

/** The meta group as this node sees it: whether it leads it, and the leader otherwise (NO_NODE: unknown). */
function metaLeadership(host: NodesHost, self: NodeId): { leads: boolean; leader: NodeId } {
  try {
    const s = host.groupStatus(META_SHARD_ID as number as GroupId);
    return { leads: s.role === 'leader', leader: s.leader === self && s.role !== 'leader' ? NO_NODE : s.leader };
  } catch {
    // No meta replica here: the node whose placement driver (it runs on the meta leader) polled this one.
    return { leads: false, leader: host.metaLeaderHint() };
  }
}

/**
 * The shards known here with a replica on `id`: the driver's view, the hosted shards, the meta group. A group
 * this node leads is judged by its own status (current) rather than the view (up to one round old), so a
 * removal that just applied here is not reported as still holding.
 */
export function shardsOnNode(host: NodesHost, view: PlacementView | null, id: NodeId, self: NodeId): number[] {
  const on = new Set<number>();
  const ledHere = new Set<number>();
  for (const s of host.listShards()) {
    if (s.leader === self) ledHere.add(s.id);
    if (s.replicas.some((r) => r.id === id)) on.add(s.id);
  }
  try {
    const meta = host.groupStatus(META_SHARD_ID as number as GroupId);
    if (meta.role === 'leader') ledHere.add(META_SHARD_ID);
    if (meta.members.some((m) => m.id === id)) on.add(META_SHARD_ID);
  } catch {
    // This node hosts no meta replica: the view covers the meta group.
  }
  for (const s of view?.shards ?? []) if (!ledHere.has(s.id) && s.replicas.some((r) => r.node === id)) on.add(s.id);
  return [...on].sort((a, b) => a - b);
}

/** SetNodeState: checked, answered by the meta leader, "removed" only for a node without replicas. */
export async function setNodeStateResponse(
  host: NodesHost,
  self: NodeId,
  view: ViewSource,
  req: { id?: unknown; state?: unknown },
  timeoutMs: number,
) {
  const id = nodeIdArg(req.id, 'id');
  const state = req.state;
  if (typeof state !== 'string' || !(SETTABLE_STATES as readonly string[]).includes(state))
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `state must be one of ${SETTABLE_STATES.join(', ')}, got '${String(state)}'`,
    );
  const meta = metaLeadership(host, self);
  if (!meta.leads) throw notGroupLeader(host, self, META_SHARD_ID as number as GroupId, meta.leader);
  if (state === 'removed') {
    const held = shardsOnNode(host, view(), id, self);
    if (held.length > 0)
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `node ${id} still holds replicas of ${held.length} shard(s) (${held.slice(0, 16).join(', ')}${held.length > 16 ? ', ...' : ''}); drain it first (tessera node drain ${id}) and wait until it holds none`,
        { failedPrecondition: true, shards: held.length },
      );
  }
  const command: MetaCommand = { type: 'setNodeState', nodeId: id, state: state as SettableState, atMs: Date.now() };
  await applyMetaCommand(
    {
      self,
      knownLeader: () => self,
      candidates: () => [],
      local: (data, t) => host.onForwardMeta(self, data, t),
      forward: () => Promise.reject(new TesseraError('UNAVAILABLE', 'the meta leadership moved; retry')),
      retryMs: 50,
    },
    command,
    timeoutMs,
  );
  return { id, state };
}

/**
 * ListNodes: the registry, with the driver's counts when there is a view (see the header). Served by the meta
 * leader after a read barrier, so it shows every registry change acknowledged before the call (a `node
 * remove` that just answered); other nodes redirect there (NOT_LEADER with the leader, UNAVAILABLE while
 * none is known).
 */
export async function listNodesResponse(host: NodesHost, self: NodeId, view: ViewSource, timeoutMs: number) {
  const meta = metaLeadership(host, self);
  if (!meta.leads) throw notGroupLeader(host, self, META_SHARD_ID as number as GroupId, meta.leader);
  await host.readBarrier(META_SHARD_ID as number as GroupId, timeoutMs);
  return listNodesWithView(host, metaLeaderView(host, self, view));
}

/** The registry of this node's meta replica, with the driver's counts when there is a view. */
export function listNodesWithView(host: NodesHost, view: PlacementView | null) {
  const nodes = host.listNodes();
  if (view === null) return { nodes };
  const counts = new Map(view.nodes.map((n) => [n.id, n]));
  return {
    nodes: nodes.map((n) => {
      const c = counts.get(n.id);
      return c === undefined ? n : { ...n, replicas: c.replicas, leaders: c.leaders };
    }),
  };
}

/**
 * The shards to list: the hosted ones, plus (with a driver view, on the meta leader) every other data shard
 * of the view, so one node's answer covers the cluster. Shards not hosted here have applied 0 (the CLI folds
 * the reports of several nodes: a hosting replica's wins).
 */
export function shardsToList(host: NodesHost, view: PlacementView | null): LocalShardInfo[] {
  const hosted = host.listShards();
  if (view === null) return hosted;
  const ids = new Set(hosted.map((s) => s.id));
  const others: LocalShardInfo[] = view.shards
    .filter((s) => !ids.has(s.id as GroupId) && s.id !== META_SHARD_ID)
    .map((s) => ({
      id: s.id as GroupId,
      start: s.start,
      end: s.end,
      epoch: s.epoch,
      replicas: s.replicas.map((r) => ({ id: r.node as NodeId, voter: r.voter })),
      leader: s.leader as NodeId,
      applied: 0,
    }));
  return [...hosted, ...others];
}

/** Null on the meta leader; elsewhere the NOT_LEADER (or UNAVAILABLE) that sends a caller there. */
export function metaLeaderRedirect(host: NodesHost, self: NodeId): TesseraError | null {
  const meta = metaLeadership(host, self);
  return meta.leads ? null : notGroupLeader(host, self, META_SHARD_ID as number as GroupId, meta.leader);
}

/** The view, only while this node leads the meta shard (a stale leader's view is not served). */
export function metaLeaderView(host: NodesHost, self: NodeId, view: ViewSource): PlacementView | null {
  return metaLeadership(host, self).leads ? view() : null;
}

/** The gRPC handlers of this module (keys as in adminServiceHandlers), over the host of the moment. */
export function adminNodeHandlers(
  host: () => NodesHost,
  config: NodeConfig,
  metrics: NodeMetrics,
  view: ViewSource,
  logger: Logger,
): grpc.UntypedServiceImplementation {
  const t = config.requestTimeoutMs;
  const moves = new BackgroundMoves(logger);
  return {
    // A move waits for a snapshot and a catch-up: the client's deadline bounds it, not requestTimeoutMs.
    moveReplica: unary(
      'Admin.MoveReplica',
      metrics,
      Math.max(t, MOVE_TIMEOUT_CAP_MS),
      (req: Record<string, unknown>, ms) => moveReplicaResponse(host(), config.id, moves, req, ms),
    ),
    setNodeState: unary('Admin.SetNodeState', metrics, t, (req: Record<string, unknown>, ms) =>
      setNodeStateResponse(host(), config.id, view, req, ms),
    ),
    listNodes: unary('Admin.ListNodes', metrics, t, (_req: unknown, ms) =>
      listNodesResponse(host(), config.id, view, ms),
    ),
  };
}
