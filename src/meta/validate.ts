/**
 * Field checks for everything meta/ decodes (commands from the log, records from LevelDB, snapshot chunks
 * from a peer, heartbeats from the network): all of it is hostile until these pass. They throw codec's
 * ShapeError (shapeFail); each decoder maps it to its own error code.
 */
import { isEpoch, isNodeId, isShardId } from '../base';
import type { Epoch, NodeId, ShardId } from '../base';
import { shapeFail, shapeUint } from '../codec';
import type { NodeState, ReplicaChangeKind } from './types';
import { META_LIMITS } from './types';

const CLUSTER_ID_RE = /^[0-9a-f]{32}$/;
/** host:port, printable ASCII without spaces (a bracketed IPv6 host included), port 1..65535. */
const ADDRESS_RE = /^[\x21-\x7e]+:(\d{1,5})$/;

export const NODE_STATES: readonly NodeState[] = ['up', 'down', 'draining', 'removed'];
export const CHANGE_KINDS: readonly ReplicaChangeKind[] = ['addLearner', 'promoteLearner', 'removeReplica'];

export function checkNodeId(v: unknown, what: string): NodeId {
  if (!isNodeId(v)) shapeFail(`${what}: ${String(v)} is not a node id`);
  return v;
}

export function checkShardId(v: unknown, what: string): ShardId {
  if (!isShardId(v)) shapeFail(`${what}: ${String(v)} is not a shard id`);
  return v;
}

export function checkEpoch(v: unknown, what: string): Epoch {
  if (!isEpoch(v)) shapeFail(`${what}: ${String(v)} is not an epoch`);
  return v;
}

export function checkClusterId(v: unknown, what: string): string {
  if (typeof v !== 'string' || !CLUSTER_ID_RE.test(v)) shapeFail(`${what}: expected 32 lowercase hex digits`);
  return v;
}

export function checkAddress(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length > META_LIMITS.addressBytesMax) shapeFail(`${what}: expected a host:port`);
  const m = ADDRESS_RE.exec(v);
  const port = m ? Number(m[1]) : 0;
  if (m === null || v.startsWith(':') || port < 1 || port > 65535)
    shapeFail(`${what}: '${v.slice(0, 64)}' is not a host:port with a port in 1..65535`);
  return v;
}

/** A code indexing `names` (a small enum on the wire). */
export function checkCode<T>(v: unknown, names: readonly T[], what: string): T {
  const code = shapeUint(v, what);
  if (code >= names.length) shapeFail(`${what}: unknown code ${code}`);
  return names[code] as T;
}

/** An optional trailing time (ms): undefined when absent. */
export function checkOptionalMs(v: unknown, what: string): number | undefined {
  return v === undefined ? undefined : shapeUint(v, what);
}

export function checkMsOrNull(v: unknown, what: string): number | null {
  return v === null ? null : shapeUint(v, what);
}

/** A tuple of `min`..`max` elements. */
export function checkTuple(v: unknown, min: number, max: number, what: string): unknown[] {
  if (!Array.isArray(v) || v.length < min || v.length > max)
    shapeFail(`${what}: expected a tuple of ${min === max ? min : `${min}..${max}`} elements`);
  return v;
}
