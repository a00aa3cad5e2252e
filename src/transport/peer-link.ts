/**
 * The outgoing half of a peer connection: one long-lived Raft.Stream call to one peer, carrying
 * batches of encoded messages in the sender -> receiver direction (each node dials the peers it sends
 * to, so a one-way network fault cuts exactly one direction, like etcd's per-direction streams).
 *
 * Invariants:
 * - the outbox never holds more than outboxMessagesMax messages: when full, new messages are dropped
 *   and counted (Raft tolerates loss; the core retransmits);
 * - at most one call is open; while it is down, messages are dropped (not queued) and the peer is
 *   reported unreachable, and a reconnect is scheduled with jittered exponential backoff;
 * - a write is issued only while the call is not applying backpressure (write() returned true or
 *   'drain' fired), so memory per peer stays bounded;
 * - every call opens with the handshake (handshake.ts) in its request metadata; while the node does not
 *   know its cluster id yet (a joining node before its first inbound handshake) the link stays down
 *   ('waiting': messages dropped as when the link is down) until wake() is called.
 */
import * as grpc from '@grpc/grpc-js';
import type { NodeId, Random } from '../base';
import type { Logger, NodeMetrics } from '../obs';
import { PEER_PROTOCOL_VERSION, answeredProtocol } from './handshake';
import { loadRaftProto, peerChannelOptions, type MessageBatchWire } from './proto';

export interface BackoffConfig {
  initialMs: number;
  maxMs: number;
}

export interface PeerLinkOptions {
  selfId: NodeId;
  peerId: NodeId;
  address: string;
  outboxMessagesMax: number;
  /** Cap of one MessageBatch. */
  batchMessagesMax: number;
  batchBytesMax: number;
  backoff: BackoffConfig;
  random: Random;
  logger: Logger;
  metrics: NodeMetrics | null;
  onUnreachable: (peer: NodeId) => void;
  /** The handshake metadata of a new call; null while the cluster id is unknown (the link waits). */
  handshake: () => grpc.Metadata | null;
  /** Whether the receiver's response headers prove the cluster id for the call opened with `request`. */
  verifyAnswer: (request: grpc.Metadata, answer: grpc.Metadata) => boolean;
  /** Channel credentials for this peer (plaintext, or mutual TLS checking the peer's certificate). */
  credentials: (peer: NodeId) => grpc.ChannelCredentials;
}

type LinkState = 'connecting' | 'open' | 'backoff' | 'waiting' | 'closed';

export class PeerLink {
  private readonly opts: PeerLinkOptions;
  private readonly peerLabel: string;
  /** This peer's sent-message and sent-batch counters, bound once (no label object per batch). */
  private readonly sentMessages: { inc(n?: number): void } | null;
  private readonly sentBatches: { inc(n?: number): void } | null;
  private client: grpc.Client | null = null;
  private call: grpc.ClientDuplexStream<MessageBatchWire, MessageBatchWire> | null = null;
  private state: LinkState = 'backoff';
  private outbox: Buffer[] = [];
  private blocked = false;
  private backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private unreachableReported = false;
  /** The protocol the open call speaks (the receiver's answer says which); stamped on every batch. */
  private protocol = PEER_PROTOCOL_VERSION;
  /** When a refusal of our handshake was last logged (performance.now() ms; at most once a minute). */
  private refusalLoggedMs = -Infinity;
  address: string;
  /** Messages dropped since creation (full outbox or link down). */
  dropped = 0;
  sent = 0;

  constructor(opts: PeerLinkOptions) {
    this.opts = opts;
    this.address = opts.address;
    this.peerLabel = String(opts.peerId);
    this.sentMessages = opts.metrics?.peerMessagesSent.labels({ peer: this.peerLabel }) ?? null;
    this.sentBatches = opts.metrics?.peerBatchesSent.labels({ peer: this.peerLabel }) ?? null;
    this.backoffMs = opts.backoff.initialMs;
    this.connect();
  }

  get connected(): boolean {
    return this.state === 'open';
  }

  get queued(): number {
    return this.outbox.length;
  }

  /** The gRPC client of the current connection (snapshot calls ride on the same channel). */
  currentClient(): grpc.Client | null {
    return this.state === 'open' || this.state === 'connecting' ? this.client : null;
  }

  /** Queue a message; false when it was dropped. */
  enqueue(message: Buffer): boolean {
    if (this.state === 'closed') return false;
    if (this.state === 'backoff' || this.state === 'waiting') {
      this.drop(1);
      this.reportUnreachableOnce();
      return false;
    }
    if (this.outbox.length >= this.opts.outboxMessagesMax) {
      this.drop(1);
      return false;
    }
    this.outbox.push(message);
    return true;
  }

  /** Write queued messages as batches until the call pushes back. */
  flush(): void {
    const call = this.call;
    // Nothing is written before the receiver proved the cluster id (state 'open').
    if (call === null || this.state !== 'open' || this.blocked || this.outbox.length === 0) return;
    let start = 0;
    while (start < this.outbox.length && !this.blocked) {
      let end = start;
      let bytes = 0;
      while (end < this.outbox.length && end - start < this.opts.batchMessagesMax) {
        const size = (this.outbox[end] as Buffer).length;
        if (end > start && bytes + size > this.opts.batchBytesMax) break;
        bytes += size;
        end++;
      }
      const messages = this.outbox.slice(start, end);
      start = end;
      this.sent += messages.length;
      this.sentMessages?.inc(messages.length);
      this.sentBatches?.inc();
      const batch = { from: this.opts.selfId, to: this.opts.peerId, messages, protocolVersion: this.protocol };
      if (!call.write(batch)) {
        this.blocked = true;
        call.once('drain', () => {
          this.blocked = false;
          this.flush();
        });
      }
    }
    this.outbox = start >= this.outbox.length ? [] : this.outbox.slice(start);
  }

  /** Point the link at a new address (membership change); reconnects. */
  setAddress(address: string): void {
    if (address === this.address) return;
    this.address = address;
    this.teardown();
    this.connect();
  }

  /** The handshake became available (the cluster id was learned): a waiting link connects now. */
  wake(): void {
    if (this.state === 'waiting') this.connect();
  }

  close(): void {
    this.state = 'closed';
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.teardown();
    this.opts.metrics?.peerConnected.set({ peer: this.peerLabel }, 0);
  }

  private drop(count: number): void {
    this.dropped += count;
    this.opts.metrics?.outboxDropped.inc({ peer: this.peerLabel }, count);
  }

  private reportUnreachableOnce(): void {
    if (this.unreachableReported) return;
    this.unreachableReported = true;
    this.opts.onUnreachable(this.opts.peerId);
  }

  private connect(): void {
    if (this.state === 'closed') return;
    const metadata = this.opts.handshake();
    if (metadata === null) {
      this.state = 'waiting';
      return;
    }
    const { Client } = loadRaftProto();
    // With TLS, the name sent in SNI (an IP address there is deprecated) and checked: the peer's identity.
    const options = { ...peerChannelOptions, 'grpc.ssl_target_name_override': `node-${this.opts.peerId}` };
    this.client = new Client(this.address, this.opts.credentials(this.opts.peerId), options);
    const call = (
      this.client as unknown as {
        stream(md: grpc.Metadata): grpc.ClientDuplexStream<MessageBatchWire, MessageBatchWire>;
      }
    ).stream(metadata);
    this.call = call;
    this.state = 'connecting';
    this.blocked = false;
    call.on('metadata', (answer: grpc.Metadata) => {
      // The receiver sends headers as soon as it accepts the stream, with its proof of the cluster id.
      if (this.call !== call) return;
      if (!this.opts.verifyAnswer(metadata, answer)) {
        this.call = null;
        this.failed(new Error('the peer did not prove the cluster id'));
        return;
      }
      this.state = 'open';
      this.protocol = answeredProtocol(answer) ?? PEER_PROTOCOL_VERSION;
      this.backoffMs = this.opts.backoff.initialMs;
      this.unreachableReported = false;
      this.opts.metrics?.peerConnected.set({ peer: this.peerLabel }, 1);
      this.flush();
    });
    call.on('data', () => {
      /* the receiver never writes on this stream today */
    });
    const onDown = (err: Error | null) => {
      if (this.call !== call) return;
      this.call = null;
      this.failed(err);
    };
    call.on('error', (err: Error) => onDown(err));
    call.on('end', () => onDown(null));
    call.on('close', () => onDown(null));
    this.flush();
  }

  private failed(err: Error | null): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.teardown();
    this.state = 'backoff';
    this.opts.metrics?.peerConnected.set({ peer: this.peerLabel }, 0);
    if (this.outbox.length > 0) this.drop(this.outbox.length);
    this.outbox = [];
    this.reportUnreachableOnce();
    if (wasOpen)
      this.opts.logger.warn({ peer: this.opts.peerId, address: this.address, err: err?.message }, 'peer stream lost');
    else this.logRefusal(err);
    // Full jitter in [backoff/2, backoff], then double up to the cap.
    const delayMs = Math.round(this.backoffMs / 2 + this.opts.random.float() * (this.backoffMs / 2));
    this.backoffMs = Math.min(this.opts.backoff.maxMs, this.backoffMs * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delayMs);
    this.reconnectTimer.unref?.();
  }

  /** The peer refused our handshake (another protocol range, another cluster): one line a minute at most. */
  private logRefusal(err: Error | null): void {
    const code = (err as { code?: unknown } | null)?.code;
    if (code !== grpc.status.UNAUTHENTICATED && code !== grpc.status.PERMISSION_DENIED) return;
    const now = performance.now();
    if (now - this.refusalLoggedMs < 60_000) return;
    this.refusalLoggedMs = now;
    const details = (err as { details?: unknown }).details;
    this.opts.logger.warn(
      { peer: this.opts.peerId, address: this.address, err: typeof details === 'string' ? details : err?.message },
      'peer refused this node (logged at most once a minute): check both nodes run compatible versions of one cluster',
    );
  }

  private teardown(): void {
    const call = this.call;
    this.call = null;
    if (call) {
      call.removeAllListeners('metadata');
      call.on('error', () => {});
      call.cancel();
    }
    this.client?.close();
    this.client = null;
    this.blocked = false;
  }
}
