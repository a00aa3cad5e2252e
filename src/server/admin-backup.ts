/**
 * Admin.BackupShard (proto/admin.proto, server streaming): one shard's consistent copy for `tessera backup`
 * (src/backup). The shard's leader confirms its leadership with a read index and waits until it applied
 * it (NodeHost.read, linearizable), then takes a LevelDB snapshot of the shard under the read fence
 * (StateMachine.openConsistentSnapshot: the copy reflects exactly the applied index read from that
 * snapshot, >= the read index) and streams its chunks (kv/snapshot-chunk.ts records, verbatim) while the
 * cluster keeps serving: writes after the snapshot are not in the copy.
 *
 * Bounds and flow control:
 * - at most BACKUP_STREAMS_MAX copies run on a node at once (RESOURCE_EXHAUSTED beyond);
 * - one chunk (at most chunk_bytes, clamped to CHUNK_BYTES_MIN..CHUNK_BYTES_MAX, plus one item larger than
 *   that) is produced only after the previous one was handed to HTTP/2 (the write callback, which waits
 *   for the client's flow-control window): a client that stops reading holds one chunk of the node's memory;
 * - a chunk not taken within the node's request timeout (the client stopped reading), or a stream still
 *   open past its deadline plus DEADLINE_GRACE_MS, has its stream reset (stream-reset.ts) and the LevelDB
 *   snapshot released; a cancelled call releases it too.
 * Errors before the first chunk (NOT_LEADER with the leader hint, NOT_FOUND for a shard not hosted here,
 * ...) end the call with the mapped status (errors.ts).
 */
import * as grpc from '@grpc/grpc-js';
import type { BackupShardMessage } from '../backup';
import { TesseraError } from '../base';
import type { NodeConfig } from '../config';
import { decodeChunk } from '../kv';
import type { NodeHost } from '../node';
import type { NodeMetrics } from '../obs';
import { toGrpcStatus } from './errors';
import { resetPastDeadline, resetStream } from './stream-reset';

/** Backup streams one node serves at once. */
export const BACKUP_STREAMS_MAX = 2;
export const CHUNK_BYTES_MIN = 64 * 1024;
export const CHUNK_BYTES_MAX = 4 * 1024 * 1024;

export interface BackupShardWire {
  shardId?: unknown;
  chunkBytes?: unknown;
}

export type { BackupShardMessage };

type BackupCall = grpc.ServerWritableStream<BackupShardWire, BackupShardMessage>;

/** The NodeHost methods the handler uses. */
export type BackupHost = Pick<NodeHost, 'listShards' | 'read' | 'clusterId'>;

function checkShardId(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > 0xffff_ffff)
    throw new TesseraError('INVALID_ARGUMENT', `shard_id must be a shard id (1..2^32-1), got ${String(v)}`, {
      limit: 'shardId',
    });
  return v;
}

/** chunk_bytes of a request: 0 is the node's default; clamped to CHUNK_BYTES_MIN..CHUNK_BYTES_MAX. */
export function backupChunkBytes(v: unknown, nodeDefault: number): number {
  const asked = typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : nodeDefault;
  return Math.min(CHUNK_BYTES_MAX, Math.max(CHUNK_BYTES_MIN, asked));
}

/** Hands one message to the call; resolves once grpc-js wrote it to HTTP/2 (flow control holds it back). */
function writeOne(call: BackupCall, message: BackupShardMessage, stallMs: number): Promise<'written' | 'stalled'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('stalled'), stallMs);
    call.write(message, () => {
      clearTimeout(timer);
      resolve('written');
    });
  });
}

/** The Admin.BackupShard handler (keys as in adminServiceHandlers), over the host of the moment. */
export function adminBackupHandlers(
  host: () => BackupHost,
  config: NodeConfig,
  metrics: NodeMetrics,
): grpc.UntypedServiceImplementation {
  let running = 0;
  const handler = (call: BackupCall): void => {
    const t0 = performance.now();
    const observe = (code: string): void =>
      metrics.grpcLatencySeconds.observe({ method: 'Admin.BackupShard', code }, (performance.now() - t0) / 1000);
    if (running >= BACKUP_STREAMS_MAX) {
      fail(call, observe, new TesseraError('RESOURCE_EXHAUSTED', `${running} backups are running on this node; retry`));
      return;
    }
    running++;
    void serveBackup(call, host, config, metrics, observe).finally(() => running--);
  };
  return { backupShard: handler };
}

function fail(call: BackupCall, observe: (code: string) => void, e: unknown): void {
  const st = toGrpcStatus(e);
  observe(grpc.status[st.code] ?? String(st.code));
  if (!call.cancelled) call.emit('error', { code: st.code, details: st.details, metadata: st.metadata });
}

async function serveBackup(
  call: BackupCall,
  host: () => BackupHost,
  config: NodeConfig,
  metrics: NodeMetrics,
  observe: (code: string) => void,
): Promise<void> {
  let gone = false;
  call.on('cancelled', () => (gone = true));
  const reset = (reason: 'stalled-stream' | 'deadline-stream'): void => {
    if (gone) return;
    gone = true;
    metrics.overloadRefused.inc({ reason });
    resetStream(call);
  };
  const unguard = resetPastDeadline(call, () => reset('deadline-stream'));
  try {
    const shardId = checkShardId(call.request.shardId);
    const chunkBytes = backupChunkBytes(call.request.chunkBytes, config.snapshotChunkBytes);
    const h = host();
    if (!h.listShards().some((s) => s.id === shardId))
      throw new TesseraError('NOT_FOUND', `node ${config.id} hosts no replica of shard ${shardId}`);
    const { value: reader, header } = await h.read(shardId, 'linearizable', (sm) =>
      sm.openConsistentSnapshot(chunkBytes),
    );
    try {
      let first = true;
      for await (const chunk of reader) {
        if (gone) break;
        let message: BackupShardMessage = { chunk } as BackupShardMessage;
        if (first) {
          const c = decodeChunk(chunk);
          const shard = c.shard;
          if (shard === undefined) throw new TesseraError('INTERNAL', `shard ${shardId}'s copy carries no range`);
          message = {
            shardId,
            start: shard.start,
            end: shard.end ?? Buffer.alloc(0),
            epoch: shard.epoch,
            readIndex: header.index,
            applied: reader.applied,
            clusterId: h.clusterId ?? '',
            chunk,
          };
          first = false;
        }
        if ((await writeOne(call, message, config.requestTimeoutMs)) === 'stalled') reset('stalled-stream');
      }
    } finally {
      await reader.close();
    }
    if (gone) return;
    observe('OK');
    call.end();
  } catch (e) {
    if (!gone) fail(call, observe, e);
  } finally {
    unguard();
  }
}
