/**
 * gRPC method definitions on raw bytes (no protobuf) for server tests that need a real grpc-js server
 * with any method path: the handlers see and send Buffers as they are.
 */
import type * as grpc from '@grpc/grpc-js';

const identity = (b: Buffer): Buffer => b;

/** A method at `path` whose messages are the bytes themselves (unary unless streams are asked for). */
export function rawMethod(path: string, streams: 'unary' | 'bidi' = 'unary'): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream: streams === 'bidi',
    responseStream: streams === 'bidi',
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}
