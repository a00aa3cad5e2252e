/**
 * One Admin call (proto/admin.proto) on a node's real address, as the operator makes it, with the answer as
 * data: the decoded response, else the gRPC status, the node's reason and the leader hint of a NOT_LEADER
 * (trailers tessera-leader-id / tessera-leader-address / tessera-group). Used by the split and move nemeses.
 *
 * Invariants: every call has a deadline and settles; nothing here throws for an answer the node gave (a
 * refusal is an outcome, an undecodable response an INTERNAL one); the channel is the caller's (opened per
 * nemesis step and closed by it).
 */
import * as grpc from '@grpc/grpc-js';
import { decode, encode, statusName } from '../hostile/wire';

export interface Refusal {
  ok: false;
  /** gRPC status name, or NO_ANSWER when nothing came back before the deadline. */
  code: string;
  /** tessera-reason (NOT_LEADER, INVALID_ARGUMENT, ...) when the node gave one. */
  reason: string | null;
  detail: string;
  leaderId: number | null;
  leaderAddress: string | null;
  groupId: number | null;
}

export type AdminAnswer<T> = { ok: true; value: T } | Refusal;

const trailer = (md: grpc.Metadata | undefined, name: string): string | null => {
  const v = md?.get(name)?.[0];
  return v === undefined ? null : String(v);
};

const positive = (text: string | null): number | null => {
  const n = text === null ? NaN : Number(text);
  return Number.isInteger(n) && n > 0 ? n : null;
};

/** The refusal a gRPC error stands for (a deadline with no tessera-reason: NO_ANSWER). */
export function refusal(err: grpc.ServiceError): Refusal {
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

/** A refusal made here (no node said it). */
export const localRefusal = (code: string, detail: string): Refusal => ({
  ok: false,
  code,
  reason: null,
  detail,
  leaderId: null,
  leaderAddress: null,
  groupId: null,
});

/** Calls Admin.`method` with `fields` encoded as `method`Request, decoding `method`Response. */
export function callAdmin<T>(
  channel: grpc.Client,
  method: string,
  fields: Record<string, unknown>,
  timeoutMs: number,
): Promise<AdminAnswer<T>> {
  return new Promise((resolve) => {
    channel.makeUnaryRequest(
      `/tessera.v1.Admin/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      encode(`${method}Request`, fields),
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err, res) => {
        if (err) return resolve(refusal(err));
        try {
          resolve({ ok: true, value: decode<T>(`${method}Response`, res ?? Buffer.alloc(0)) });
        } catch (e) {
          resolve(localRefusal('INTERNAL', `undecodable ${method}Response: ${(e as Error).message}`));
        }
      },
    );
  });
}

/** A timeout: the call may or may not have taken effect. */
export const isIndeterminate = (r: Refusal): boolean => r.code === 'NO_ANSWER' || r.code === 'DEADLINE_EXCEEDED';

export const describeRefusal = (r: Refusal): string => `${r.code}${r.reason ? ` (${r.reason})` : ''}: ${r.detail}`;

/** The channels of one nemesis step, one per address, all closed by close(). */
export class ChannelPool {
  private readonly channels = new Map<string, grpc.Client>();

  get(address: string): grpc.Client {
    let ch = this.channels.get(address);
    if (!ch) this.channels.set(address, (ch = new grpc.Client(address, grpc.credentials.createInsecure())));
    return ch;
  }

  close(): void {
    for (const ch of this.channels.values()) ch.close();
    this.channels.clear();
  }
}
