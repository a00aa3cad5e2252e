/** The package's main entry: the client SDK (and its types), plus the typed error it throws. */
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
  Consistency,
  EndpointStatus,
  GetOptions,
  GroupStatus,
  KeyValue,
  Member,
  NodeStatus,
  ScanOptions,
  ScanPage,
} from './client';
export { TesseraError, isTesseraError } from './base';
export type { ErrorCode, ErrorDetails } from './base';
