/**
 * The node's identity, stored in its data dir (DESIGN.md section 9b): which node this data belongs to,
 * which cluster, and the --peers it bootstrapped from. Flags bootstrap a new node; they never override
 * what is stored here (server/ refuses a mismatch with exit 2).
 *
 * Stored under the node-local key `n/identity` as a codec record [1, nodeId, clusterId | null,
 * [[id, address]...]]; a record that fails its checksum or shape is CORRUPTION (exit 3).
 *
 * Invariants: nodeId never changes once written; clusterId only changes from null (a --join node that
 * learns it from its first authenticated peer) to a value, never from one value to another;
 * bootstrapPeers is the bootstrap membership (sorted by id; empty for a node that joined).
 */
import { createHash } from 'node:crypto';
import { TesseraError, isNodeId, type NodeId } from '../base';
import { decodeRecord, encodeRecord } from '../codec';
import type { StoreDb } from './types';

export interface NodeIdentity {
  nodeId: NodeId;
  /** 32 hex digits, or null for a --join node without --cluster-token until it learns the cluster's. */
  clusterId: string | null;
  /** The membership the node bootstrapped group 1 with (its first --peers), sorted by id; [] when joined. */
  bootstrapPeers: [NodeId, string][];
}

const KEY = Buffer.from('n/identity');
const KEY_NAME = 'n/identity';
const FORMAT = 1;
const CLUSTER_ID_RE = /^[0-9a-f]{32}$/;

function corrupt(problem: string): TesseraError {
  return new TesseraError('CORRUPTION', `corrupt record at key ${KEY_NAME}: ${problem}`, { key: KEY_NAME });
}

/**
 * The cluster id: hex(sha256("tessera-cluster-id\0" + material)).slice(0, 32), where material is the
 * token, or (no token) the peers sorted by id as "id=address,...": the latter is guessable by anyone
 * who knows the addresses, so callers warn and recommend --cluster-token.
 */
export function deriveClusterId(token: string | null, peers: ReadonlyMap<NodeId, string>): string {
  const material =
    token ??
    [...peers.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([id, address]) => `${id}=${address}`)
      .join(',');
  return createHash('sha256').update(`tessera-cluster-id\0${material}`, 'utf8').digest('hex').slice(0, 32);
}

export function encodeIdentity(id: NodeIdentity): Buffer {
  return encodeRecord([FORMAT, id.nodeId, id.clusterId, id.bootstrapPeers.map(([n, a]) => [n, a])]);
}

export function decodeIdentity(buf: Uint8Array): NodeIdentity {
  const v = decodeRecord(buf, KEY_NAME);
  if (!Array.isArray(v) || v.length !== 4) throw corrupt('not an identity tuple');
  const [format, nodeId, clusterId, peers] = v as unknown[];
  if (format !== FORMAT) throw corrupt(`unknown identity format ${String(format)}`);
  if (!isNodeId(nodeId)) throw corrupt(`node id ${String(nodeId)} is not a node id`);
  if (clusterId !== null && (typeof clusterId !== 'string' || !CLUSTER_ID_RE.test(clusterId)))
    throw corrupt('cluster id is not 32 hex digits');
  if (!Array.isArray(peers)) throw corrupt('bootstrap peers are not a list');
  const bootstrapPeers: [NodeId, string][] = [];
  for (const p of peers as unknown[]) {
    if (!Array.isArray(p) || p.length !== 2 || !isNodeId(p[0]) || typeof p[1] !== 'string')
      throw corrupt('a bootstrap peer is not [id, address]');
    bootstrapPeers.push([p[0], p[1]]);
  }
  return { nodeId, clusterId: clusterId as string | null, bootstrapPeers };
}

/** The stored identity, or null when the data dir has none (empty, or written by an older version). */
export async function loadIdentity(db: StoreDb): Promise<NodeIdentity | null> {
  const buf = await db.get(KEY);
  return buf === undefined ? null : decodeIdentity(buf);
}

/** Stores the identity durably (sync). */
export async function saveIdentity(db: StoreDb, id: NodeIdentity): Promise<void> {
  const sorted: NodeIdentity = { ...id, bootstrapPeers: [...id.bootstrapPeers].sort((a, b) => a[0] - b[0]) };
  await db.put(KEY, encodeIdentity(sorted), { sync: true });
}
