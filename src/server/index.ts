/**
 * L4 server: the node's gRPC services (KV and Admin, public; Raft, peer-to-peer, from transport/) with
 * request validation and the error -> status + trailer mapping, and the assembly of one running node.
 */
export { startTesseraNode } from './tessera-node';
export type { TesseraNode, TesseraNodeOptions } from './tessera-node';
export { toGrpcStatus } from './errors';
export type { GrpcErrorStatus } from './errors';
export { TESSERA_VERSION } from './admin-service';
