/**
 * L2 transport: peer links over gRPC streams (proto/raft.proto) carrying opaque encoded messages for all
 * groups: one outgoing Raft.Stream per peer, bounded outboxes, reconnect with jittered backoff,
 * unreachable reports, chunked snapshot streaming.
 */
export { Transport } from './transport';
export type { IncomingSnapshot, OutgoingSnapshotChunk, TransportHandler, TransportOptions } from './transport';
export type { BackoffConfig } from './peer-link';
export { findProtoDir, peerChannelOptions, protoLoaderOptions, serverOptions } from './proto';
