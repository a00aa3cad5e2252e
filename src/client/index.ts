/** L4 client: the Tessera SDK (public API). Imports base only; never node/ or server/. */
export { Client } from './client';
export { checkTlsOptions } from './tls';
export { loadServices, findProtoDir, protoLoaderOptions } from './proto';
export type { TesseraServices } from './proto';
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
  NodeStatus,
  ScanOptions,
  ScanPage,
  ShardInfo,
  NodeInfo,
  SplitResult,
} from './types';
