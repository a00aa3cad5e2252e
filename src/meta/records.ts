/**
 * The meta shard's stored records (meta-keys.ts names them), checksummed msgpackr records (codec record
 * format 1). Decoders check every field (a record is hostile: it may come from a peer's snapshot) and
 * throw TesseraError(CORRUPTION, { key }) naming the item; a descriptor must also pass validateDescriptor.
 */
import { TesseraError } from '../base';
import { ShapeError, decodeRecord, encodeRecord, shapeArray, shapeBool, shapeBytes, shapeUint } from '../codec';
import { makeDescriptor } from '../shard';
import type { ShardDescriptor } from '../shard';
import type { ClusterRecord, NodeRecord } from './types';
import {
  NODE_STATES,
  checkAddress,
  checkClusterId,
  checkCode,
  checkEpoch,
  checkMsOrNull,
  checkNodeId,
  checkShardId,
  checkTuple,
} from './validate';

/** Replicas of one descriptor (far above any replication factor; bounds what a snapshot may carry). */
export const META_REPLICAS_MAX = 64;

function decodeItem<T>(buf: Uint8Array, name: string, convert: (v: unknown) => T): T {
  const v = decodeRecord(buf, name);
  try {
    return convert(v);
  } catch (e) {
    const problem = e instanceof ShapeError || e instanceof TesseraError ? e.message : String(e);
    throw new TesseraError('CORRUPTION', `corrupt record at key ${name}: ${problem}`, { key: name });
  }
}

export function encodeCluster(c: ClusterRecord): Buffer {
  return encodeRecord([c.clusterId, c.nextShardId, c.bootstrappedAtMs]);
}

export function decodeCluster(buf: Uint8Array, name: string): ClusterRecord {
  return decodeItem(buf, name, (v) => {
    const t = checkTuple(v, 3, 3, 'cluster record');
    const nextShardId = shapeUint(t[1], 'nextShardId');
    if (nextShardId < 1 || nextShardId > 0x1_0000_0000) throw new ShapeError(`nextShardId ${nextShardId}`);
    return { clusterId: checkClusterId(t[0], 'cluster id'), nextShardId, bootstrappedAtMs: checkMsOrNull(t[2], 'at') };
  });
}

export function descriptorTuple(d: ShardDescriptor): unknown[] {
  return [d.id, d.start, d.end, d.replicas.map((r) => [r.node, r.role === 'voter']), d.epoch];
}

export function encodeDescriptor(d: ShardDescriptor): Buffer {
  return encodeRecord(descriptorTuple(d));
}

export function decodeDescriptor(buf: Uint8Array, name: string): ShardDescriptor {
  return decodeItem(buf, name, (v) => {
    const t = checkTuple(v, 5, 5, 'descriptor');
    const list = shapeArray(t[3], 'replicas');
    if (list.length > META_REPLICAS_MAX) throw new ShapeError(`more than ${META_REPLICAS_MAX} replicas`);
    const replicas = list.map((x) => {
      const r = checkTuple(x, 2, 2, 'replica');
      return { node: checkNodeId(r[0], 'replica node'), role: shapeBool(r[1], 'voter') ? 'voter' : 'learner' } as const;
    });
    return makeDescriptor({
      id: checkShardId(t[0], 'shard id'),
      start: shapeBytes(t[1], 'start'),
      end: t[2] === null ? null : shapeBytes(t[2], 'end'),
      replicas,
      epoch: checkEpoch(t[4], 'epoch'),
    });
  });
}

export function encodeNode(n: NodeRecord): Buffer {
  const t = [n.id, n.address, NODE_STATES.indexOf(n.state), n.registeredAtMs, n.stateSinceMs];
  return encodeRecord(n.peerAddress === null ? t : [...t, n.peerAddress]);
}

export function decodeNode(buf: Uint8Array, name: string): NodeRecord {
  return decodeItem(buf, name, (v) => {
    const t = checkTuple(v, 5, 6, 'node record');
    return {
      id: checkNodeId(t[0], 'node id'),
      address: checkAddress(t[1], 'address'),
      state: checkCode(t[2], NODE_STATES, 'state'),
      registeredAtMs: checkMsOrNull(t[3], 'registeredAtMs'),
      stateSinceMs: checkMsOrNull(t[4], 'stateSinceMs'),
      peerAddress: t.length === 6 ? checkAddress(t[5], 'peer address') : null,
    };
  });
}
