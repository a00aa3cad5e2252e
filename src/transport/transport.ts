/**
 * Peer transport over gRPC (proto/raft.proto). Carries opaque encoded messages (codec/ is the node's
 * business) for all groups of the node:
 * - send(to, bytes) queues into the peer's bounded outbox; a flush is scheduled once per event-loop turn
 *   so everything produced in one turn leaves as one MessageBatch per peer;
 * - the Raft service implementation (registerOn) hands received batches to the handler and streams
 *   incoming InstallSnapshot chunks to it with bounded memory (the chunk stream is pulled);
 * - sendSnapshot streams chunks to a peer with backpressure.
 * Invariant: the handler is set before any incoming call is processed (calls before that are refused).
 */
import * as grpc from '@grpc/grpc-js';
import { TesseraError, type GroupId, type NodeId, type Random } from '../base';
import type { Logger, NodeMetrics } from '../obs';
import { PeerLink, type BackoffConfig } from './peer-link';
import { loadRaftProto, type MessageBatchWire, type SnapshotAckWire, type SnapshotChunkWire } from './proto';

export interface IncomingSnapshot {
  from: NodeId;
  groupId: GroupId;
  /** The codec-encoded snapshot message (first chunk's header). */
  header: Buffer;
  /** The data of every chunk in order (the first chunk's data included); pulled, so memory stays bounded. */
  chunks: AsyncIterable<Buffer>;
}

export interface TransportHandler {
  onMessages(from: NodeId, messages: Buffer[]): void;
  onUnreachable(peer: NodeId): void;
  /** Resolves when the snapshot is staged and handed to the core; rejects to refuse it. */
  onSnapshot(snapshot: IncomingSnapshot): Promise<void>;
}

export interface OutgoingSnapshotChunk {
  data: Buffer;
}

export interface TransportOptions {
  selfId: NodeId;
  outboxMessagesMax: number;
  batchMessagesMax?: number;
  batchBytesMax?: number;
  backoff?: BackoffConfig;
  /** Longest time one snapshot transfer may take before it is abandoned. */
  snapshotTimeoutMs?: number;
  random: Random;
  logger: Logger;
  metrics: NodeMetrics | null;
}

export class Transport {
  private readonly opts: Required<Omit<TransportOptions, 'metrics'>> & { metrics: NodeMetrics | null };
  private readonly links = new Map<NodeId, PeerLink>();
  private handler: TransportHandler | null = null;
  private flushScheduled = false;
  private closed = false;
  private readonly incoming = new Set<grpc.ServerDuplexStream<MessageBatchWire, MessageBatchWire>>();

  constructor(options: TransportOptions) {
    this.opts = {
      batchMessagesMax: 1024,
      batchBytesMax: 16 * 1024 * 1024,
      backoff: { initialMs: 50, maxMs: 1000 },
      snapshotTimeoutMs: 10 * 60_000,
      ...options,
    };
  }

  get selfId(): NodeId {
    return this.opts.selfId;
  }

  setHandler(handler: TransportHandler): void {
    this.handler = handler;
  }

  /** Add or re-address a peer. Self is ignored. */
  setPeer(id: NodeId, address: string): void {
    if (id === this.opts.selfId || this.closed) return;
    const link = this.links.get(id);
    if (link) {
      link.setAddress(address);
      return;
    }
    this.links.set(
      id,
      new PeerLink({
        selfId: this.opts.selfId,
        peerId: id,
        address,
        outboxMessagesMax: this.opts.outboxMessagesMax,
        batchMessagesMax: this.opts.batchMessagesMax,
        batchBytesMax: this.opts.batchBytesMax,
        backoff: this.opts.backoff,
        random: this.opts.random.fork(),
        logger: this.opts.logger,
        metrics: this.opts.metrics,
        onUnreachable: (peer) => this.handler?.onUnreachable(peer),
      }),
    );
  }

  removePeer(id: NodeId): void {
    this.links.get(id)?.close();
    this.links.delete(id);
  }

  peerAddress(id: NodeId): string | null {
    return this.links.get(id)?.address ?? null;
  }

  /** Queue one encoded message for a peer; false when dropped (unknown peer, link down, outbox full). */
  send(to: NodeId, message: Buffer): boolean {
    const link = this.links.get(to);
    if (!link) {
      this.handler?.onUnreachable(to);
      return false;
    }
    const queued = link.enqueue(message);
    if (queued && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return queued;
  }

  /** Write every outbox now (normally scheduled automatically once per turn). */
  flush(): void {
    this.flushScheduled = false;
    for (const link of this.links.values()) link.flush();
  }

  stats(): Map<NodeId, { connected: boolean; queued: number; dropped: number; sent: number }> {
    const out = new Map<NodeId, { connected: boolean; queued: number; dropped: number; sent: number }>();
    for (const [id, l] of this.links) out.set(id, { connected: l.connected, queued: l.queued, dropped: l.dropped, sent: l.sent });
    return out;
  }

  /** Total messages waiting in all outboxes (a queue-depth metric). */
  queuedMessages(): number {
    let n = 0;
    for (const l of this.links.values()) n += l.queued;
    return n;
  }

  /**
   * Stream a snapshot to a peer: the header (the encoded snapshot message) rides on the first chunk.
   * Resolves when the receiver accepted it; rejects with UNAVAILABLE otherwise.
   */
  async sendSnapshot(to: NodeId, groupId: GroupId, header: Buffer, chunks: AsyncIterable<Buffer>): Promise<void> {
    const client = this.links.get(to)?.currentClient();
    if (!client) throw new TesseraError('UNAVAILABLE', `no connection to peer ${to} for a snapshot`);
    const deadline = Date.now() + this.opts.snapshotTimeoutMs;
    let finish!: (err: Error | null, ack?: SnapshotAckWire) => void;
    const done = new Promise<SnapshotAckWire>((resolve, reject) => {
      finish = (err, ack) => (err ? reject(err) : resolve(ack as SnapshotAckWire));
    });
    const call = (client as unknown as {
      installSnapshot(options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, ack?: SnapshotAckWire) => void): grpc.ClientWritableStream<SnapshotChunkWire>;
    }).installSnapshot({ deadline }, (err, ack) => finish(err, ack));
    try {
      let first = true;
      let pending: Buffer | null = null;
      const writeChunk = async (data: Buffer, last: boolean): Promise<void> => {
        const chunk: SnapshotChunkWire = { from: this.opts.selfId, to, groupId, header: first ? header : Buffer.alloc(0), data, last };
        first = false;
        if (!call.write(chunk)) await new Promise<void>((resolve) => call.once('drain', resolve));
      };
      // Hold one chunk back so the last one can carry last = true.
      for await (const data of chunks) {
        if (this.closed) throw new TesseraError('UNAVAILABLE', 'transport closed');
        if (pending !== null) await writeChunk(pending, false);
        pending = data;
      }
      await writeChunk(pending ?? Buffer.alloc(0), true);
      call.end();
    } catch (e) {
      call.cancel();
      await done.catch(() => undefined);
      throw e;
    }
    let ack: SnapshotAckWire;
    try {
      ack = await done;
    } catch (e) {
      throw new TesseraError('UNAVAILABLE', `snapshot to peer ${to} failed: ${(e as Error).message}`, {}, { cause: e });
    }
    if (!ack.accepted) throw new TesseraError('UNAVAILABLE', `peer ${to} refused the snapshot: ${ack.error}`);
  }

  /** Add the Raft peer service to a gRPC server (the node's single server). */
  registerOn(server: grpc.Server): void {
    server.addService(loadRaftProto().service, {
      stream: (call: grpc.ServerDuplexStream<MessageBatchWire, MessageBatchWire>) => this.acceptStream(call),
      installSnapshot: (call: grpc.ServerReadableStream<SnapshotChunkWire, SnapshotAckWire>, cb: grpc.sendUnaryData<SnapshotAckWire>) =>
        this.acceptSnapshot(call, cb),
    });
  }

  close(): void {
    this.closed = true;
    for (const link of this.links.values()) link.close();
    this.links.clear();
    for (const call of this.incoming) call.end();
    this.incoming.clear();
  }

  private acceptStream(call: grpc.ServerDuplexStream<MessageBatchWire, MessageBatchWire>): void {
    if (this.closed || this.handler === null) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'node not ready' });
      return;
    }
    this.incoming.add(call);
    call.sendMetadata(new grpc.Metadata());
    call.on('data', (batch: MessageBatchWire) => {
      if (batch.to !== this.opts.selfId) {
        this.opts.logger.warn({ from: batch.from, to: batch.to }, 'dropping a peer batch addressed to another node');
        return;
      }
      this.opts.metrics?.peerMessagesReceived.inc(batch.messages.length);
      this.handler?.onMessages(batch.from, batch.messages);
    });
    const done = () => {
      if (!this.incoming.delete(call)) return;
      call.end();
    };
    call.on('end', done);
    call.on('error', done);
    call.on('cancelled', done);
  }

  private acceptSnapshot(call: grpc.ServerReadableStream<SnapshotChunkWire, SnapshotAckWire>, cb: grpc.sendUnaryData<SnapshotAckWire>): void {
    const handler = this.handler;
    if (this.closed || handler === null) {
      cb(null, { accepted: false, error: 'node not ready' });
      return;
    }
    const iterator = call[Symbol.asyncIterator]() as AsyncIterator<SnapshotChunkWire>;
    const run = async (): Promise<void> => {
      const firstResult = await iterator.next();
      if (firstResult.done) throw new Error('empty snapshot stream');
      const first = firstResult.value;
      if (first.to !== this.opts.selfId) throw new Error(`snapshot addressed to node ${first.to}, this is ${this.opts.selfId}`);
      if (first.header.length === 0) throw new Error('first snapshot chunk has no header');
      let sawLast = first.last;
      async function* chunks(): AsyncGenerator<Buffer> {
        yield first.data;
        while (!sawLast) {
          const r = await iterator.next();
          if (r.done) throw new Error('snapshot stream ended before its last chunk');
          sawLast = r.value.last;
          yield r.value.data;
        }
      }
      await handler.onSnapshot({ from: first.from, groupId: first.groupId, header: first.header, chunks: chunks() });
      if (!sawLast) throw new Error('snapshot handler returned before the last chunk');
    };
    run().then(
      () => {
        this.opts.metrics?.snapshotsReceived.inc({ outcome: 'accepted' });
        cb(null, { accepted: true, error: '' });
      },
      (e: unknown) => {
        this.opts.metrics?.snapshotsReceived.inc({ outcome: 'refused' });
        this.opts.logger.warn({ err: (e as Error).message }, 'snapshot refused');
        cb(null, { accepted: false, error: (e as Error).message });
      },
    );
  }
}
