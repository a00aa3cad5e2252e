/**
 * A fake Admin service for CLI tests: N real gRPC servers on 127.0.0.1 (port 0) answering Status,
 * ListShards, SplitShard, TransferLeader, MoveReplica, SetNodeState and ListNodes from scripted per-node
 * state, through the real proto (src/client's loader). SplitShard and MoveReplica are answered by
 * `leaderId` only, SetNodeState by `metaLeaderId` only (others: NOT_LEADER with tessera-group and the
 * leader's address, as src/server does); each records its requests.
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

  /** What Status gives as the node's peer address ('' as from a node of an older version). */
  peerAddress = '';

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
      MoveReplica: (call: { request: MoveRequest }, cb: Callback) => this.move(call.request, cb),
      SetNodeState: (call: { request: { id: number; state: string } }, cb: Callback) => this.setState(call.request, cb),
      ListNodes: (_call: unknown, cb: Callback) => cb(null, { nodes: this.cluster.registry() }),
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
      peerAddress: this.peerAddress,
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

  /** NOT_LEADER naming `leader` for `group`, as src/server answers it. */
  private notLeader(cb: Callback, leader: number, group: number): void {
    const metadata = new grpc.Metadata();
    metadata.set('tessera-reason', 'NOT_LEADER');
    metadata.set('tessera-leader-id', String(leader));
    metadata.set('tessera-leader-address', this.cluster.addressOf(leader));
    metadata.set('tessera-group', String(group));
    cb({ code: grpc.status.FAILED_PRECONDITION, details: `node ${this.id} is not the leader`, metadata });
  }

  private move(req: MoveRequest, cb: Callback): void {
    const c = this.cluster;
    const { toAddress, toPeerAddress, ...rest } = req;
    c.moveRequests.push({ at: this.id, ...rest, ...(toAddress ? { toAddress, toPeerAddress } : {}) });
    if (c.leaderId !== this.id) return this.notLeader(cb, c.leaderId, req.shardId);
    const ids = req.noWait ? [1, 2, req.from] : [1, 2, req.to];
    cb(null, { members: ids.map((id) => ({ id, address: c.addressOf(id), voter: true, match: 7 })) });
  }

  private setState(req: { id: number; state: string }, cb: Callback): void {
    const c = this.cluster;
    c.stateRequests.push({ at: this.id, ...req });
    if (c.metaLeaderId !== this.id) return this.notLeader(cb, c.metaLeaderId, 2);
    if (req.state === 'removed' && c.refuseRemoval !== null) {
      const metadata = new grpc.Metadata();
      metadata.set('tessera-reason', 'INVALID_ARGUMENT');
      return cb({ code: grpc.status.FAILED_PRECONDITION, details: c.refuseRemoval, metadata });
    }
    c.states.set(req.id, req.state);
    c.onState(req.id, req.state);
    cb(null, { id: req.id, state: req.state });
  }

  private split(key: Buffer, cb: Callback): void {
    const c = this.cluster;
    if (c.leaderId !== this.id) return this.notLeader(cb, c.leaderId, 1);
    c.splits.push(key);
    cb(null, {
      left: wireShard(1, '', key, { epoch: 2 }),
      right: wireShard(2, key, '', { epoch: 2 }),
    });
  }
}

interface MoveRequest {
  shardId: number;
  from: number;
  to: number;
  noWait: boolean;
  /** The target's addresses the SDK looked up (absent when it found none). */
  toAddress?: string;
  toPeerAddress?: string;
}

export class FakeAdmin {
  readonly nodes: FakeAdminNode[] = [];
  readonly splits: Buffer[] = [];
  readonly transfers: { groupId: number; to: number }[] = [];
  /** MoveReplica and SetNodeState requests, with the node that received each. */
  readonly moveRequests: ({ at: number } & MoveRequest)[] = [];
  readonly stateRequests: { at: number; id: number; state: string }[] = [];
  /** Registry states set by SetNodeState (ListNodes answers them; 'up' otherwise). */
  readonly states = new Map<number, string>();
  /** Which node answers SetNodeState (the meta leader; others NOT_LEADER with group 2). */
  metaLeaderId = 1;
  /** Non-null: SetNodeState(removed) is refused with this message (FAILED_PRECONDITION). */
  refuseRemoval: string | null = null;
  /** Called after a state was set. */
  onState: (id: number, state: string) => void = () => {};
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

  /** ListNodes' answer: every fake node at its address, in its registry state. */
  registry() {
    return this.nodes.map((n) => ({
      id: n.id,
      address: n.address,
      state: this.states.get(n.id) ?? 'up',
      replicas: (n.shards ?? []).length,
      leaders: 0,
    }));
  }

  stop(): void {
    for (const n of this.nodes) n.server?.forceShutdown();
  }
}
