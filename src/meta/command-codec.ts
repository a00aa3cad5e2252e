/**
 * The meta shard's commands as checksummed msgpackr records (codec record format 1: version byte, CRC32C,
 * body), the data of the meta group's normal entries. Tuples (t = atMs, the proposer's clock, optional):
 *   bootstrap        [1, clusterId, [[nodeId, address]...], metaShardId, dataShardId, t?]
 *   registerNode     [2, clusterId, nodeId, address, t?]
 *   setNodeState     [3, nodeId, state (0 up, 1 down, 2 draining, 3 removed), t?]
 *   reserveShardIds  [4, count]
 *   split            [5, shard, epoch, key, rightId]
 *   changeReplicas   [6, shard, epoch, change (0 addLearner, 1 promoteLearner, 2 removeReplica), nodeId]
 *   setReplicas      [7, shard, epoch, newEpoch, [[nodeId, voter (1) or learner (0)]...]]
 * One validator for both directions: encodeMetaCommand checks a command by decoding its own tuple (a
 * malformed one is INVALID_ARGUMENT before it is proposed); decodeMetaCommand checks log data (CORRUPTION:
 * the state machine applies it as a no-op). Everything is bounded (META_LIMITS) and every id, epoch,
 * address and cluster id is checked before anything touches the state.
 */
import { TesseraError, unreachable } from '../base';
import { ShapeError, decodeRecord, encodeRecord, shapeArray, shapeBytes, shapeFail, shapeUint } from '../codec';
import {
  CHANGE_KINDS,
  NODE_STATES,
  checkAddress,
  checkClusterId,
  checkCode,
  checkEpoch,
  checkNodeId,
  checkOptionalMs,
  checkShardId,
  checkTuple,
} from './validate';
import { META_REPLICAS_MAX } from './records';
import { META_LIMITS } from './types';
import type { MetaCommand } from './types';

function stamped(tuple: unknown[], atMs: number | undefined): unknown[] {
  if (atMs !== undefined) tuple.push(atMs);
  return tuple;
}

function commandTuple(c: MetaCommand): unknown[] {
  switch (c.type) {
    case 'bootstrap':
      return stamped([1, c.clusterId, c.nodes.map((n) => [n.id, n.address]), c.metaShardId, c.dataShardId], c.atMs);
    case 'registerNode':
      return c.peerAddress === undefined
        ? stamped([2, c.clusterId, c.nodeId, c.address], c.atMs)
        : [2, c.clusterId, c.nodeId, c.address, c.atMs ?? null, c.peerAddress];
    case 'setNodeState':
      return stamped([3, c.nodeId, NODE_STATES.indexOf(c.state)], c.atMs);
    case 'reserveShardIds':
      return [4, c.count];
    case 'split':
      return [5, c.shard, c.epoch, c.key, c.rightId];
    case 'changeReplicas':
      return [6, c.shard, c.epoch, CHANGE_KINDS.indexOf(c.change), c.node];
    case 'setReplicas':
      return [7, c.shard, c.epoch, c.newEpoch, c.replicas.map((r) => [r.node, r.role === 'voter' ? 1 : 0])];
    default:
      return unreachable(c, 'meta command');
  }
}

function toBootstrap(t: unknown[]): MetaCommand {
  checkTuple(t, 5, 6, 'bootstrap');
  const list = shapeArray(t[2], 'bootstrap nodes');
  if (list.length < 1 || list.length > META_LIMITS.nodesMax)
    shapeFail(`bootstrap nodes: expected 1..${META_LIMITS.nodesMax} nodes`);
  const ids = new Set<number>();
  const addresses = new Set<string>();
  const nodes = list.map((x) => {
    const n = checkTuple(x, 2, 2, 'bootstrap node');
    const id = checkNodeId(n[0], 'bootstrap node id');
    const address = checkAddress(n[1], `bootstrap node ${id} address`);
    if (ids.has(id)) shapeFail(`bootstrap nodes: node ${id} appears twice`);
    if (addresses.has(address)) shapeFail(`bootstrap nodes: address ${address} appears twice`);
    ids.add(id);
    addresses.add(address);
    return { id, address };
  });
  const metaShardId = checkShardId(t[3], 'meta shard id');
  const dataShardId = checkShardId(t[4], 'data shard id');
  if (metaShardId === dataShardId) shapeFail(`bootstrap: the meta and data shards share id ${metaShardId}`);
  const c: MetaCommand = {
    type: 'bootstrap',
    clusterId: checkClusterId(t[1], 'cluster id'),
    nodes,
    metaShardId,
    dataShardId,
  };
  const atMs = checkOptionalMs(t[5], 'atMs');
  return atMs === undefined ? c : { ...c, atMs };
}

function toMetaCommand(v: unknown): MetaCommand {
  const t = shapeArray(v, 'meta command');
  const atMs = (i: number): { atMs?: number } => {
    const ms = checkOptionalMs(t[i], 'atMs');
    return ms === undefined ? {} : { atMs: ms };
  };
  switch (t[0]) {
    case 1:
      return toBootstrap(t);
    case 2:
      checkTuple(t, 4, 6, 'registerNode');
      return {
        type: 'registerNode',
        clusterId: checkClusterId(t[1], 'cluster id'),
        nodeId: checkNodeId(t[2], 'node id'),
        address: checkAddress(t[3], 'address'),
        ...(t.length === 6 && t[4] === null ? {} : atMs(4)), // null: a peer address without a time
        ...(t.length === 6 ? { peerAddress: checkAddress(t[5], 'peer address') } : {}),
      };
    case 3:
      checkTuple(t, 3, 4, 'setNodeState');
      return {
        type: 'setNodeState',
        nodeId: checkNodeId(t[1], 'node id'),
        state: checkCode(t[2], NODE_STATES, 'node state'),
        ...atMs(3),
      };
    case 4: {
      checkTuple(t, 2, 2, 'reserveShardIds');
      const count = shapeUint(t[1], 'count');
      if (count < 1 || count > META_LIMITS.reserveShardIdsMax)
        shapeFail(`reserveShardIds: count ${count} is not in 1..${META_LIMITS.reserveShardIdsMax}`);
      return { type: 'reserveShardIds', count };
    }
    case 5: {
      checkTuple(t, 5, 5, 'split');
      const key = shapeBytes(t[3], 'split key');
      if (key.length > META_LIMITS.splitKeyBytesMax)
        shapeFail(`split key: ${key.length} bytes is more than ${META_LIMITS.splitKeyBytesMax}`);
      return {
        type: 'split',
        shard: checkShardId(t[1], 'shard'),
        epoch: checkEpoch(t[2], 'epoch'),
        key,
        rightId: checkShardId(t[4], 'right shard id'),
      };
    }
    case 6:
      checkTuple(t, 5, 5, 'changeReplicas');
      return {
        type: 'changeReplicas',
        shard: checkShardId(t[1], 'shard'),
        epoch: checkEpoch(t[2], 'epoch'),
        change: checkCode(t[3], CHANGE_KINDS, 'replica change'),
        node: checkNodeId(t[4], 'node'),
      };
    case 7:
      return toSetReplicas(t);
    default:
      return shapeFail(`unknown meta command type ${String(t[0])}`);
  }
}

function toSetReplicas(t: unknown[]): MetaCommand {
  checkTuple(t, 5, 5, 'setReplicas');
  const epoch = checkEpoch(t[2], 'epoch');
  const newEpoch = checkEpoch(t[3], 'new epoch');
  if (newEpoch <= epoch) shapeFail(`setReplicas: new epoch ${newEpoch} is not after ${epoch}`);
  const list = shapeArray(t[4], 'replicas');
  if (list.length < 1 || list.length > META_REPLICAS_MAX)
    shapeFail(`setReplicas: expected 1..${META_REPLICAS_MAX} replicas`);
  const seen = new Set<number>();
  const replicas = list.map((x) => {
    const r = checkTuple(x, 2, 2, 'replica');
    const node = checkNodeId(r[0], 'replica node');
    if (r[1] !== 0 && r[1] !== 1) shapeFail(`replica of node ${node}: role ${String(r[1])} is not 0 or 1`);
    if (seen.has(node)) shapeFail(`setReplicas: node ${node} appears twice`);
    seen.add(node);
    return { node, role: r[1] === 1 ? ('voter' as const) : ('learner' as const) };
  });
  if (!replicas.some((r) => r.role === 'voter')) shapeFail('setReplicas: no voter');
  return { type: 'setReplicas', shard: checkShardId(t[1], 'shard'), epoch, newEpoch, replicas };
}

const WHAT = 'meta command';

/**
 * The entry data of `command`; throws TesseraError(INVALID_ARGUMENT, details.rule 'bad-meta-command') when
 * the command is malformed (it would be refused by every replica's decoder).
 */
export function encodeMetaCommand(command: MetaCommand): Buffer {
  let tuple: unknown[];
  try {
    tuple = commandTuple(command);
    toMetaCommand(tuple);
  } catch (e) {
    const message = e instanceof ShapeError ? e.message : (e as Error).message;
    throw new TesseraError('INVALID_ARGUMENT', `invalid meta command: ${message}`, { rule: 'bad-meta-command' });
  }
  return encodeRecord(tuple);
}

/** The command in a meta entry's data; throws TesseraError(CORRUPTION) when the bytes are not one. */
export function decodeMetaCommand(data: Uint8Array): MetaCommand {
  let v: unknown;
  try {
    v = decodeRecord(data, WHAT);
  } catch (e) {
    throw new TesseraError('CORRUPTION', `undecodable meta command: ${(e as Error).message}`);
  }
  try {
    return toMetaCommand(v);
  } catch (e) {
    if (e instanceof ShapeError) throw new TesseraError('CORRUPTION', `undecodable meta command: ${e.message}`);
    throw e;
  }
}
