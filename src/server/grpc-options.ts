/**
 * grpc-js options of the client listener (--listen), bounded by the memory budget (memory-budget.ts):
 * - grpc-node.max_session_memory: HTTP/2 memory of one connection in MB (sessionMemoryMb); grpc-js's own
 *   default disables the bound, which let one client that never read grow a node to 3 GB. Past it Node
 *   refuses the connection's new streams (ENHANCE_YOUR_CALM);
 * - grpc.max_concurrent_streams: streams per connection (CONCURRENT_STREAMS_MAX; a client opening more
 *   waits for a free one: the HTTP/2 client queues them);
 * - grpc.max_connection_idle_ms: a connection with no call for CONNECTION_IDLE_MS is closed (GOAWAY;
 *   clients reconnect on their next call);
 * - keepalive pings every 10 s, a connection that does not answer within 5 s is closed;
 * - grpc.max_receive_message_length: a client-only listener takes messages up to CLIENT_MESSAGE_BYTES_MAX
 *   (above the largest request the limits allow); while it also serves Raft peers (no --peer-listen) the
 *   peer bound (64 MiB) stays. Responses are bounded by the Scan page and value limits.
 * - interceptors (given by tessera-node.ts): the connection gate's (connection-gate.ts: Raft calls mark
 *   peer connections) and unary KV responses charged to the node budget (response-budget.ts).
 * The listening socket itself, the connection cap and the handshake timeout are connection-gate.ts's.
 * No max_connection_age: long-lived Raft and Pipeline streams would be cut every period.
 */
import type * as grpc from '@grpc/grpc-js';
import type { NodeConfig } from '../config';
import { serverOptions as peerServerOptions } from '../transport';
import type { OverloadBounds } from './memory-budget';

export const CONCURRENT_STREAMS_MAX = 1024;
export const CONNECTION_IDLE_MS = 5 * 60 * 1000;
const MIB = 1024 * 1024;

/** The largest client request message accepted on a client-only listener. */
export function clientMessageBytesMax(config: NodeConfig): number {
  const l = config.limits;
  return Math.max(8 * MIB, l.batchBytesMax + MIB, l.valueBytesMax + l.keyBytesMax + MIB);
}

export function clientServerOptions(
  config: NodeConfig,
  bounds: OverloadBounds,
  interceptors: grpc.ServerInterceptor[] = [],
): grpc.ServerOptions {
  const receiveMax =
    config.peerListen === null
      ? (peerServerOptions['grpc.max_receive_message_length'] as number)
      : clientMessageBytesMax(config);
  return {
    ...peerServerOptions,
    'grpc.max_receive_message_length': receiveMax,
    'grpc-node.max_session_memory': bounds.sessionMemoryMb,
    'grpc.max_concurrent_streams': CONCURRENT_STREAMS_MAX,
    'grpc.max_connection_idle_ms': CONNECTION_IDLE_MS,
    interceptors,
  };
}
