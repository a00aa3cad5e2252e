/**
 * The client side of Admin.BackupShard (proto/admin.proto), over the SDK's channel to each node
 * (Client.adminStream: its TLS and, on a cluster with access control, its login token): copyShard
 * streams one shard's copy into a BackupWriter. The stream is read with for-await, so grpc-js reads the next message only once the
 * previous chunk was written to disk (the node, in turn, produces a chunk only once the previous one
 * left it: memory stays bounded on both sides whatever the disk's speed).
 *
 * Errors are classified for the caller's retry loop (take-backup.ts): NOT_LEADER (with the leader's
 * address when the node named it), retryable (UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, a
 * broken connection or stream), or final (anything else, e.g. DATA_LOSS of a damaged replica).
 */
import * as grpc from '@grpc/grpc-js';
import { TesseraError, isTesseraError } from '../base';
import type { Client } from '../client';
import type { BackupWriter, ShardStart } from './backup-writer';

/** One message of Admin.BackupShard (proto/admin.proto), as the node writes it and the client reads it. */
export interface BackupShardMessage {
  shardId: number;
  start: Buffer;
  end: Buffer;
  epoch: number;
  readIndex: number;
  applied: number;
  clusterId: string;
  chunk: Buffer;
}

export type CopyFailure =
  | { kind: 'notLeader'; leaderAddress: string | null; message: string }
  | { kind: 'retryable'; message: string }
  | { kind: 'final'; message: string; code: string };

export type CopyOutcome = { ok: true; meta: ShardStart; clusterId: string } | { ok: false; failure: CopyFailure };

const RETRYABLE = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.CANCELLED,
  grpc.status.ABORTED,
  grpc.status.INTERNAL,
]);

function classify(e: unknown): CopyFailure {
  if (isTesseraError(e))
    return e.retryable
      ? { kind: 'retryable', message: e.message }
      : { kind: 'final', message: e.message, code: e.code };
  const err = e as Partial<grpc.ServiceError>;
  const message = err.details ?? (e as Error).message ?? String(e);
  const reason = err.metadata?.get('tessera-reason')[0]?.toString();
  if (reason === 'NOT_LEADER') {
    const hint = err.metadata?.get('tessera-leader-address')[0]?.toString() ?? '';
    return { kind: 'notLeader', leaderAddress: hint === '' ? null : hint, message };
  }
  // A node's own INTERNAL answer (tessera-reason present) is final; a transport INTERNAL (reset stream) is not.
  if (
    err.code !== undefined &&
    RETRYABLE.has(err.code) &&
    !(err.code === grpc.status.INTERNAL && reason === 'INTERNAL')
  )
    return { kind: 'retryable', message };
  if (err.code === undefined) return { kind: 'retryable', message };
  return { kind: 'final', message, code: reason ?? grpc.status[err.code] ?? String(err.code) };
}

/** Backup streams over the SDK's channels (Client.adminStream: the client's TLS and login token). */
export class AdminStreams {
  constructor(private readonly client: Client) {}

  /**
   * Streams shard `shardId` from the node at `address` into `writer` (beginShard, addChunk..., endShard).
   * On failure the shard's partial chunks are dropped from the writer.
   * Errors thrown into the loop (an unexpected shard, a damaged chunk) are classified like the node's.
   */
  async copyShard(
    address: string,
    shardId: number,
    chunkBytes: number,
    writer: BackupWriter,
    /** Where the copy must start (the backup's cursor): another start means the listing was stale. */
    expectedStart: Buffer,
    deadlineMs: number,
  ): Promise<CopyOutcome> {
    let call: grpc.ClientReadableStream<BackupShardMessage> | null = null;
    let meta: ShardStart | null = null;
    let clusterId = '';
    try {
      call = await this.client.adminStream<BackupShardMessage>(
        address,
        'BackupShard',
        { shardId, chunkBytes },
        deadlineMs,
      );
      for await (const m of call as AsyncIterable<BackupShardMessage>) {
        if (meta === null) {
          meta = {
            id: m.shardId,
            start: m.start,
            end: m.end.length === 0 ? null : m.end,
            epoch: m.epoch,
            readIndex: m.readIndex,
            applied: m.applied,
          };
          clusterId = m.clusterId;
          if (meta.id !== shardId) throw new Error(`asked for shard ${shardId}, the node sent shard ${meta.id}`);
          if (!meta.start.equals(expectedStart))
            throw new TesseraError('UNAVAILABLE', `shard ${shardId} no longer starts at the backup's cursor`);
          writer.beginShard(meta);
        }
        await writer.addChunk(m.chunk);
      }
      if (meta === null) return { ok: false, failure: { kind: 'retryable', message: 'the stream ended empty' } };
      writer.endShard();
      return { ok: true, meta, clusterId };
    } catch (e) {
      call?.cancel();
      await writer.dropShard();
      return { ok: false, failure: classify(e) };
    }
  }
}
