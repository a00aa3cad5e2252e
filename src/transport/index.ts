/**
 * L2 transport: peer links over gRPC streams (proto/raft.proto) carrying opaque encoded messages for all
 * groups: one outgoing Raft.Stream per peer, bounded outboxes, reconnect with jittered backoff,
 * unreachable reports, chunked snapshot streaming, meta command forwarding, placement calls; the peer door (handshake,
 * cluster id, peer mutual TLS).
 */
export { Transport } from './transport';
export type { IncomingSnapshot, OutgoingSnapshotChunk, TransportHandler, TransportOptions } from './transport';
export type { BackoffConfig } from './peer-link';
export type { RepairSource } from './repair-fetch';
export { GRPC_STATUS_OF_ERROR_CODE } from './peer-error-wire';
export {
  FORWARD_META_COMMAND_BYTES_MAX,
  FORWARD_META_CONCURRENT_MAX,
  FORWARD_META_HANDLER_MS_MAX,
  FORWARD_META_RESULT_BYTES_MAX,
} from './meta-forward';
export {
  PLACEMENT_CONCURRENT_MAX,
  PLACEMENT_HANDLER_MS_MAX,
  PLACEMENT_REQUEST_BYTES_MAX,
  PLACEMENT_RESPONSE_BYTES_MAX,
} from './placement-rpc';
export type { PlacementHandler } from './placement-rpc';
export {
  ADDRESS_BYTES_MAX,
  HANDSHAKE_HEADERS,
  PEER_PROTOCOL_VERSION,
  PEER_PROTOCOL_VERSION_MIN,
  answerProof,
  negotiateProtocol,
  supportedProtocols,
  certificateNames,
  certificateNamesNode,
  askClusterIdMetadata,
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
