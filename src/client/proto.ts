/**
 * Loads the public gRPC API (proto/kv.proto, proto/admin.proto, proto/auth.proto) once per process with
 * @grpc/proto-loader. The proto folder is found by walking up from this module's directory, so the same
 * code works from src/client (tsx, vitest) and from dist/src/client (the published build).
 * Loader options (fixed, the SDK's types depend on them): camelCase fields, uint64 as JS numbers,
 * bytes as Buffers, defaults filled in, enums as numbers.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { TesseraError } from '../base';

export type ServiceClientCtor = grpc.ServiceClientConstructor;

export interface TesseraServices {
  KV: ServiceClientCtor;
  Admin: ServiceClientCtor;
  /** Auth.Login (proto/auth.proto): a bearer token for a cluster with access control. */
  Auth: ServiceClientCtor;
  /** The loaded package definition (also used by test fakes to implement the services). */
  packageDefinition: protoLoader.PackageDefinition;
}

export const protoLoaderOptions: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: Number,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
};

let cached: TesseraServices | null = null;

/** The directory holding kv.proto and admin.proto. */
export function findProtoDir(startDir: string = __dirname): string {
  let dir = startDir;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'kv.proto')) && existsSync(join(candidate, 'admin.proto'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new TesseraError('CONFIG', `cannot find proto/kv.proto above ${startDir}; the package is incomplete`);
}

export function loadServices(): TesseraServices {
  if (cached) return cached;
  const protoDir = findProtoDir();
  const files = ['kv.proto', 'admin.proto', 'auth.proto'].map((f) => join(protoDir, f));
  const packageDefinition = protoLoader.loadSync(files, { ...protoLoaderOptions, includeDirs: [protoDir] });
  const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as {
    tessera: { v1: { KV: ServiceClientCtor; Admin: ServiceClientCtor; Auth: ServiceClientCtor } };
  };
  const v1 = loaded.tessera.v1;
  cached = { KV: v1.KV, Admin: v1.Admin, Auth: v1.Auth, packageDefinition };
  return cached;
}
