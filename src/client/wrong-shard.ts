/**
 * The SDK's side of a WRONG_SHARD answer (issue 10, "Routing"): decodes what the node said about the shard
 * that owns the key (src/shard/descriptor-wire.ts: the `tessera-shard` trailer, `tessera-epoch`, and the
 * owner's leader in `tessera-leader-id` / `tessera-leader-address`), and teaches it to the ShardCache.
 * Trust: every field is hostile. classifyGrpcError (errors.ts) has already checked the leader id and epoch
 * syntax; here the descriptor is decoded by decodeShardWire (bounded, validated), a descriptor whose epoch
 * disagrees with `tessera-epoch` is dropped, and a leader hint is kept only for a voter of that descriptor
 * and only with a well-formed address (the Router still decides whether that address may be dialed).
 */
import * as grpc from '@grpc/grpc-js';
import { isEpoch, isNodeId } from '../base';
import type { Epoch, ShardId, TesseraError } from '../base';
import { SHARD_TRAILER, containsKey, decodeShardWire } from '../shard';
import type { ShardDescriptor } from '../shard';
import { isEndpointAddress } from './endpoint';
import type { LeaderHint, ShardCache } from './shard-cache';

export interface WrongShardHint {
  /** The owner's epoch (`tessera-epoch`), when sent. */
  readonly epoch: Epoch | null;
  /** The owner's descriptor, or its id and epoch only (a descriptor too long for a trailer). */
  readonly owner:
    | { readonly kind: 'descriptor'; readonly descriptor: ShardDescriptor }
    | { readonly kind: 'epoch'; readonly id: ShardId; readonly epoch: Epoch }
    | null;
  readonly leader: LeaderHint | null;
  /** Why a sent `tessera-shard` was dropped (for logs), when it was. */
  readonly dropped: string | null;
}

/** What the cache did with a hint; 'refresh' means: load the owner of the key (meta shard) and retry. */
export type WrongShardLearned =
  | { readonly kind: 'updated'; readonly descriptor: ShardDescriptor }
  | { readonly kind: 'refresh'; readonly why: string };

function trailerOf(e: TesseraError): string | undefined {
  const md = (e.cause as { metadata?: unknown } | undefined)?.metadata;
  if (!(md instanceof grpc.Metadata)) return undefined;
  const values = md.get(SHARD_TRAILER);
  const v = values[0];
  return v === undefined ? undefined : typeof v === 'string' ? v : v.toString('latin1');
}

/** Decodes a WRONG_SHARD error (from classifyGrpcError); null for any other error. */
export function wrongShardOf(e: TesseraError): WrongShardHint | null {
  if (e.code !== 'WRONG_SHARD') return null;
  return decodeWrongShard(e.details.epoch, e.details.leaderId, e.details.leaderAddress, trailerOf(e));
}

/** The hint from the raw detail values (each hostile; see the header). */
export function decodeWrongShard(
  epochValue: unknown,
  leaderId: unknown,
  leaderAddress: unknown,
  shardText: string | undefined,
): WrongShardHint {
  const epoch = isEpoch(epochValue) ? epochValue : null;
  let owner: WrongShardHint['owner'] = null;
  let dropped: string | null = null;
  if (shardText !== undefined) {
    const decoded = decodeShardWire(shardText);
    const ownerEpoch =
      decoded.kind === 'descriptor' ? decoded.descriptor.epoch : decoded.kind === 'epoch' ? decoded.epoch : null;
    if (decoded.kind === 'invalid') dropped = decoded.reason;
    else if (epoch !== null && ownerEpoch !== epoch)
      dropped = `epoch ${ownerEpoch} differs from tessera-epoch ${epoch}`;
    else owner = decoded;
  }
  let leader: LeaderHint | null = null;
  if (isNodeId(leaderId)) {
    const address = typeof leaderAddress === 'string' && isEndpointAddress(leaderAddress) ? leaderAddress : null;
    leader = { node: leaderId, address };
  }
  if (leader !== null && owner?.kind === 'descriptor') {
    const d = owner.descriptor;
    if (!d.replicas.some((r) => r.node === leader?.node && r.role === 'voter')) leader = null;
  }
  return { epoch, owner, leader, dropped };
}

/**
 * Teaches the cache what a WRONG_SHARD answer to a request for `key` said. A descriptor of the owner that
 * contains `key` is cached when newer than what it overlaps (it evicts the stale entries). Anything else
 * (no descriptor, the epoch only, a descriptor not containing the key, one older than the cache's): the
 * cached owner of `key`, which routed the request, is dropped and the caller loads the key's descriptor from
 * the meta shard ('refresh'). Dropping even when the node merely seems behind costs one meta lookup in
 * that rare case, and it is what heals a forged or corrupt descriptor with a huge epoch: it would otherwise
 * refuse every honest descriptor as older, forever.
 */
export function learnWrongShard(cache: ShardCache, key: Uint8Array, hint: WrongShardHint): WrongShardLearned {
  const owner = hint.owner;
  let why = owner === null ? 'no descriptor in the answer' : 'the answer carried the epoch only';
  if (owner?.kind === 'descriptor') {
    if (containsKey(owner.descriptor, key)) {
      const outcome = cache.update(owner.descriptor, hint.leader);
      if (outcome.kind === 'added' || outcome.kind === 'unchanged')
        return { kind: 'updated', descriptor: owner.descriptor };
      why = `the answer's descriptor was not cached (${outcome.kind})`;
    } else why = "the answer's descriptor does not hold the key";
  }
  cache.invalidateKey(key);
  return { kind: 'refresh', why };
}
