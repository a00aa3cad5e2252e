/**
 * Loads the public services (proto/kv.proto, proto/admin.proto) for the server side, with the same loader
 * options as the SDK and the peer transport: camelCase fields, uint64 as numbers, bytes as Buffers,
 * defaults filled in, enums as numbers, oneofs as a virtual field naming the set member.
 */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { findProtoDir, protoLoaderOptions } from '../transport';

export interface PublicServices {
  KV: grpc.ServiceDefinition;
  Admin: grpc.ServiceDefinition;
}

let cached: PublicServices | null = null;

export function loadPublicServices(): PublicServices {
  if (cached) return cached;
  const dir = findProtoDir();
  const pd = protoLoader.loadSync([join(dir, 'kv.proto'), join(dir, 'admin.proto')], {
    ...protoLoaderOptions,
    includeDirs: [dir],
  });
  const loaded = grpc.loadPackageDefinition(pd) as unknown as {
    tessera: { v1: { KV: grpc.ServiceClientConstructor; Admin: grpc.ServiceClientConstructor } };
  };
  cached = { KV: loaded.tessera.v1.KV.service, Admin: loaded.tessera.v1.Admin.service };
  return cached;
}
