/**
 * The node's use of the meta shard (src/meta) in this version (issue 10): bootstrapping it, reserving the
 * ids of split right-hand shards, and recording splits in its descriptors.
 * - Bootstrap: the first leader of the meta group on a bootstrap node proposes `bootstrap` (the cluster
 *   id, the --peers nodes, the meta group and the first data shard); a retry or a second leader's copy is
 *   refused by the state machine ('already-bootstrapped'), so it applies once.
 * - Shard ids come only from the meta shard's `reserveShardIds` (ids are never reused), proposed on the
 *   meta leader: locally when this node leads it, otherwise forwarded to the leader over the peer RPC
 *   ForwardMeta (transport/meta-forward.ts), following NOT_LEADER hints within the deadline.
 * - Forwarded commands are hostile input: only reserveShardIds, split records, setNodeState (an operator's
 *   drain or removal, asked on any node) and registerNode (a node joining with --join; only for the
 *   sending peer's own id) are accepted, decoded by the meta codec's strict decoder, from an authenticated
 *   peer.
 * - A split is recorded in the meta shard after it applied in the data shard; if that record is lost (the
 *   meta leader changed), the data shard's own record stays the truth for routing on the nodes (a node
 *   answers from its groups' ranges) and the meta descriptor is behind until the next record.
 */
import { NO_NODE, TesseraError, isTesseraError, type GroupId, type NodeId, type ShardId } from '../base';
import { decodeRecord, encodeRecord } from '../codec';
import { META_SHARD_ID, decodeMetaCommand, encodeMetaCommand, refusalError, type MetaCommand } from '../meta';
import type { MetaResult } from '../meta';
import type { Logger } from '../obs';
import type { Group } from './group';

export interface MetaHostDeps {
  self: NodeId;
  /** The cluster id, null on a node that joins (it never bootstraps the meta shard). */
  clusterId: string | null;
  /** The --peers nodes and their addresses (the bootstrap nodes), or empty when joining. */
  bootstrapNodes: () => { id: NodeId; address: string }[];
  group: () => Group | undefined;
  propose: (g: Group, data: Uint8Array, timeoutMs: number) => Promise<{ result: unknown }>;
  forward: (to: NodeId, command: Buffer, timeoutMs: number) => Promise<Buffer>;
  /** Peers to ask when this node hosts no meta replica (it forwards to them in turn, following hints). */
  peers: () => NodeId[];
  logger: Logger;
  /** Ticks between retries while no leader is known. */
  retryMs: number;
}

const FORWARD_HOPS_MAX = 4;

export class MetaHost {
  private bootstrapping = false;
  private warnedInvalid = false;

  constructor(private readonly d: MetaHostDeps) {}

  /** On every leadership change of the meta group: its first leader bootstraps it. */
  onLeader(g: Group): void {
    const meta = g.meta;
    if (meta === null || meta.clusterId !== null || this.bootstrapping || this.d.clusterId === null) return;
    const nodes = this.d.bootstrapNodes();
    if (nodes.length === 0) return;
    const command: MetaCommand = {
      type: 'bootstrap',
      clusterId: this.d.clusterId,
      nodes,
      metaShardId: META_SHARD_ID,
      dataShardId: 1 as ShardId,
      atMs: Date.now(),
    };
    let data: Buffer;
    try {
      data = encodeMetaCommand(command);
    } catch (e) {
      // Never throw into the tick that called us: log once, try again on the next tick.
      if (!this.warnedInvalid)
        this.d.logger.warn({ err: (e as Error).message }, 'meta shard bootstrap: the command is not valid yet');
      this.warnedInvalid = true;
      return;
    }
    this.bootstrapping = true;
    this.d
      .propose(g, data, 10_000)
      .then(({ result }) => this.d.logger.info({ result: (result as MetaResult).type }, 'meta shard bootstrap'))
      .catch((e: unknown) => this.d.logger.warn({ err: (e as Error).message }, 'meta shard bootstrap not done yet'))
      .finally(() => {
        this.bootstrapping = false;
      });
  }

  /** A fresh shard id from the meta shard (see the header). */
  async reserveShardId(timeoutMs: number): Promise<GroupId> {
    const result = await this.apply({ type: 'reserveShardIds', count: 1 }, timeoutMs);
    if (result.type !== 'shardIdsReserved') throw new TesseraError('INTERNAL', `reserve answered ${result.type}`);
    return result.first as number as GroupId;
  }

  /** Records an applied split in the meta shard's descriptors (best effort: see the header). */
  async recordSplit(shard: GroupId, epoch: number, key: Buffer, rightId: GroupId, timeoutMs: number): Promise<void> {
    const command: MetaCommand = {
      type: 'split',
      shard: shard as number as ShardId,
      epoch: epoch as MetaEpoch,
      key,
      rightId: rightId as number as ShardId,
    };
    await this.apply(command, timeoutMs);
  }

  /** Serving side of ForwardMeta: `from` is an authenticated peer. */
  async onForward(from: NodeId, data: Buffer, timeoutMs: number): Promise<Buffer> {
    let command: MetaCommand;
    try {
      command = decodeMetaCommand(data);
    } catch (e) {
      throw new TesseraError('INVALID_ARGUMENT', `forwarded meta command: ${(e as Error).message}`);
    }
    if (!FORWARDABLE.has(command.type))
      throw new TesseraError('INVALID_ARGUMENT', `node ${from} may not forward a ${command.type} command`);
    if (command.type === 'registerNode' && command.nodeId !== from)
      throw new TesseraError('INVALID_ARGUMENT', `node ${from} may not register node ${command.nodeId}`);
    const g = this.d.group();
    if (g === undefined) throw new TesseraError('UNAVAILABLE', `node ${this.d.self} hosts no meta shard`);
    if (!g.isLeader) throw leaderError(g);
    const { result } = await this.d.propose(g, data, timeoutMs);
    return encodeResult(result as MetaResult);
  }

  /**
   * A node without a meta replica (5 nodes, the meta shard on 3) asks its peers in turn: one that hosts the
   * meta shard answers or names its leader (NOT_LEADER), one that does not answers UNAVAILABLE and the next
   * is asked.
   */
  private somePeer(hop: number): NodeId {
    const peers = this.d.peers().filter((id) => id !== this.d.self);
    return peers.length === 0 ? NO_NODE : peers[hop % peers.length]!;
  }

  /** Applies `command` on the meta leader, here or forwarded; refusals become typed errors. */
  async apply(command: MetaCommand, timeoutMs: number): Promise<MetaResult> {
    const deadline = Date.now() + timeoutMs;
    const data = encodeMetaCommand(command);
    let to: NodeId = NO_NODE;
    for (let hop = 0; ; hop++) {
      const left = deadline - Date.now();
      if (left <= 0 || hop > FORWARD_HOPS_MAX * 4)
        throw new TesseraError('UNAVAILABLE', `the meta shard did not answer within ${timeoutMs} ms; retry`);
      const g = this.d.group();
      if (to === NO_NODE) to = g !== undefined ? (g.isLeader ? this.d.self : g.leader) : this.somePeer(hop);
      if (to === NO_NODE && g === undefined)
        throw new TesseraError('UNAVAILABLE', `node ${this.d.self} hosts no meta shard and knows no peer to ask`);
      let result: MetaResult;
      try {
        result =
          to === this.d.self && g !== undefined
            ? ((await this.d.propose(g, data, left)).result as MetaResult)
            : decodeResult(await this.d.forward(to, data, left));
        if (result.type === 'refused' && result.reason === 'not-bootstrapped')
          throw new TesseraError('UNAVAILABLE', result.message);
      } catch (e) {
        if (!isTesseraError(e) || !e.retryable) throw e;
        const hinted = e.code === 'NOT_LEADER' ? Number(e.details.leaderId ?? 0) : 0;
        to = hinted > 0 && hinted !== to ? hinted : NO_NODE;
        if (to === NO_NODE) await new Promise((r) => setTimeout(r, this.d.retryMs));
        continue;
      }
      // A refusal is the state machine's answer: the same command again gets it again (an epoch mismatch
      // retried until the deadline cost a split its caller's 10 s, and the meta shard a proposal a turn).
      if (result.type === 'refused') throw refusalError(result);
      return result;
    }
  }
}

/** The commands a peer may forward (see the header). */
const FORWARDABLE: ReadonlySet<MetaCommand['type']> = new Set([
  'reserveShardIds',
  'split',
  'setNodeState',
  'registerNode',
]);

/** A forwarded split record that applied (its descriptors stay on the meta leader). */
const RECORDED: MetaResult = { type: 'undecodable', message: 'applied on the meta leader' };

type MetaEpoch = Extract<MetaCommand, { type: 'split' }>['epoch'];

function leaderError(g: Group): TesseraError {
  if (g.leader === NO_NODE) return new TesseraError('UNAVAILABLE', 'the meta shard has no leader right now; retry');
  return new TesseraError('NOT_LEADER', `not the meta shard's leader; the leader is node ${g.leader}`, {
    leaderId: g.leader,
    groupId: g.id,
  });
}

/** The results a forwarded command can have, as a record: [0, first, count] | [1] | [2, reason, message]. */
function encodeResult(r: MetaResult): Buffer {
  if (r.type === 'shardIdsReserved') return encodeRecord([0, r.first, r.count]);
  if (r.type === 'refused') return encodeRecord([2, r.reason, r.message.slice(0, 1024)]);
  return encodeRecord([1]);
}

/**
 * The result of a forwarded command as the forwarding node sees it: shardIdsReserved and refusals in full,
 * any other applied result as a placeholder of type 'undecodable' (it applied; its details stay on the
 * meta leader).
 */
export function decodeResult(buf: Buffer): MetaResult {
  const v = decodeRecord(buf, 'forwarded meta result');
  if (!Array.isArray(v)) throw new TesseraError('INTERNAL', 'forwarded meta result: not a tuple');
  if (v[0] === 0 && Number.isInteger(v[1]) && v[1] > 0 && v[2] === 1)
    return { type: 'shardIdsReserved', first: v[1] as ShardId, count: 1 };
  if (v[0] === 2 && typeof v[1] === 'string' && typeof v[2] === 'string')
    return { type: 'refused', reason: v[1] as Extract<MetaResult, { type: 'refused' }>['reason'], message: v[2] };
  if (v[0] === 1) return RECORDED;
  throw new TesseraError('INTERNAL', 'forwarded meta result: unknown shape');
}
