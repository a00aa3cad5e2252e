/**
 * The node registry a node reports (Admin.ListNodes, proto/admin.proto) in the SDK's public shape.
 * Trust: a reply is hostile; every entry is checked (a node id, a bounded address, a known state, counts
 * that are safe integers), and a malformed one makes the whole reply an INTERNAL error.
 */
import { TesseraError, isNodeId } from '../base';
import type { NodeInfo } from './types';

const NODE_STATES: ReadonlySet<string> = new Set(['up', 'down', 'draining', 'removed']);
/** Most nodes accepted in one reply (the meta shard keeps at most 1,024 records). */
const NODES_PER_REPLY_MAX = 4096;
const ADDRESS_CHARS_MAX = 255;

const count = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** The reply of Admin.ListNodes in the public shape; throws INTERNAL when malformed. */
export function nodeListOf(reply: unknown): NodeInfo[] {
  const nodes = (reply as { nodes?: unknown } | null)?.nodes;
  const bad = (why: string) => new TesseraError('INTERNAL', `ListNodes: the node sent a malformed reply (${why})`);
  if (!Array.isArray(nodes) || nodes.length > NODES_PER_REPLY_MAX) throw bad('no node list');
  return nodes.map((n: Record<string, unknown>, i) => {
    if (!isNodeId(n.id)) throw bad(`node ${i}: id ${String(n.id)}`);
    if (typeof n.address !== 'string' || n.address.length > ADDRESS_CHARS_MAX) throw bad(`node ${n.id}: address`);
    if (typeof n.state !== 'string' || !NODE_STATES.has(n.state)) throw bad(`node ${n.id}: state`);
    if (!count(n.replicas) || !count(n.leaders)) throw bad(`node ${n.id}: counts`);
    return {
      id: n.id,
      address: n.address,
      state: n.state as NodeInfo['state'],
      replicas: n.replicas,
      leaders: n.leaders,
    };
  });
}
