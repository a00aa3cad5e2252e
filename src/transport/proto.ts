/**
 * Loads proto/raft.proto (the internal peer service) once per process with @grpc/proto-loader.
 * Loader options match the SDK's (src/client/proto.ts): camelCase fields (keepCase: false), uint64 as JS
 * numbers, bytes as Buffers, defaults filled in, enums as numbers. The proto folder is found by walking up
 * from this module, so it works from src/ (vitest, tsx) and from dist/src/ (the build).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { TesseraError } from '../base';

export const protoLoaderOptions: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: Number,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
};

/** The directory holding the .proto files. */
export function findProtoDir(startDir: string = __dirname): string {
  let dir = startDir;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'raft.proto'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new TesseraError('CONFIG', `cannot find proto/raft.proto above ${startDir}; the package is incomplete`);
}

export interface RaftProto {
  service: grpc.ServiceDefinition;
  Client: grpc.ServiceClientConstructor;
}

let cached: RaftProto | null = null;

export function loadRaftProto(): RaftProto {
  if (cached) return cached;
  const protoDir = findProtoDir();
  const pd = protoLoader.loadSync(join(protoDir, 'raft.proto'), { ...protoLoaderOptions, includeDirs: [protoDir] });
  const loaded = grpc.loadPackageDefinition(pd) as unknown as {
    tessera: { v1: { Raft: grpc.ServiceClientConstructor } };
  };
  cached = { service: loaded.tessera.v1.Raft.service, Client: loaded.tessera.v1.Raft };
  return cached;
}

/** The wire shapes of raft.proto (after the loader options above). */
export interface MessageBatchWire {
  from: number;
  to: number;
  messages: Buffer[];
  /** The peer protocol the batch is written in (handshake.ts); 0 or absent: not stamped (an older node). */
  protocolVersion?: number;
}

export interface SnapshotChunkWire {
  from: number;
  to: number;
  groupId: number;
  header: Buffer;
  data: Buffer;
  last: boolean;
  /** The peer protocol the chunk is written in (handshake.ts); 0 or absent: not stamped (an older node). */
  protocolVersion?: number;
}

export interface SnapshotAckWire {
  accepted: boolean;
  error: string;
}

/** Channel options for peer links: fast reconnects, keepalive to notice paused or dead peers. */
export const peerChannelOptions: grpc.ChannelOptions = {
  'grpc.use_local_subchannel_pool': 1,
  'grpc.initial_reconnect_backoff_ms': 50,
  'grpc.min_reconnect_backoff_ms': 50,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.keepalive_time_ms': 2000,
  'grpc.keepalive_timeout_ms': 2000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
};

/** Server options every Tessera gRPC server uses (peer batches and snapshot chunks can be large). */
export const serverOptions: grpc.ServerOptions = {
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
};
