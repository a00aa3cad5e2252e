/**
 * L2 transport: peer links over gRPC streams (proto/raft.proto) carrying opaque encoded messages for all
 * groups: one outgoing Raft.Stream per peer, bounded outboxes, reconnect with jittered backoff,
 * unreachable reports, chunked snapshot streaming; the peer door (handshake, cluster id, peer mutual TLS).
 */
export { Transport } from './transport';
export type { IncomingSnapshot, OutgoingSnapshotChunk, TransportHandler, TransportOptions } from './transport';
export type { BackoffConfig } from './peer-link';
export type { RepairSource } from './repair-fetch';
export {
  ADDRESS_BYTES_MAX,
  HANDSHAKE_HEADERS,
  PEER_PROTOCOL_VERSION,
  certificateNames,
  certificateNamesNode,
  handshakeMetadata,
  handshakeProof,
  isValidAddress,
  isValidClusterId,
  redactClusterId,
} from './handshake';
export type { Handshake, OutgoingHandshake, PeerRejectReason } from './handshake';
export { loadPeerTls, peerChannelCredentials, peerServerCredentials } from './peer-credentials';
export type { PeerTlsFiles, PeerTlsMaterial } from './peer-credentials';
export { startPeerServer } from './peer-server';
export type { PeerServer } from './peer-server';
export { findProtoDir, loadRaftProto, peerChannelOptions, protoLoaderOptions, serverOptions } from './proto';
export type { MessageBatchWire, SnapshotAckWire, SnapshotChunkWire } from './proto';
