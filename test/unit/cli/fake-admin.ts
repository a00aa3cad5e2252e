/**
 * A fake Admin service for CLI tests: N real gRPC servers on 127.0.0.1 (port 0) answering Status,
 * ListShards, SplitShard and TransferLeader from scripted per-node state, through the real proto (src/client's
 * loader). SplitShard is answered by `leaderId` only (others: NOT_LEADER with tessera-group and the leader's
 * address, as src/server does) and records the keys it split at; TransferLeader records its requests.
 */
import * as grpc from '@grpc/grpc-js';
import { loadServices } from '../../../src/client';
import type { WireShardInfo } from '../../../src/client/shard-info';

export function wireShard(
  id: number,
  start: string | Buffer,
  end: string | Buffer,
  more: Partial<WireShardInfo> = {},
): WireShardInfo {
  return {
    id,
    start: Buffer.from(start),
    end: Buffer.from(end),
    epoch: 1,
    replicas: [1, 2, 3].map((r) => ({ id: r, voter: true })),
    leader: 1,
    keys: 0,
    bytes: 0,
    applied: 10,
    ...more,
  };
}

type Callback = (err: Partial<grpc.StatusObject> | null, value?: unknown) => void;

export class FakeAdminNode {
  server: grpc.Server | null = null;
  port = 0;
  /** What ListShards answers (null: UNAVAILABLE). */
  shards: WireShardInfo[] | null = [];
  readonly listRequests: { withStats: boolean }[] = [];
  constructor(
    readonly id: number,
    private readonly cluster: FakeAdmin,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const pkg = grpc.loadPackageDefinition(loadServices().packageDefinition) as any;
    const server = new grpc.Server();
    server.addService(pkg.tessera.v1.Admin.service, {
      Status: (_call: unknown, cb: Callback) => cb(null, this.status()),
      ListShards: (call: { request: { withStats: boolean } }, cb: Callback) => this.list(call.request, cb),
      SplitShard: (call: { request: { key: Buffer } }, cb: Callback) => this.split(call.request.key, cb),
      TransferLeader: (call: { request: { groupId: number; to: number } }, cb: Callback) => {
        this.cluster.transfers.push(call.request);
        cb(null, { leader: call.request.to });
      },
    });
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    this.server = server;
  }

  private status() {
    return {
      nodeId: this.id,
      address: this.address,
      version: 'fake',
      groups: [...(this.shards ?? []), ...this.cluster.meta].map((s) => ({
        groupId: s.id,
        leader: s.leader,
        term: 2,
        role: s.leader === this.id ? 'leader' : 'follower',
        commit: s.applied,
        applied: s.applied,
        members: s.replicas.map((r) => ({ id: r.id, address: this.cluster.addressOf(r.id), voter: r.voter })),
        start: s.start,
        end: s.end,
        kind: this.cluster.meta.includes(s) ? 'meta' : 'data',
      })),
    };
  }

  private list(req: { withStats: boolean }, cb: Callback): void {
    this.listRequests.push(req);
    if (this.shards === null) return cb({ code: grpc.status.UNAVAILABLE, details: 'down' });
    cb(null, { nodeId: this.id, shards: this.shards });
  }

  private split(key: Buffer, cb: Callback): void {
    const c = this.cluster;
    if (c.leaderId !== this.id) {
      const metadata = new grpc.Metadata();
      metadata.set('tessera-reason', 'NOT_LEADER');
      metadata.set('tessera-leader-id', String(c.leaderId));
      metadata.set('tessera-leader-address', c.nodes.find((n) => n.id === c.leaderId)!.address);
      metadata.set('tessera-group', '1');
      return cb({ code: grpc.status.FAILED_PRECONDITION, details: `node ${this.id} is not the leader`, metadata });
    }
    c.splits.push(key);
    cb(null, {
      left: wireShard(1, '', key, { epoch: 2 }),
      right: wireShard(2, key, '', { epoch: 2 }),
    });
  }
}

export class FakeAdmin {
  readonly nodes: FakeAdminNode[] = [];
  readonly splits: Buffer[] = [];
  readonly transfers: { groupId: number; to: number }[] = [];
  /** The meta shard, as Status reports it beside the data shards (none: a node before the meta shard). */
  meta: WireShardInfo[] = [];
  leaderId = 1;

  static async start(n: number): Promise<FakeAdmin> {
    const c = new FakeAdmin();
    for (let i = 1; i <= n; i++) {
      const node = new FakeAdminNode(i, c);
      await node.start();
      c.nodes.push(node);
    }
    return c;
  }

  /** A member's address: the fake node with that id, else a port nothing listens on (port 1). */
  addressOf(id: number): string {
    return this.nodes.find((n) => n.id === id)?.address ?? '127.0.0.1:1';
  }

  endpoints(): string[] {
    return this.nodes.map((n) => n.address);
  }

  stop(): void {
    for (const n of this.nodes) n.server?.forceShutdown();
  }
}
