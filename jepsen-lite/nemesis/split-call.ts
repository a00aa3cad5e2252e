/**
 * One Admin.SplitShard call (proto/admin.proto) on a node's real address, as the operator makes it, with
 * the answer as data: the two shards on success, else the gRPC status, the node's reason and the leader
 * hint of a NOT_LEADER (trailers tessera-leader-id / tessera-leader-address / tessera-group).
 *
 * Invariants (admin-call.ts): every call has a deadline and settles; nothing here throws for an answer the
 * node gave (a refusal is an outcome); the channel is the caller's (one per split, closed by it).
 */
import type * as grpc from '@grpc/grpc-js';
import { callAdmin, type Refusal } from './admin-call';

export interface ShardSpan {
  id: number;
  start: Buffer;
  /** Empty: unbounded. */
  end: Buffer;
  epoch: number;
}

export type SplitAnswer = { ok: true; left: ShardSpan; right: ShardSpan } | Refusal;

const span = (s: Partial<ShardSpan> | undefined): ShardSpan => ({
  id: Number(s?.id ?? 0),
  start: Buffer.from(s?.start ?? []),
  end: Buffer.from(s?.end ?? []),
  epoch: Number(s?.epoch ?? 0),
});

/** Asks the node behind `channel` to split the shard owning `key` at `key`. */
export async function callSplit(channel: grpc.Client, key: Buffer, timeoutMs: number): Promise<SplitAnswer> {
  const a = await callAdmin<{ left?: Partial<ShardSpan>; right?: Partial<ShardSpan> }>(
    channel,
    'SplitShard',
    { key },
    timeoutMs,
  );
  return a.ok ? { ok: true, left: span(a.value.left), right: span(a.value.right) } : a;
}

/** The key as the logs show it: itself when printable ASCII, else hex with a 0x prefix (the CLI's rule). */
export function printableKey(key: Buffer): string {
  if (key.length === 0) return "''";
  return [...key].every((b) => b >= 0x20 && b < 0x7f) ? key.toString('latin1') : `0x${key.toString('hex')}`;
}

export function describeSpan(s: ShardSpan): string {
  return `${s.id} [${printableKey(s.start)}, ${s.end.length === 0 ? '∞' : printableKey(s.end)})`;
}
