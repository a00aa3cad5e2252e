/**
 * The abusers' gRPC wire: raw calls with hand-encoded KV messages (protobufjs over proto/, as the
 * hostile suite's wire.ts) on channels of their own, each its own HTTP/2 connection, so a pattern
 * looks like many clients rather than many calls on the harness's one connection.
 */
import * as grpc from '@grpc/grpc-js';
import { encode } from '../hostile/wire';

const identity = (b: Buffer): Buffer => b;

export function ownChannel(address: string): grpc.Client {
  return new grpc.Client(address, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
  });
}

/** gRPC status name of a code (8 -> RESOURCE_EXHAUSTED). */
export const statusName = (code: number): string => grpc.status[code] ?? `STATUS_${code}`;

/** A unary call with raw bytes; resolves to the status code (0 = OK) and the response size. */
export function rawUnary(
  client: grpc.Client,
  path: string,
  request: Buffer,
  deadlineMs: number,
): Promise<{ code: number; bytes: number }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      identity,
      identity,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (err, res) => resolve(err ? { code: err.code, bytes: 0 } : { code: 0, bytes: res?.length ?? 0 }),
    );
  });
}

export function bidi(client: grpc.Client, path: string, deadlineMs: number): grpc.ClientDuplexStream<Buffer, Buffer> {
  return client.makeBidiStreamRequest(path, identity, identity, new grpc.Metadata(), {
    deadline: Date.now() + deadlineMs,
  });
}

export type PipelineOpSpec = { id: number; put: { key: string; value: Buffer } } | { id: number; get: { key: string } };

/** One PipelineRequest with the given ops (time budget 0: the node's request timeout). */
export function pipelineRequest(ops: readonly PipelineOpSpec[]): Buffer {
  return encode('PipelineRequest', {
    ops: ops.map((op) =>
      'put' in op
        ? { id: op.id, timeoutMs: 0, put: { key: Buffer.from(op.put.key), value: op.put.value } }
        : { id: op.id, timeoutMs: 0, get: { key: Buffer.from(op.get.key), consistency: 0 } },
    ),
  });
}

/** A gRPC length-prefixed message (uncompressed), for writing on a raw HTTP/2 stream. */
export function grpcFrame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}
