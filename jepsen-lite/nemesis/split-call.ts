/**
 * One Admin.SplitShard call (proto/admin.proto) on a node's real address, as the operator makes it, with
 * the answer as data: the two shards on success, else the gRPC status, the node's reason and the leader
 * hint of a NOT_LEADER (trailers tessera-leader-id / tessera-leader-address / tessera-group).
 *
 * Invariants: every call has a deadline and settles; nothing here throws for an answer the node gave (a
 * refusal is an outcome); the channel is the caller's (one per split, closed by it).
 */
import * as grpc from '@grpc/grpc-js';
import { decode, encode, statusName } from '../hostile/wire';

const PATH = '/tessera.v1.Admin/SplitShard';

export interface ShardSpan {
  id: number;
  start: Buffer;
  /** Empty: unbounded. */
  end: Buffer;
  epoch: number;
}

export type SplitAnswer =
  | { ok: true; left: ShardSpan; right: ShardSpan }
  | {
      ok: false;
      /** gRPC status name, or NO_ANSWER when nothing came back before the deadline. */
      code: string;
      /** tessera-reason (NOT_LEADER, INVALID_ARGUMENT, ...) when the node gave one. */
      reason: string | null;
      detail: string;
      leaderId: number | null;
      leaderAddress: string | null;
      groupId: number | null;
    };

const trailer = (md: grpc.Metadata | undefined, name: string): string | null => {
  const v = md?.get(name)?.[0];
  return v === undefined ? null : String(v);
};

const positive = (text: string | null): number | null => {
  const n = text === null ? NaN : Number(text);
  return Number.isInteger(n) && n > 0 ? n : null;
};

function refusal(err: grpc.ServiceError): SplitAnswer {
  const reason = trailer(err.metadata, 'tessera-reason');
  return {
    ok: false,
    code: err.code === grpc.status.DEADLINE_EXCEEDED && reason === null ? 'NO_ANSWER' : statusName(err.code),
    reason,
    detail: (err.details ?? err.message).slice(0, 300),
    leaderId: positive(trailer(err.metadata, 'tessera-leader-id')),
    leaderAddress: trailer(err.metadata, 'tessera-leader-address'),
    groupId: positive(trailer(err.metadata, 'tessera-group')),
  };
}

const span = (s: Partial<ShardSpan> | undefined): ShardSpan => ({
  id: Number(s?.id ?? 0),
  start: Buffer.from(s?.start ?? []),
  end: Buffer.from(s?.end ?? []),
  epoch: Number(s?.epoch ?? 0),
});

/** Asks the node behind `channel` to split the shard owning `key` at `key`. */
export function callSplit(channel: grpc.Client, key: Buffer, timeoutMs: number): Promise<SplitAnswer> {
  return new Promise((resolve) => {
    channel.makeUnaryRequest(
      PATH,
      (b: Buffer) => b,
      (b: Buffer) => b,
      encode('SplitShardRequest', { key }),
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err, res) => {
        if (err) return resolve(refusal(err));
        try {
          const r = decode<{ left?: Partial<ShardSpan>; right?: Partial<ShardSpan> }>(
            'SplitShardResponse',
            res ?? Buffer.alloc(0),
          );
          resolve({ ok: true, left: span(r.left), right: span(r.right) });
        } catch (e) {
          const detail = `undecodable SplitShardResponse: ${(e as Error).message}`;
          resolve({
            ok: false,
            code: 'INTERNAL',
            reason: null,
            detail,
            leaderId: null,
            leaderAddress: null,
            groupId: null,
          });
        }
      },
    );
  });
}

/** The key as the logs show it: itself when printable ASCII, else hex with a 0x prefix (the CLI's rule). */
export function printableKey(key: Buffer): string {
  if (key.length === 0) return "''";
  return [...key].every((b) => b >= 0x20 && b < 0x7f) ? key.toString('latin1') : `0x${key.toString('hex')}`;
}

export function describeSpan(s: ShardSpan): string {
  return `${s.id} [${printableKey(s.start)}, ${s.end.length === 0 ? '∞' : printableKey(s.end)})`;
}
