/**
 * Peer transport over gRPC (proto/raft.proto). Carries opaque encoded messages (codec/ is the node's
 * business) for all groups of the node:
 * - send(to, bytes) queues into the peer's bounded outbox; a flush is scheduled once per event-loop turn
 *   so everything produced in one turn leaves as one MessageBatch per peer;
 * - the Raft service implementation (registerOn) hands received batches to the handler and streams
 *   incoming InstallSnapshot chunks to it with bounded memory (the chunk stream is pulled);
 * - sendSnapshot streams chunks to a peer with backpressure and always settles: every wait races the call's
 *   end, a stall limit (snapshotStallMs) and the transfer's timeout (snapshotTimeoutMs); close() ends sends in flight;
 * - forwardMeta asks a peer (the meta shard's leader) to apply an encoded meta command (meta-forward.ts);
 *   the peer's refusal comes back as the node's own TesseraError (peer-error-wire.ts);
 * - placement carries the placement driver's report and action requests (placement-rpc.ts) to a peer,
 *   served by the handler set with setPlacementHandler (src/placement), bounded the same way.
 *
 * The peer door (handshake.ts): every call carries the handshake; before anything reaches the handler
 * the receiver checks the protocol version, the sender's node id (valid, not ours), that the call is
 * meant for this node, the HMAC proof of the cluster id (constant time; the id itself is never sent
 * without peer TLS), the sender's client address (bounded HOST:PORT) and, with peer TLS, that the client
 * certificate names `node-<id>`. A call failing any check is refused (UNAUTHENTICATED /
 * PERMISSION_DENIED) and never handed to the node; a batch or chunk whose `from` is not the handshake's
 * node id or whose `to` is not this node is dropped. An accepted call is answered with the receiver's
 * own proof, and a sender writes nothing before it checked that answer. Every refusal and drop is
 * counted (tessera_peer_rejected_total{reason}) and logged once per (sender, reason).
 * Trust on first use, with peer TLS only: a node without a cluster id (joining with an empty data dir
 * and no token) keeps its outgoing links down, adopts the cluster id of the first inbound handshake that
 * carries it over a certificate-checked channel and passes the other checks, reports it
 * (onClusterIdLearned) and requires it from then on.
 * Invariant: the handler is set before any incoming call is processed (calls before that are refused).
 */
import * as grpc from '@grpc/grpc-js';
import { TesseraError, type GroupId, type NodeId, type Random } from '../base';
import type { Logger, NodeMetrics } from '../obs';
import {
  certificateNamesNode,
  clusterIdsEqual,
  handshakeMetadata,
  readHandshake,
  answerMetadata,
  messageVersionOk,
  supportedProtocols,
  verifyAnswer,
  verifyProof,
  redactClusterId,
  type Handshake,
  type PeerRejectReason,
} from './handshake';
import { CLUSTER_ASK_STATUS, askClusterId, clusterAskTrailers } from './cluster-ask';
import { PeerLink, type BackoffConfig } from './peer-link';
import { SnapshotSendCall } from './snapshot-send-call';
import { fetchRepairChunks, serveRepairChunks, type RepairServeCall, type RepairSource } from './repair-fetch';
import {
  FORWARD_META_CONCURRENT_MAX,
  PeerCallSlots,
  answerForwardMeta,
  forwardCommandFault,
  forwardMetaCall,
  type ForwardReply,
  type ForwardServeCall,
} from './meta-forward';
import { peerChannelCredentials, type PeerTlsMaterial } from './peer-credentials';
import {
  PLACEMENT_CONCURRENT_MAX,
  answerPlacement,
  placementBodyFault,
  placementCall,
  type PlacementHandler,
  type PlacementReply,
  type PlacementServeCall,
} from './placement-rpc';
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
  /** `from` is the sender authenticated by the handshake (every batch's `from` was checked against it). */
  onMessages(from: NodeId, messages: Buffer[]): void;
  onUnreachable(peer: NodeId): void;
  /** Resolves when the snapshot is staged and handed to the core; rejects to refuse it. */
  onSnapshot(snapshot: IncomingSnapshot): Promise<void>;
  /** An authenticated peer's handshake named its client-facing address (bounded, HOST:PORT). */
  onPeerClientAddress?(peer: NodeId, clientAddress: string): void;
  /**
   * Self-repair (repair-fetch.ts): authenticated member `from` asks for a copy of this node's state machine
   * of a group at an applied index >= minIndex; rejects to refuse. Without it such calls are refused.
   */
  onRepairRequest?(from: NodeId, groupId: GroupId, minIndex: number): Promise<RepairSource>;
  /**
   * Meta forwarding (meta-forward.ts): authenticated member `from` asks this node to apply an encoded meta
   * command (1..FORWARD_META_COMMAND_BYTES_MAX bytes, checked before this runs) and resolves with the encoded
   * result (at most FORWARD_META_RESULT_BYTES_MAX bytes). Rejects with the TesseraError the caller gets back
   * (NOT_LEADER with leaderId and groupId when another node leads the meta shard). Must settle within about
   * `timeoutMs` (the caller's deadline, at most FORWARD_META_HANDLER_MS_MAX): the call holds one of the
   * peer's FORWARD_META_CONCURRENT_MAX slots until it does.
   */
  onForwardMeta(from: NodeId, command: Buffer, timeoutMs: number): Promise<Buffer>;
}

export interface OutgoingSnapshotChunk {
  data: Buffer;
}

export interface TransportOptions {
  selfId: NodeId;
  /** The cluster id every peer call must carry; null: unknown yet (learned on first use, see the header). */
  clusterId: string | null;
  /** Called once when a null cluster id is adopted from an inbound handshake (the node stores it). */
  onClusterIdLearned?: (clusterId: string) => void;
  /** This node's client-facing address (its advertise address), sent in every handshake. */
  clientAddress: string;
  /** Peer mutual TLS: dial with it and require inbound certificates naming the handshake's node. */
  tls?: PeerTlsMaterial | null;
  outboxMessagesMax: number;
  batchMessagesMax?: number;
  batchBytesMax?: number;
  backoff?: BackoffConfig;
  /** Longest time one snapshot transfer may take before it is abandoned. */
  snapshotTimeoutMs?: number;
  /** Longest time a snapshot transfer may wait for the receiver to take more data ('drain') before it is abandoned. */
  snapshotStallMs?: number;
  random: Random;
  logger: Logger;
  metrics: NodeMetrics | null;
}

/** Distinct (sender, reason) pairs logged; beyond it refusals are still counted, no longer logged. */
const LOGGED_REJECTIONS_MAX = 4096;
/** A (sender, reason) pair is logged at most once per this long. */
const REJECTION_LOG_INTERVAL_MS = 60_000;

/** What the door reads of an inbound call (every Raft call has it). */
type PeerCall = Pick<grpc.ServerDuplexStream<unknown, unknown>, 'metadata' | 'getPeer' | 'getAuthContext'>;

/** An inbound call whose single request names its sender and receiver (repair, meta forward). */
type AddressedCall = PeerCall & Pick<grpc.ServerUnaryCall<unknown, unknown>, 'sendMetadata'>;

type Authenticated =
  { ok: true; handshake: Handshake } | { ok: false; code: grpc.status; detail: string; trailers?: grpc.Metadata };

export class Transport {
  private readonly opts: Required<Omit<TransportOptions, 'metrics' | 'onClusterIdLearned' | 'tls'>> & {
    metrics: NodeMetrics | null;
    tls: PeerTlsMaterial | null;
    onClusterIdLearned: ((clusterId: string) => void) | null;
  };
  private clusterIdValue: string | null;
  /** When each (sender, reason) was last logged (performance.now() ms). */
  private readonly loggedRejections = new Map<string, number>();
  private readonly links = new Map<NodeId, PeerLink>();
  private handler: TransportHandler | null = null;
  private flushScheduled = false;
  private closed = false;
  private readonly incoming = new Set<grpc.ServerDuplexStream<MessageBatchWire, MessageBatchWire>>();
  /** Ends each outgoing snapshot send and meta forward in flight (close() calls them). */
  private readonly callAborts = new Set<(why: string) => void>();
  private readonly forwardSlots = new PeerCallSlots(FORWARD_META_CONCURRENT_MAX);
  /** Serves Raft.Placement (src/placement); null: such calls are refused. */
  private placementHandler: PlacementHandler | null = null;
  private readonly placementSlots = new PeerCallSlots(PLACEMENT_CONCURRENT_MAX);
  /** Applied to every accepted batch's messages before the handler sees them (a draining node's, node/leader-drain.ts). */
  private inboundFilter: ((messages: Buffer[]) => Buffer[]) | null = null;

  constructor(options: TransportOptions) {
    this.opts = {
      batchMessagesMax: 1024,
      batchBytesMax: 16 * 1024 * 1024,
      backoff: { initialMs: 50, maxMs: 1000 },
      snapshotTimeoutMs: 10 * 60_000,
      snapshotStallMs: 60_000,
      ...options,
      tls: options.tls ?? null,
      onClusterIdLearned: options.onClusterIdLearned ?? null,
    };
    this.clusterIdValue = options.clusterId;
  }

  get selfId(): NodeId {
    return this.opts.selfId;
  }

  /** The cluster id peers must present (null until learned on a joining node). */
  get clusterId(): string | null {
    return this.clusterIdValue;
  }

  setHandler(handler: TransportHandler): void {
    this.handler = handler;
  }

  /** What serves Raft.Placement calls (placement-rpc.ts); the calls' authentication stays the transport's. */
  setPlacementHandler(handler: PlacementHandler | null): void {
    this.placementHandler = handler;
  }

  /**
   * A filter over the messages of every authenticated batch, applied before the handler sees them; null
   * removes it. A draining node drops TimeoutNow with it (node/leader-drain.ts refusesLeadership).
   */
  setInboundFilter(filter: ((messages: Buffer[]) => Buffer[]) | null): void {
    this.inboundFilter = filter;
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
        handshake: () => this.outgoingHandshake(id),
        verifyAnswer: (request, answer) => this.answerProves(request, answer, id),
        credentials: (peer) => peerChannelCredentials(this.opts.tls, peer),
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
    for (const [id, l] of this.links)
      out.set(id, { connected: l.connected, queued: l.queued, dropped: l.dropped, sent: l.sent });
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
   * Resolves when the receiver accepted it; rejects with UNAVAILABLE otherwise. Always settles: every wait
   * (the receiver's answer, 'drain', the final ack) races against the call's end (a refusal, a receiver
   * that died, transport close) and a timer of snapshotTimeoutMs that cancels the call. Nothing is left
   * unhandled. The caller owns `chunks`: it is iterated at most once; the loop closes it when it stops
   * early, but a send that fails before the first chunk never starts it (close it yourself).
   */
  async sendSnapshot(to: NodeId, groupId: GroupId, header: Buffer, chunks: AsyncIterable<Buffer>): Promise<void> {
    const client = this.links.get(to)?.currentClient();
    if (!client) throw new TesseraError('UNAVAILABLE', `no connection to peer ${to} for a snapshot`);
    const metadata = this.outgoingHandshake(to);
    if (metadata === null)
      throw new TesseraError('UNAVAILABLE', `no cluster id yet; cannot send a snapshot to peer ${to}`);
    if (this.closed) throw new TesseraError('UNAVAILABLE', 'transport closed');
    const stub = (client as unknown as { installSnapshot: ConstructorParameters<typeof SnapshotSendCall>[0] })
      .installSnapshot;
    const call = new SnapshotSendCall(stub.bind(client), metadata, {
      selfId: this.opts.selfId,
      to,
      groupId,
      timeoutMs: this.opts.snapshotTimeoutMs,
      stallMs: this.opts.snapshotStallMs,
      answerProves: (answer) => this.answerProves(metadata, answer, to),
      closed: () => this.closed,
    });
    this.callAborts.add(call.abort);
    try {
      await call.run(header, counted(chunks, this.opts.metrics?.snapshotBytesSent.labels({ kind: 'install' })));
    } finally {
      this.callAborts.delete(call.abort);
    }
  }

  /**
   * Self-repair: pulls a copy of peer `to`'s state machine of a group (at an applied index >= minIndex), as
   * snapshot chunks; the whole fetch is bounded by snapshotTimeoutMs. Throws UNAVAILABLE on any failure.
   */
  fetchRepairSnapshot(to: NodeId, groupId: GroupId, minIndex: number): AsyncGenerator<Buffer> {
    const client = this.links.get(to)?.currentClient();
    if (!client) throw new TesseraError('UNAVAILABLE', `no connection to peer ${to} for a repair fetch`);
    const metadata = this.outgoingHandshake(to);
    if (metadata === null || this.closed)
      throw new TesseraError('UNAVAILABLE', `cannot ask peer ${to} for a repair copy (no cluster id, or closed)`);
    const stub = (client as unknown as { fetchRepairSnapshot: Parameters<typeof fetchRepairChunks>[0] })
      .fetchRepairSnapshot;
    const chunks = fetchRepairChunks(stub.bind(client), metadata, {
      selfId: this.opts.selfId,
      to,
      groupId,
      minIndex,
      timeoutMs: this.opts.snapshotTimeoutMs,
      answerProves: (answer) => this.answerProves(metadata, answer, to),
    });
    return counted(chunks, this.opts.metrics?.snapshotBytesReceived.labels({ kind: 'repair' }));
  }

  /**
   * Asks peer `to` to apply an encoded meta command; resolves with its encoded result. Rejects with the
   * peer node's own error (code and leader details intact: NOT_LEADER names the leader to retry at),
   * INVALID_ARGUMENT for a command the peer would refuse (not sent), DEADLINE_EXCEEDED after `timeoutMs`, or
   * UNAVAILABLE (no connection, the peer refused the call at its door or did not prove the cluster id, the
   * connection was lost, the transport closed). The outcome of a call that did not answer is unknown.
   */
  async forwardMeta(to: NodeId, command: Buffer, timeoutMs: number): Promise<Buffer> {
    const fault = forwardCommandFault(command);
    if (fault !== null) throw fault;
    const call = this.unaryPeerCall(to, 'forwardMeta', 'a meta forward', timeoutMs);
    return forwardMetaCall(call.stub as Parameters<typeof forwardMetaCall>[0], call.metadata, command, call.ctx);
  }

  /**
   * Sends one encoded placement request to peer `to` (placement-rpc.ts); resolves with its encoded answer.
   * Rejects like forwardMeta: the peer's own error, INVALID_ARGUMENT (not sent), DEADLINE_EXCEEDED or UNAVAILABLE.
   */
  async placement(to: NodeId, body: Buffer, timeoutMs: number): Promise<Buffer> {
    const fault = placementBodyFault(body);
    if (fault !== null) throw fault;
    const call = this.unaryPeerCall(to, 'placement', 'a placement call', timeoutMs);
    return placementCall(call.stub as Parameters<typeof placementCall>[0], call.metadata, body, call.ctx);
  }

  /**
   * What a unary peer call (ForwardMeta, Placement) needs: the method bound to the link's current client,
   * the handshake metadata, and the call context (deadline, answer check, abort tracking). INVALID_ARGUMENT
   * for a bad timeout; UNAVAILABLE without a connection or a cluster id, or once closed.
   */
  private unaryPeerCall(to: NodeId, method: 'forwardMeta' | 'placement', what: string, timeoutMs: number) {
    if (!(timeoutMs > 0 && Number.isFinite(timeoutMs)))
      throw new TesseraError('INVALID_ARGUMENT', `${what} needs a positive timeout, not ${timeoutMs}`);
    const client = this.links.get(to)?.currentClient();
    const metadata = client ? this.outgoingHandshake(to) : null;
    if (!client || metadata === null || this.closed)
      throw new TesseraError('UNAVAILABLE', `cannot reach peer ${to} for ${what} (no connection or cluster id)`);
    const stub = (client as unknown as Record<typeof method, (...args: unknown[]) => unknown>)[method].bind(client);
    const ctx = {
      selfId: this.opts.selfId,
      to,
      timeoutMs,
      answerProves: (answer: grpc.Metadata) => this.answerProves(metadata, answer, to),
      track: (cancel: () => void) => {
        this.callAborts.add(cancel);
        return () => this.callAborts.delete(cancel);
      },
    };
    return { stub, metadata, ctx };
  }

  /** Add the Raft peer service to a gRPC server (the node's single server). */
  registerOn(server: grpc.Server): void {
    server.addService(loadRaftProto().service, {
      stream: (call: grpc.ServerDuplexStream<MessageBatchWire, MessageBatchWire>) => this.acceptStream(call),
      installSnapshot: (
        call: grpc.ServerReadableStream<SnapshotChunkWire, SnapshotAckWire>,
        cb: grpc.sendUnaryData<SnapshotAckWire>,
      ) => this.acceptSnapshot(call, cb),
      fetchRepairSnapshot: (call: RepairServeCall) => this.serveRepair(call),
      forwardMeta: (call: ForwardServeCall, reply: ForwardReply) => this.serveForwardMeta(call, reply),
      placement: (call: PlacementServeCall, reply: PlacementReply) => this.servePlacement(call, reply),
    });
  }

  close(): void {
    this.closed = true;
    for (const link of this.links.values()) link.close();
    this.links.clear();
    for (const call of this.incoming) call.end();
    this.incoming.clear();
    for (const abort of [...this.callAborts]) abort('transport closed');
  }

  private acceptStream(call: grpc.ServerDuplexStream<MessageBatchWire, MessageBatchWire>): void {
    if (this.closed || this.handler === null) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'node not ready' });
      return;
    }
    const auth = this.authenticate(call);
    if (!auth.ok) {
      call.emit('error', { code: auth.code, details: auth.detail });
      return;
    }
    const peer = auth.handshake.nodeId;
    this.incoming.add(call);
    call.sendMetadata(answerMetadata(this.clusterIdValue as string, this.opts.selfId, auth.handshake));
    call.on('data', (batch: MessageBatchWire) => {
      if (batch.from !== peer) {
        this.reject('spoofed_from', String(peer), { claimedFrom: batch.from });
        return;
      }
      if (batch.to !== this.opts.selfId) {
        this.reject('wrong_to', String(peer), { to: batch.to });
        return;
      }
      if (!messageVersionOk(batch.protocolVersion, auth.handshake)) {
        this.reject('bad_protocol', String(peer), {}, versionDetail(batch.protocolVersion, auth.handshake));
        return;
      }
      this.opts.metrics?.peerMessagesReceived.inc(batch.messages.length);
      this.opts.metrics?.peerBatchesReceived.inc();
      const messages = this.inboundFilter === null ? batch.messages : this.inboundFilter(batch.messages);
      if (messages.length > 0) this.handler?.onMessages(peer, messages);
    });
    const done = () => {
      if (!this.incoming.delete(call)) return;
      call.end();
    };
    call.on('end', done);
    call.on('error', done);
    call.on('cancelled', done);
  }

  private acceptSnapshot(
    call: grpc.ServerReadableStream<SnapshotChunkWire, SnapshotAckWire>,
    cb: grpc.sendUnaryData<SnapshotAckWire>,
  ): void {
    const handler = this.handler;
    if (this.closed || handler === null) {
      cb(null, { accepted: false, error: 'node not ready' });
      return;
    }
    const auth = this.authenticate(call);
    if (!auth.ok) {
      cb({ code: auth.code, details: auth.detail });
      return;
    }
    const peer = auth.handshake.nodeId;
    const selfId = this.opts.selfId;
    call.sendMetadata(answerMetadata(this.clusterIdValue as string, selfId, auth.handshake));
    // A chunk from or to another node than the handshake says: counted, and the transfer is refused.
    const checkChunk = (chunk: SnapshotChunkWire): void => {
      if (chunk.from !== peer) {
        this.reject('spoofed_from', String(peer), { claimedFrom: chunk.from, call: 'snapshot' });
        throw new Error(`snapshot chunk from node ${chunk.from} on node ${peer}'s call`);
      }
      if (chunk.to !== selfId) {
        this.reject('wrong_to', String(peer), { to: chunk.to, call: 'snapshot' });
        throw new Error(`snapshot addressed to node ${chunk.to}, this is ${selfId}`);
      }
      if (!messageVersionOk(chunk.protocolVersion, auth.handshake)) {
        const detail = versionDetail(chunk.protocolVersion, auth.handshake);
        this.reject('bad_protocol', String(peer), { call: 'snapshot' }, detail);
        throw new Error(detail);
      }
    };
    const iterator = call[Symbol.asyncIterator]() as AsyncIterator<SnapshotChunkWire>;
    const run = async (): Promise<void> => {
      const firstResult = await iterator.next();
      if (firstResult.done) throw new Error('empty snapshot stream');
      const first = firstResult.value;
      checkChunk(first);
      if (first.header.length === 0) throw new Error('first snapshot chunk has no header');
      let sawLast = first.last;
      async function* chunks(): AsyncGenerator<Buffer> {
        yield first.data;
        while (!sawLast) {
          const r = await iterator.next();
          if (r.done) throw new Error('snapshot stream ended before its last chunk');
          checkChunk(r.value);
          sawLast = r.value.last;
          yield r.value.data;
        }
      }
      const received = this.opts.metrics?.snapshotBytesReceived.labels({ kind: 'install' });
      const incoming = {
        from: peer,
        groupId: first.groupId,
        header: first.header,
        chunks: counted(chunks(), received),
      };
      await handler.onSnapshot(incoming);
      if (!sawLast) throw new Error('snapshot handler returned before the last chunk');
    };
    run().then(
      () => {
        this.opts.metrics?.snapshotsReceived.inc({ outcome: 'accepted' });
        cb(null, { accepted: true, error: '' });
      },
      (e: unknown) => {
        this.opts.metrics?.snapshotsReceived.inc({ outcome: 'refused' });
        this.opts.logger.warn({ from: peer, err: (e as Error).message }, 'snapshot refused');
        cb(null, { accepted: false, error: (e as Error).message });
      },
    );
  }

  /** Raft.FetchRepairSnapshot: the door, the request's from/to, the node's consent, then the chunks. */
  private serveRepair(call: RepairServeCall): void {
    const handler = this.handler;
    const refuse = (code: grpc.status, details: string): void => {
      call.emit('error', { code, details });
    };
    if (this.closed || handler === null || handler.onRepairRequest === undefined) {
      refuse(grpc.status.UNAVAILABLE, 'node not ready');
      return;
    }
    const req = call.request;
    const peer = this.admit(call, req, 'repair', refuse);
    if (peer === null) return;
    const serve = async (): Promise<void> => {
      const source = await handler.onRepairRequest!(peer, req.groupId, req.minIndex);
      const ctx = { selfId: this.opts.selfId, peer, groupId: req.groupId, stallMs: this.opts.snapshotStallMs };
      const sent = this.opts.metrics?.snapshotBytesSent.labels({ kind: 'repair' });
      const countedSource = { [Symbol.asyncIterator]: () => counted(source, sent), close: () => source.close() };
      await serveRepairChunks(call, countedSource, ctx);
    };
    serve().then(
      () => this.opts.logger.info({ to: peer, group: req.groupId }, 'repair copy sent'),
      (e: unknown) => {
        this.opts.logger.warn({ to: peer, group: req.groupId, err: (e as Error).message }, 'repair copy not sent');
        refuse(grpc.status.UNAVAILABLE, (e as Error).message);
      },
    );
  }

  /** Raft.ForwardMeta: the door, the request's from/to, then meta-forward.ts (size, slots, the node). */
  private serveForwardMeta(call: ForwardServeCall, reply: ForwardReply): void {
    const handler = this.handler;
    const refuse = (code: grpc.status, details: string, metadata?: grpc.Metadata): void =>
      reply(metadata === undefined ? { code, details } : { code, details, metadata });
    if (this.closed || handler === null) {
      refuse(grpc.status.UNAVAILABLE, 'node not ready');
      return;
    }
    const peer = this.admit(call, call.request, 'meta forward', refuse);
    if (peer === null) return;
    const ctx = { peer, handler: handler.onForwardMeta.bind(handler), slots: this.forwardSlots };
    void answerForwardMeta(call, reply, ctx);
  }

  /** Raft.Placement: the door, the request's from/to, then placement-rpc.ts (size, slots, the handler). */
  private servePlacement(call: PlacementServeCall, reply: PlacementReply): void {
    const handler = this.placementHandler;
    const refuse = (code: grpc.status, details: string): void => reply({ code, details });
    if (this.closed || this.handler === null || handler === null) {
      refuse(grpc.status.UNAVAILABLE, 'node not ready for placement calls');
      return;
    }
    const peer = this.admit(call, call.request, 'placement', refuse);
    if (peer === null) return;
    void answerPlacement(call, reply, { peer, handler, slots: this.placementSlots });
  }

  /**
   * The door of a call whose request names its sender and receiver: the handshake, then the request's
   * from/to against it. Answers with our proof and returns the peer, or refuses the call and returns null.
   */
  private admit(
    call: AddressedCall,
    req: { from: number; to: number; protocolVersion?: number },
    label: string,
    refuse: (code: grpc.status, details: string, trailers?: grpc.Metadata) => void,
  ): NodeId | null {
    const auth = this.authenticate(call);
    if (!auth.ok) {
      refuse(auth.code, auth.detail, auth.trailers);
      return null;
    }
    const peer = auth.handshake.nodeId;
    if (req.from !== peer || req.to !== this.opts.selfId) {
      this.reject(req.from !== peer ? 'spoofed_from' : 'wrong_to', String(peer), { call: label });
      refuse(grpc.status.PERMISSION_DENIED, `${label} request from ${req.from} to ${req.to} on node ${peer}'s call`);
      return null;
    }
    if (!messageVersionOk(req.protocolVersion, auth.handshake)) {
      const detail = versionDetail(req.protocolVersion, auth.handshake);
      this.reject('bad_protocol', String(peer), { call: label }, detail);
      refuse(grpc.status.UNAUTHENTICATED, detail);
      return null;
    }
    call.sendMetadata(answerMetadata(this.clusterIdValue as string, this.opts.selfId, auth.handshake));
    return peer;
  }

  /** Whether `answer` (response headers) proves that peer `to` holds our cluster id for the call we opened with `request`. */
  private answerProves(request: grpc.Metadata, answer: grpc.Metadata, to: NodeId): boolean {
    const clusterId = this.clusterIdValue;
    if (clusterId !== null && verifyAnswer(clusterId, request, answer, this.opts.selfId, to)) return true;
    this.reject('bad_answer', `${to}@${this.links.get(to)?.address ?? '?'}`);
    return false;
  }

  /**
   * Our handshake for a new outgoing call to `to`; null while the cluster id is unknown. The cluster id
   * itself rides along only with peer TLS (the channel checks that the server's certificate names `to`).
   */
  private outgoingHandshake(to: NodeId): grpc.Metadata | null {
    const clusterId = this.clusterIdValue;
    if (clusterId === null) return null;
    return handshakeMetadata({
      clusterId,
      nodeId: this.opts.selfId,
      to,
      clientAddress: this.opts.clientAddress,
      revealClusterId: this.opts.tls !== null,
    });
  }

  /**
   * The door: checks an inbound call's handshake (and, with peer TLS, its certificate) before anything
   * of it reaches the handler. Adopts the cluster id on first use when ours is unknown.
   */
  private authenticate(call: PeerCall): Authenticated {
    const remote = remoteHost(call);
    const read = readHandshake(call.metadata, this.opts.selfId);
    if (!read.ok) {
      this.reject(read.reason, read.claimedNode !== null ? `${read.claimedNode}@${remote}` : remote, {}, read.detail);
      return { ok: false, code: read.code, detail: read.detail };
    }
    const h = read.handshake;
    const sender = `${h.nodeId}@${remote}`;
    if (this.opts.tls !== null) {
      const cert = call.getAuthContext()?.sslPeerCertificate;
      if (!cert || Object.keys(cert).length === 0) {
        this.reject('no_certificate', sender);
        return { ok: false, code: grpc.status.UNAUTHENTICATED, detail: 'peer calls need a client certificate' };
      }
      if (!certificateNamesNode(cert, h.nodeId)) {
        this.reject('certificate_mismatch', sender, { subject: cert.subject?.CN });
        return {
          ok: false,
          code: grpc.status.PERMISSION_DENIED,
          detail: `the client certificate does not name node-${h.nodeId}`,
        };
      }
    }
    if (h.to !== this.opts.selfId) {
      this.reject('wrong_to', sender, { to: h.to });
      return {
        ok: false,
        code: grpc.status.PERMISSION_DENIED,
        detail: `the handshake is meant for node ${h.to}, this is node ${this.opts.selfId}`,
      };
    }
    const ours = this.clusterIdValue;
    if (h.ask) return this.answerClusterAsk(ours, sender);
    if (ours === null) {
      // Trust on first use, only with peer TLS: the certificate above names the sender, the CA vouches for it.
      if (this.opts.tls === null || h.clusterId === null || !verifyProof(h, h.clusterId)) {
        this.reject('no_cluster_id', sender);
        return {
          ok: false,
          code: grpc.status.UNAVAILABLE,
          detail:
            "this node does not know its cluster id yet: start it with the cluster's --cluster-token, or use peer mutual TLS",
        };
      }
      this.adoptClusterId(h.clusterId, sender);
    } else if (!verifyProof(h, ours) || (h.clusterId !== null && !clusterIdsEqual(ours, h.clusterId))) {
      this.reject('cluster_mismatch', sender);
      return { ok: false, code: grpc.status.PERMISSION_DENIED, detail: "the peer does not prove this cluster's id" };
    }
    this.handler?.onPeerClientAddress?.(h.nodeId, h.clientAddress);
    return { ok: true, handshake: h };
  }

  /**
   * A sender that asks for the cluster id (cluster-ask.ts): always refused; with peer TLS (its certificate
   * was checked above to name it) and a known id, the refusal's trailers carry the id.
   */
  private answerClusterAsk(ours: string | null, sender: string): Authenticated {
    if (this.opts.tls === null) {
      this.reject('cluster_ask_without_tls', sender);
      return {
        ok: false,
        code: grpc.status.UNAUTHENTICATED,
        detail: 'the cluster id is told only over peer mutual TLS: start the node with the cluster --cluster-token',
      };
    }
    if (ours === null) {
      return { ok: false, code: grpc.status.UNAVAILABLE, detail: 'this node does not know its cluster id yet' };
    }
    this.opts.logger.info({ from: sender }, 'told a certified peer that asked the cluster id');
    return {
      ok: false,
      code: CLUSTER_ASK_STATUS,
      detail: 'asked for the cluster id: told in the trailers of a ForwardMeta refusal',
      trailers: clusterAskTrailers(ours),
    };
  }

  /**
   * Learns the cluster id by asking peer `to` (cluster-ask.ts; peer TLS only) and adopts it; the id itself
   * when known already. Rejects UNAVAILABLE (no TLS, unknown peer, the peer did not tell it, or closed).
   */
  async askClusterId(to: NodeId, timeoutMs: number): Promise<string> {
    if (this.clusterIdValue !== null) return this.clusterIdValue;
    const tls = this.opts.tls;
    const address = this.links.get(to)?.address;
    if (tls === null || address === undefined || this.closed)
      throw new TesseraError(
        'UNAVAILABLE',
        tls === null ? 'the cluster id can be asked for only with peer mutual TLS' : `no address of peer ${to}`,
      );
    const clusterId = await askClusterId({
      selfId: this.opts.selfId,
      to,
      address,
      clientAddress: this.opts.clientAddress,
      tls,
      timeoutMs,
    });
    if (this.clusterIdValue === null) this.adoptClusterId(clusterId, `${to}@${address} (asked)`);
    return this.clusterIdValue ?? clusterId;
  }

  private adoptClusterId(clusterId: string, sender: string): void {
    this.clusterIdValue = clusterId;
    this.opts.logger.info(
      { from: sender, clusterId: redactClusterId(clusterId) },
      'adopted the cluster id of the first peer that reached this node',
    );
    this.opts.onClusterIdLearned?.(clusterId);
    for (const link of this.links.values()) link.wake();
  }

  /**
   * Counts a refused call or dropped batch and logs it at most once a minute per (sender, reason); `detail`
   * says why in the log line (a protocol refusal names both version ranges).
   */
  private reject(reason: PeerRejectReason, sender: string, extra: Record<string, unknown> = {}, detail = ''): void {
    this.opts.metrics?.peerRejected.inc({ reason });
    const key = `${sender}\0${reason}`;
    const now = performance.now();
    const last = this.loggedRejections.get(key);
    if (last !== undefined && now - last < REJECTION_LOG_INTERVAL_MS) return;
    if (last === undefined && this.loggedRejections.size >= LOGGED_REJECTIONS_MAX) return;
    this.loggedRejections.set(key, now);
    const what =
      reason === 'bad_protocol'
        ? `refused peer ${sender}: ${detail || 'unsupported peer protocol'}; upgrade or roll back one of the two nodes`
        : 'refused a peer call or message';
    this.opts.logger.warn({ sender, reason, ...extra }, `${what} (logged at most once a minute per sender and reason)`);
  }
}

/** Why a message's protocol stamp was refused, for the log line and the status. */
function versionDetail(version: number | undefined, h: Handshake): string {
  return `a message written in peer protocol ${version} on a call that announced ${h.protocol} and speaks ${h.negotiated} (this node speaks ${supportedProtocols()})`;
}

/** The remote host of a call ("ipv4:1.2.3.4:5678" -> "1.2.3.4"); the port changes per connection. */
function remoteHost(call: PeerCall): string {
  const peer = call.getPeer();
  const text = peer.replace(/^(ipv4|ipv6|unix):/, '');
  const m = /^(.*):\d+$/.exec(text);
  return (m ? m[1] : text) as string;
}

/** `chunks`, adding each chunk's bytes to `counter` (if any) as the consumer takes it; closed with it. */
async function* counted(
  chunks: AsyncIterable<Buffer>,
  counter: { inc(bytes: number): void } | undefined,
): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) {
    counter?.inc(chunk.length);
    yield chunk;
  }
}
