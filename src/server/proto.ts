/**
 * Loads the public services (proto/kv.proto, proto/admin.proto, proto/auth.proto) for the server side, with the same loader
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
  Auth: grpc.ServiceDefinition;
}

let cached: PublicServices | null = null;

export function loadPublicServices(): PublicServices {
  if (cached) return cached;
  const dir = findProtoDir();
  const files = ['kv.proto', 'admin.proto', 'auth.proto'].map((f) => join(dir, f));
  const pd = protoLoader.loadSync(files, { ...protoLoaderOptions, includeDirs: [dir] });
  type Ctor = grpc.ServiceClientConstructor;
  const loaded = grpc.loadPackageDefinition(pd) as unknown as {
    tessera: { v1: { KV: Ctor; Admin: Ctor; Auth: Ctor } };
  };
  const v1 = loaded.tessera.v1;
  cached = { KV: v1.KV.service, Admin: v1.Admin.service, Auth: v1.Auth.service };
  return cached;
}
