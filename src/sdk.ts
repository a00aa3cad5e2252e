/**
 * The public entry of the SDK package `@tessera/client` (packages/client, built by
 * scripts/build-client-package.mjs): the Client, every type of its public API, and the typed error it
 * throws. Invariant: this file imports only src/client and src/base (which import only src/shard, grpc-js
 * and proto-loader), so the package never pulls the server's dependencies (LevelDB, pino, prom-client).
 * The server package's main entry (src/index.ts) re-exports this package, so `TesseraError` and `Client`
 * are one class whichever of the two packages a user imports them from.
 */
export { Client } from './client';
export type {
  BatchCompare,
  BatchOp,
  BatchRequest,
  BatchResult,
  Bytes,
  CallOptions,
  CasResult,
  ClientOptions,
  ClientTlsOptions,
  Consistency,
  EndpointStatus,
  FaultInjection,
  GetOptions,
  GroupStatus,
  KeyValue,
  ListShardsOptions,
  Member,
  NodeInfo,
  NodeStatus,
  ScanOptions,
  ScanPage,
  ShardInfo,
  SplitResult,
} from './client';
export { TesseraError, isTesseraError } from './base';
export type { ErrorCode, ErrorDetails } from './base';
