/**
 * `--join` (issue 10, "The model"): a node started with --join on an empty data dir registers itself in
 * the meta shard's node registry (registerNode: its id, the cluster id, its advertised client address)
 * before it serves, through one of its --peers (ForwardMeta, following NOT_LEADER hints to the meta leader;
 * meta-client.ts). The placement driver then gives it replicas.
 *
 * Invariants:
 * - a refusal of the registry (cluster-mismatch, node-id-taken, address-taken, node-removed) is a CONFIG
 *   error naming the reason and what to do: the start fails, the process exits non-zero, and nothing was
 *   written on any other node (a refused command changes nothing);
 * - a node already registered at the same address is accepted again (a retried join, a restart before any
 *   replica arrived);
 * - bounded: attempts stop after timeoutMs (UNAVAILABLE: the cluster did not answer);
 * - without a known cluster id (peer TLS without --cluster-token: the id is learned when a member first
 *   calls this node) the node cannot prove the cluster id on an outgoing call, so it does not register; it
 *   says so and waits to be added (`tessera member add`), as before this version.
 */
import { TesseraError, isTesseraError, type NodeId } from '../base';
import type { MetaCommand } from '../meta';
import type { Logger } from '../obs';
import { applyMetaCommand, type MetaClientDeps } from './meta-client';

export interface JoinDeps extends Pick<MetaClientDeps, 'forward' | 'retryMs'> {
  self: NodeId;
  clusterId: string | null;
  /** The address clients and other nodes are told (--advertise-address). */
  address: string;
  /** The --peers given to the joining node (existing members; this node's own id is skipped). */
  peers: readonly NodeId[];
  timeoutMs: number;
  logger: Logger;
}

/** What registerJoiningNode did ('registered' also when it was registered at this address already). */
export type JoinOutcome = 'registered' | 'skipped';

/** The rules a refusal names, with what the operator should do about each. */
const REMEDIES: Readonly<Record<string, string>> = {
  'cluster-mismatch': 'the --peers belong to another cluster (check --cluster-token and --peers)',
  'node-id-taken': 'another node holds this id: start this node with an unused --id',
  'address-taken': 'another node is registered at this address: give this node its own --advertise-address',
  'node-removed': 'this id was removed from the cluster and is never reused: start with a new --id',
};

/** Registers this node in the meta shard (see the header); throws CONFIG on a refusal. */
export async function registerJoiningNode(d: JoinDeps): Promise<JoinOutcome> {
  if (d.clusterId === null) {
    d.logger.warn(
      {},
      '--join: the cluster id is not known yet (peer TLS without --cluster-token), so this node cannot register itself in the meta shard; add it with tessera member add',
    );
    return 'skipped';
  }
  const command: MetaCommand = {
    type: 'registerNode',
    clusterId: d.clusterId,
    nodeId: d.self,
    address: d.address,
    atMs: Date.now(),
  };
  const peers = d.peers.filter((id) => id !== d.self);
  if (peers.length === 0) throw new TesseraError('CONFIG', '--join: --peers names no other node to join through');
  try {
    await applyMetaCommand(
      {
        self: d.self,
        knownLeader: () => 0 as NodeId,
        candidates: () => peers,
        local: null,
        forward: d.forward,
        retryMs: d.retryMs,
      },
      command,
      d.timeoutMs,
    );
    d.logger.info({ node: d.self, address: d.address }, 'registered in the cluster (meta shard node registry)');
    return 'registered';
  } catch (e) {
    if (!isTesseraError(e)) throw e;
    const rule = typeof e.details.rule === 'string' ? e.details.rule : null;
    if (rule !== null) {
      const remedy = REMEDIES[rule] ?? 'the registry refused it';
      throw new TesseraError(
        'CONFIG',
        `--join: the cluster refused node ${d.self} (${rule}): ${e.message}; ${remedy}`,
        {
          rule,
        },
      );
    }
    if (e.code === 'INVALID_ARGUMENT')
      throw new TesseraError('CONFIG', `--join: the cluster refused node ${d.self}: ${e.message}`);
    throw new TesseraError(
      'UNAVAILABLE',
      `--join: could not register node ${d.self} in the cluster (at most ${d.timeoutMs} ms) through peers ${peers.join(', ')}: ${e.message}`,
    );
  }
}
