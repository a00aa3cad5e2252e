/**
 * The harness's operator channel: the public gRPC Admin service (proto/admin.proto) of one node, dialled
 * on the node's real address (never through the fault proxies: the operator is outside the test network).
 * Used to find leaders, transfer leadership and change membership. Every call has a deadline.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { repoRoot } from './repo-root';

/** Admin.Status arrives in the SDK's public shapes (same proto, same loader defaults). */
export type { Member as MemberInfo, GroupStatus as GroupInfo, NodeStatus } from '../../src/client';
import type { Member as MemberInfo, NodeStatus } from '../../src/client';
import type { ReplicaDigest } from '../checker/divergence';

type Callback<T> = (err: grpc.ServiceError | null, res: T) => void;
interface AdminStub extends grpc.Client {
  Status(req: object, opts: grpc.CallOptions, cb: Callback<NodeStatus>): void;
  AddNode(
    req: { id: number; address: string; learner: boolean; groupId: number },
    opts: grpc.CallOptions,
    cb: Callback<{ members: MemberInfo[] }>,
  ): void;
  RemoveNode(
    req: { id: number; groupId: number },
    opts: grpc.CallOptions,
    cb: Callback<{ members: MemberInfo[] }>,
  ): void;
  TransferLeader(req: { groupId: number; to: number }, opts: grpc.CallOptions, cb: Callback<{ leader: number }>): void;
  Digest(req: { groupId: number }, opts: grpc.CallOptions, cb: Callback<ReplicaDigest>): void;
}

let adminCtor: (new (address: string, creds: grpc.ChannelCredentials) => AdminStub) | null = null;

function loadAdmin(): new (address: string, creds: grpc.ChannelCredentials) => AdminStub {
  if (adminCtor) return adminCtor;
  const def = protoLoader.loadSync(join(repoRoot(), 'proto', 'admin.proto'), {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { tessera: { v1: { Admin: typeof adminCtor } } };
  adminCtor = pkg.tessera.v1.Admin;
  if (!adminCtor) throw new Error('proto/admin.proto has no tessera.v1.Admin service');
  return adminCtor;
}

export class AdminClient {
  private readonly stub: AdminStub;

  constructor(readonly address: string) {
    const Ctor = loadAdmin();
    // Short reconnect backoff: nodes restart often under the nemesis and lookups must notice quickly.
    this.stub = new (
      Ctor as unknown as new (a: string, c: grpc.ChannelCredentials, o: grpc.ChannelOptions) => AdminStub
    )(address, grpc.credentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 500,
    });
  }

  private call<T>(fn: (opts: grpc.CallOptions, cb: Callback<T>) => void, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      fn({ deadline: new Date(Date.now() + timeoutMs) }, (err, res) => (err ? reject(err) : resolve(res)));
    });
  }

  status(timeoutMs = 1000): Promise<NodeStatus> {
    return this.call<NodeStatus>((o, cb) => this.stub.Status({}, o, cb), timeoutMs);
  }

  /** groupId 0: the node's first data shard (group 1). */
  addNode(
    id: number,
    address: string,
    learner = false,
    groupId = 0,
    timeoutMs = 5000,
  ): Promise<{ members: MemberInfo[] }> {
    return this.call((o, cb) => this.stub.AddNode({ id, address, learner, groupId }, o, cb), timeoutMs);
  }

  removeNode(id: number, groupId = 0, timeoutMs = 5000): Promise<{ members: MemberInfo[] }> {
    return this.call((o, cb) => this.stub.RemoveNode({ id, groupId }, o, cb), timeoutMs);
  }

  transferLeader(groupId: number, to: number, timeoutMs = 5000): Promise<{ leader: number }> {
    return this.call((o, cb) => this.stub.TransferLeader({ groupId, to }, o, cb), timeoutMs);
  }

  /** This replica's own digest of a group's data (Admin.Digest), never forwarded. */
  digest(groupId: number, timeoutMs = 10_000): Promise<ReplicaDigest> {
    return this.call((o, cb) => this.stub.Digest({ groupId }, o, cb), timeoutMs);
  }

  close(): void {
    this.stub.close();
  }
}
