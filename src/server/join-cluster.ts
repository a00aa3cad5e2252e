/**
 * `--join` (issue 10, "The model"): a node started with --join on an empty data dir registers itself in
 * the meta shard's node registry (registerNode: its id, the cluster id, its advertised client address and,
 * with --peer-listen, the address members dial it at for Raft) before it serves, through one of its --peers
 * (ForwardMeta, following NOT_LEADER hints to the meta leader; meta-client.ts). The placement driver then
 * dials it (at its peer address) and gives it replicas.
 *
 * Invariants:
 * - a refusal of the registry (cluster-mismatch, node-id-taken, address-taken, node-removed) is a CONFIG
 *   error naming the reason and what to do: the start fails, the process exits non-zero, and nothing was
 *   written on any other node (a refused command changes nothing);
 * - a node already registered at the same address is accepted again (a retried join, a restart before any
 *   replica arrived);
 * - bounded: attempts stop after timeoutMs (UNAVAILABLE: the cluster did not answer);
 * - without a known cluster id (peer TLS without --cluster-token) the node first asks its --peers for it
 *   (transport/cluster-ask.ts: the peer tells it only over mutual TLS, where the CA vouches for both
 *   ends), in turn until one answers or timeoutMs ends, then registers with it; without askClusterId (no
 *   peer TLS) it cannot learn it, says so and waits to be added (`tessera member add`).
 */
import { TesseraError, isTesseraError, type NodeId } from '../base';
import type { MetaCommand } from '../meta';
import type { Logger } from '../obs';
import { applyMetaCommand, type MetaClientDeps } from './meta-client';

export interface JoinDeps extends Pick<MetaClientDeps, 'forward' | 'retryMs'> {
  self: NodeId;
  clusterId: string | null;
  /** Asks peer `to` for the cluster id (peer TLS only; null without it). */
  askClusterId: ((to: NodeId, timeoutMs: number) => Promise<string>) | null;
  /** The address clients and other nodes are told (--advertise-address). */
  address: string;
  /** With --peer-listen: where members dial this node for Raft (registered beside `address`); else null. */
  peerAddress: string | null;
  /** The --peers given to the joining node (existing members; this node's own id is skipped). */
  peers: readonly NodeId[];
  timeoutMs: number;
  logger: Logger;
}

/** The longest one ask for the cluster id waits for its peer. */
const ASK_TIMEOUT_MS = 5000;

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
  const peers = d.peers.filter((id) => id !== d.self);
  if (peers.length === 0) throw new TesseraError('CONFIG', '--join: --peers names no other node to join through');
  const startedMs = Date.now();
  let clusterId = d.clusterId;
  if (clusterId === null) {
    if (d.askClusterId === null) {
      d.logger.warn(
        {},
        '--join: the cluster id is not known (no --cluster-token, no peer TLS to ask it over), so this node cannot register itself in the meta shard; add it with tessera member add',
      );
      return 'skipped';
    }
    clusterId = await askPeers(d, d.askClusterId, peers, startedMs + d.timeoutMs);
  }
  const command: MetaCommand = {
    type: 'registerNode',
    clusterId,
    nodeId: d.self,
    address: d.address,
    atMs: Date.now(),
    ...(d.peerAddress === null ? {} : { peerAddress: d.peerAddress }),
  };
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
      Math.max(1, startedMs + d.timeoutMs - Date.now()),
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

/** Asks each peer in turn for the cluster id until one tells it; UNAVAILABLE (the last reason) at `deadline`. */
async function askPeers(
  d: JoinDeps,
  ask: (to: NodeId, timeoutMs: number) => Promise<string>,
  peers: readonly NodeId[],
  deadline: number,
): Promise<string> {
  let last = 'no peer answered';
  for (let round = 0; ; round++) {
    for (const to of peers) {
      const leftMs = deadline - Date.now();
      if (leftMs <= 0) {
        throw new TesseraError(
          'UNAVAILABLE',
          `--join: no peer of ${peers.join(', ')} told node ${d.self} the cluster id (at most ${d.timeoutMs} ms): ${last}`,
        );
      }
      try {
        const clusterId = await ask(to, Math.min(leftMs, ASK_TIMEOUT_MS));
        d.logger.info({ from: to }, '--join: learned the cluster id from a peer (peer TLS)');
        return clusterId;
      } catch (e) {
        last = e instanceof Error ? e.message : String(e);
      }
    }
    if (round === 0) d.logger.warn({ err: last }, '--join: no peer told the cluster id yet; retrying');
    await new Promise((r) => setTimeout(r, Math.max(1, Math.min(d.retryMs, deadline - Date.now()))));
  }
}
