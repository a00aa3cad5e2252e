/**
 * Client: the Tessera SDK. One Client holds one gRPC channel per endpoint, a cache of shards and their
 * leaders (shard-routes.ts), and a pool of sessions for exactly-once writes; it is meant to be shared by
 * many concurrent callers.
 * - Every keyed request goes to the leader of the shard owning its key; WRONG_SHARD and NOT_LEADER are
 *   retried transparently within the call's deadline (invoker.ts).
 * - Writes (put, delete, compareAndSwap, batch) lease a session, tag the request with (clientId, seq) and
 *   go to the leader; retries resend the same tag, so a write is applied at most once. A session is
 *   registered (KV.OpenSession) in each shard before its first write there; a write whose session the
 *   cluster forgot fails with SESSION_EXPIRED (outcome unknown) unless no attempt of it can have applied, in
 *   which case it is sent again under a new session (session-writer.ts).
 * - batch and compareAndSwap are atomic within one shard; a batch whose keys span shards is refused with
 *   INVALID_ARGUMENT naming them. scan stitches the shards in key order (scan-stitcher.ts).
 * - get and scan are linearizable by default (leader, ReadIndex); { consistency: 'stale' } reads any replica.
 * - Every call retries NOT_LEADER, UNAVAILABLE, RESOURCE_EXHAUSTED and timeouts until its deadline
 *   (see invoker.ts); other errors are thrown at once as TesseraError.
 */
import type { ChannelOptions } from '@grpc/grpc-js';
import { TesseraError, isNodeId, type ShardId } from '../base';
import { toBuffer, toBufferOrNull } from './bytes';
import type { Bytes } from './bytes';
import { Endpoint, isEndpointAddress } from './endpoint';
import { Invoker } from './invoker';
import type { Route } from './invoker';
import { loadServices } from './proto';
import { Router } from './router';
import { isUnimplemented } from './errors';
import { SessionPool } from './sessions';
import { SessionWriter } from './session-writer';
import { ShardRoutes, batchRouteKey } from './shard-routes';
import { scanPages } from './shard-scan';
import { shardInfoOf, shardListOf } from './shard-info';
import type { WireListShards, WireSplitShard } from './shard-info';
import { nodeListOf } from './node-info';
import { channelSecurity } from './tls';
import { ClientAuth } from './client-auth';
import type { SessionLease } from './sessions';
import type {
  BatchRequest,
  BatchResult,
  CallOptions,
  CasResult,
  ClientOptions,
  EndpointStatus,
  GroupStatus,
  GetOptions,
  NodeInfo,
  ListShardsOptions,
  Member,
  NodeStatus,
  ScanOptions,
  ScanPage,
  ShardInfo,
  SplitResult,
} from './types';

const CONSISTENCY_LINEARIZABLE = 0;
const CONSISTENCY_STALE = 1;
const EMPTY = Buffer.alloc(0);

const defaultChannelOptions: ChannelOptions = {
  // Reconnect quickly to a restarted node (grpc-js defaults grow to 120 s).
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.min_reconnect_backoff_ms': 100,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
};

/** Wire shapes (proto-loader: camelCase, uint64 as numbers, bytes as Buffers, defaults filled in). */
/* Admin.Status groups arrive exactly in the public shape. */
type WireGroupStatus = GroupStatus;
interface WireStatus {
  nodeId: number;
  address: string;
  peerAddress?: string;
  version: string;
  groups: WireGroupStatus[];
}

export class Client {
  private readonly router: Router;
  private readonly invoker: Invoker;
  private readonly shards: ShardRoutes;
  private readonly sessions: SessionPool;
  private readonly writer: SessionWriter;
  private readonly deadlineMs: number;
  private closed = false;
  private refreshing: Promise<void> | null = null;

  constructor(options: ClientOptions) {
    const o = validateOptions(options);
    const services = loadServices();
    const security = channelSecurity(options.tls);
    const channelOptions: ChannelOptions = {
      ...defaultChannelOptions,
      ...security.channelOptions,
      ...(options.channelOptions ?? {}),
    };
    // With user and password: one login shared by every endpoint (client-auth.ts).
    const auth = o.user === null ? null : new ClientAuth(o.user, o.password);
    this.router = new Router(
      o.endpoints,
      (a) => new Endpoint(a, services, channelOptions, options.faultInjection, security.credentials, auth),
      o.endpointsMax,
      options.learnEndpoints !== false,
    );
    this.shards = new ShardRoutes(this.router, (timeoutMs) => this.loadShards(timeoutMs), isUnimplemented);
    this.invoker = new Invoker(
      this.router,
      {
        deadlineMs: o.deadlineMs,
        attemptTimeoutMs: o.attemptTimeoutMs,
        unhealthyMs: o.unhealthyMs,
        backoff: { baseMs: o.backoffBaseMs, maxMs: o.backoffMaxMs },
        random01: Math.random,
      },
      (timeoutMs) => this.refreshMembers(timeoutMs),
      this.shards,
    );
    this.sessions = new SessionPool(o.sessionsMax);
    this.writer = new SessionWriter(this.invoker, this.sessions, this.shards);
    this.deadlineMs = o.deadlineMs;
    if (options.discover !== false) this.discover();
  }

  /**
   * Background, best effort: asks every endpoint for its Status once, to learn which node id answers
   * where (so NOT_LEADER hints by id map to the configured addresses) and which node leads.
   */
  private discover(): void {
    void this.clusterStatus({ timeoutMs: 1000 }).then(
      (all) => {
        if (this.router.leader !== null || this.closed) return;
        for (const s of all) {
          if (s.ok && s.status.groups.some((g) => g.role === 'leader')) {
            const ep = this.router.find(s.endpoint);
            if (ep) this.router.setLeader(ep);
            return;
          }
        }
      },
      () => undefined,
    );
  }

  /**
   * One members refresh (for a leader hint naming an address the client does not know): Status from the
   * configured endpoints, healthy ones first, one attempt each, until one answers or timeoutMs passes.
   * Concurrent calls share the refresh in flight.
   */
  private refreshMembers(timeoutMs: number): Promise<void> {
    if (this.refreshing !== null) return this.refreshing;
    const run = async (): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      const now = Date.now();
      const candidates = this.router
        .configuredEndpoints()
        .sort((a, b) => Number(b.isHealthy(now)) - Number(a.isHealthy(now)));
      for (const ep of candidates) {
        const leftMs = deadline - Date.now();
        if (leftMs <= 0 || this.closed) return;
        const out = await ep.unary<WireStatus>('admin', 'Status', {}, leftMs);
        if (!out.ok) continue;
        ep.markReplied(Date.now());
        this.learn(out.value, ep);
        return;
      }
    };
    const refreshing = run().finally(() => {
      this.refreshing = null;
    });
    this.refreshing = refreshing;
    return refreshing;
  }

  /** The endpoints the client knows (configured and learned). */
  endpoints(): string[] {
    return this.router.endpoints().map((e) => e.address);
  }

  /** The cached leader endpoint, or null when unknown. */
  leaderEndpoint(): string | null {
    return this.router.leader?.address ?? null;
  }

  /** Number of sessions created so far (each a 16-byte client id). */
  sessionCount(): number {
    return this.sessions.size();
  }

  async put(key: Bytes, value: Bytes, options?: CallOptions): Promise<void> {
    const k = toBuffer(key, 'key');
    const v = toBuffer(value, 'value');
    await this.write('Put', k, (session) => ({ key: k, value: v, session }), options);
  }

  /** The value, or null when the key is absent. */
  async get(key: Bytes, options?: GetOptions): Promise<Buffer | null> {
    const k = toBuffer(key, 'key');
    const stale = readRoute(options) === 'any';
    const res = await this.invoker.call<{ found: boolean; value: Buffer }>(
      'kv',
      'Get',
      { key: k, consistency: stale ? CONSISTENCY_STALE : CONSISTENCY_LINEARIZABLE },
      stale ? 'any' : 'leader',
      deadlineOf(options),
      { key: k },
    );
    return res.found ? res.value : null;
  }

  /** Deletes the key; resolves to whether it existed. */
  async delete(key: Bytes, options?: CallOptions): Promise<boolean> {
    const k = toBuffer(key, 'key');
    const res = await this.write<{ existed: boolean }>('Delete', k, (session) => ({ key: k, session }), options);
    return res.existed;
  }

  /**
   * Sets key to value if its current value equals expected. expected null: the key must be absent;
   * value null: delete the key on success. A failed comparison is a normal result, not an error.
   */
  async compareAndSwap(
    key: Bytes,
    expected: Bytes | null,
    value: Bytes | null,
    options?: CallOptions,
  ): Promise<CasResult> {
    const k = toBuffer(key, 'key');
    const e = toBufferOrNull(expected, 'expected');
    const v = toBufferOrNull(value, 'value');
    const res = await this.write<{ succeeded: boolean; currentFound: boolean; current: Buffer }>(
      'CompareAndSwap',
      k,
      (session) => ({
        key: k,
        expected: e ?? EMPTY,
        expectedAbsent: e === null,
        value: v ?? EMPTY,
        deleteOnSuccess: v === null,
        session,
      }),
      options,
    );
    if (res.succeeded) return { succeeded: true, current: v };
    return { succeeded: false, current: res.currentFound ? res.current : null };
  }

  /**
   * Keys in [start, end) in key order (end omitted or null: to the end of the keyspace), as an async
   * iterator over pages. Each page is one request (retried like any read); pages are never empty.
   */
  scan(start: Bytes = EMPTY, end: Bytes | null = null, options: ScanOptions = {}): AsyncIterableIterator<ScanPage> {
    const startKey = toBuffer(start, 'start');
    const endKey = end === null ? EMPTY : toBuffer(end, 'end');
    const pageLimit = positiveInt(options.pageLimit ?? 256, 'pageLimit');
    const pageBytesMax = positiveInt(options.pageBytesMax ?? 1024 * 1024, 'pageBytesMax');
    const limit = options.limit === undefined ? Number.POSITIVE_INFINITY : positiveInt(options.limit, 'limit');
    const route = readRoute(options);
    return scanPages(this.invoker, this.shards, {
      start: startKey,
      end: endKey.length === 0 ? null : endKey,
      pageLimit,
      pageBytesMax,
      limit,
      route,
      consistency: route === 'any' ? CONSISTENCY_STALE : CONSISTENCY_LINEARIZABLE,
      deadlineMs: deadlineOf(options),
      loadMs: Math.min(deadlineOf(options) ?? this.deadlineMs, 1000) / 2,
    });
  }

  /** Atomic within one shard: if every compare holds, every op is applied; otherwise none is. */
  async batch(request: BatchRequest, options?: CallOptions): Promise<BatchResult> {
    if (request === null || typeof request !== 'object' || !Array.isArray(request.ops)) {
      throw new TesseraError('INVALID_ARGUMENT', 'batch: request.ops must be an array');
    }
    const compares = (request.compares ?? []).map((c, i) => {
      const expected = toBufferOrNull(c.expected, `compares[${i}].expected`);
      return {
        key: toBuffer(c.key, `compares[${i}].key`),
        expected: expected ?? EMPTY,
        expectedAbsent: expected === null,
      };
    });
    const ops = request.ops.map((op, i) => {
      switch (op.op) {
        case 'put':
          return { put: { key: toBuffer(op.key, `ops[${i}].key`), value: toBuffer(op.value, `ops[${i}].value`) } };
        case 'delete':
          return { delete: { key: toBuffer(op.key, `ops[${i}].key`) } };
        case 'get':
          return { get: { key: toBuffer(op.key, `ops[${i}].key`) } };
        default:
          throw new TesseraError('INVALID_ARGUMENT', `batch: ops[${i}].op must be 'put', 'delete' or 'get'`);
      }
    });
    const keys = [...compares.map((c) => c.key), ...ops.map((op) => (op.put ?? op.delete ?? op.get).key)];
    // Atomic within one shard only: a batch whose keys span shards is refused, naming them.
    const routeKey = await batchRouteKey(this.shards, keys, Math.min(deadlineOf(options) ?? this.deadlineMs, 1000));
    const res = await this.write<{ succeeded: boolean; results: Array<{ found: boolean; value: Buffer }> }>(
      'Batch',
      routeKey,
      (session) => ({ compares, ops, session }),
      options,
    );
    if (!res.succeeded) return { succeeded: false, results: [] };
    const results = request.ops.map((op, i) => {
      const r = res.results[i];
      return op.op === 'get' && r !== undefined && r.found ? r.value : null;
    });
    return { succeeded: true, results };
  }

  /** Status of one node: `endpoint` when given (one attempt), else any reachable node (with retries). */
  async status(options: { endpoint?: string } & CallOptions = {}): Promise<NodeStatus> {
    if (options.endpoint !== undefined) {
      const ep = this.endpointArg(options.endpoint, 'status');
      const out = await ep.unary<WireStatus>('admin', 'Status', {}, deadlineOf(options) ?? 2000);
      if (!out.ok) throw out.failure.error;
      ep.markReplied(Date.now());
      return this.learn(out.value, ep);
    }
    const res = await this.invoker.call<WireStatus>('admin', 'Status', {}, 'any', deadlineOf(options));
    return this.learn(res, null);
  }

  /** Status of every known endpoint, in parallel, one attempt each (timeoutMs, default 1500). */
  async clusterStatus(options: { timeoutMs?: number } = {}): Promise<EndpointStatus[]> {
    const timeoutMs = positiveInt(options.timeoutMs ?? 1500, 'timeoutMs');
    return Promise.all(
      this.router.endpoints().map(async (ep): Promise<EndpointStatus> => {
        const out = await ep.unary<WireStatus>('admin', 'Status', {}, timeoutMs);
        if (!out.ok) return { endpoint: ep.address, ok: false, error: out.failure.error };
        ep.markReplied(Date.now());
        return { endpoint: ep.address, ok: true, status: this.learn(out.value, ep) };
      }),
    );
  }

  /**
   * The shards, ascending by start: with `endpoint`, those that node hosts (one attempt); else every shard
   * of the cluster, as the meta shard's leader knows them (any node redirects there; with retries).
   * withStats adds keys and bytes (of the shards the answering node hosts: it reads each range).
   */
  async listShards(options: ListShardsOptions = {}): Promise<ShardInfo[]> {
    const withStats = options.withStats === true;
    const timeoutMs = options.timeoutMs === undefined ? undefined : positiveInt(options.timeoutMs, 'timeoutMs');
    if (options.endpoint !== undefined)
      return this.listShardsAt(
        this.endpointArg(options.endpoint, 'listShards'),
        { withStats },
        timeoutMs ?? this.deadlineMs,
      );
    const request = { withStats, cluster: true };
    const res = await this.invoker.call<WireListShards>('admin', 'ListShards', request, 'any', timeoutMs);
    return this.learnShards(shardListOf(res));
  }

  /** The node registry (Admin.ListNodes on any node: its replica of the meta shard) with replica and leader counts. */
  async listNodes(options: CallOptions = {}): Promise<NodeInfo[]> {
    const res = await this.invoker.call<unknown>('admin', 'ListNodes', {}, 'any', deadlineOf(options));
    return nodeListOf(res);
  }

  /**
   * One ListShards attempt (the routing cache's lazy load); throws on failure. A node lists only the shards
   * it hosts, so loads go to the endpoints in rotation, the learned members included: over a few loads the
   * cache covers every shard.
   */
  private loadShards(timeoutMs: number): Promise<ShardInfo[]> {
    this.router.includeLearnedMembers();
    return this.listShardsAt(this.router.rotate(Date.now(), null), { withStats: false }, timeoutMs);
  }

  private async listShardsAt(ep: Endpoint, request: { withStats: boolean }, timeoutMs: number): Promise<ShardInfo[]> {
    const out = await ep.unary<WireListShards>('admin', 'ListShards', request, timeoutMs);
    if (!out.ok) throw out.failure.error;
    ep.markReplied(Date.now());
    this.router.identify(ep, out.value.nodeId);
    return this.learnShards(shardListOf(out.value));
  }

  /** Teaches the routing cache what a node reported. */
  private learnShards(shards: ShardInfo[]): ShardInfo[] {
    for (const info of shards) this.shards.learnInfo(info);
    return shards;
  }

  /**
   * Splits the shard that owns `key` at `key` (the key becomes the right-hand shard's start), on that
   * shard's leader (NOT_LEADER hints are followed within timeoutMs). Waits until the split applied there.
   */
  async splitShard(key: Bytes, options: { timeoutMs?: number } = {}): Promise<SplitResult> {
    const k = toBuffer(key, 'key');
    const timeoutMs = options.timeoutMs === undefined ? undefined : positiveInt(options.timeoutMs, 'timeoutMs');
    const res = await this.invoker.call<WireSplitShard>('admin', 'SplitShard', { key: k }, 'leader', timeoutMs, {
      key: k,
      patient: true,
    });
    return { left: shardInfoOf(res.left, 'SplitShard'), right: shardInfoOf(res.right, 'SplitShard') };
  }

  /**
   * Moves shard `shardId`'s replica from node `from` to node `to` (learner, catch-up, promotion, removal of
   * `from`), on the shard's leader: routed by the shard's start key when the routing cache knows the shard
   * (loaded once if not), else to the leader the NOT_LEADER hints name (the meta shard). Resolves with the
   * shard's members once the move is done, or, with noWait, once the leader started it.
   * The target's addresses go along for a leader that does not know them (one without a meta replica, or a
   * target with its own --peer-listen): the registry's client address (ListNodes), then the peer address the
   * target's own Status gives; when either lookup fails the leader uses its registry as before.
   */
  async moveReplica(
    shardId: number,
    from: number,
    to: number,
    options: { noWait?: boolean } & CallOptions = {},
  ): Promise<Member[]> {
    if (!Number.isSafeInteger(shardId) || shardId <= 0 || shardId > 0xffff_ffff)
      throw new TesseraError('INVALID_ARGUMENT', `moveReplica: bad shard id ${shardId}`);
    nodeIdArg(from);
    nodeIdArg(to);
    const deadlineMs = deadlineOf(options) ?? this.deadlineMs;
    let known = this.shards.cache.get(shardId as ShardId);
    if (known === undefined) {
      await this.loadShards(Math.min(deadlineMs / 2, 1000)).catch(() => undefined);
      known = this.shards.cache.get(shardId as ShardId);
    }
    const target = await this.targetAddresses(to, Math.min(deadlineMs / 4, 2000));
    const request = { shardId, from, to, noWait: options.noWait === true, ...target };
    const res = await this.invoker.call<{ members?: unknown }>('admin', 'MoveReplica', request, 'leader', deadlineMs, {
      ...(known !== undefined ? { key: Buffer.from(known.descriptor.start) } : {}),
      patient: true,
    });
    return membersOf(res, 'MoveReplica');
  }

  /** Node `to`'s client and peer addresses (moveReplica), or {} when they cannot be learned in time. */
  private async targetAddresses(
    to: number,
    timeoutMs: number,
  ): Promise<{ toAddress?: string; toPeerAddress?: string }> {
    try {
      const node = (await this.listNodes({ deadlineMs: timeoutMs })).find((n) => n.id === to);
      if (node === undefined || node.state === 'removed') return {}; // the leader refuses it with the reason
      const status = await this.status({ endpoint: node.address, deadlineMs: timeoutMs });
      if (status.nodeId !== to) return {}; // another node answers there: let the leader use its registry
      return { toAddress: node.address, toPeerAddress: status.peerAddress || node.address };
    } catch {
      return {};
    }
  }

  /**
   * Sets a node's state in the meta shard's registry, on the meta leader: 'draining' (the placement driver
   * moves its replicas and leaderships off), 'up' (cancels a drain) or 'removed' (refused while the node
   * still holds replicas). Resolves with the state recorded.
   */
  async setNodeState(id: number, state: 'draining' | 'up' | 'removed', options: CallOptions = {}): Promise<string> {
    nodeIdArg(id);
    if (state !== 'draining' && state !== 'up' && state !== 'removed')
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `setNodeState: state must be draining, up or removed, not ${String(state)}`,
      );
    const res = await this.invoker.call<{ id?: unknown; state?: unknown }>(
      'admin',
      'SetNodeState',
      { id, state },
      'leader',
      deadlineOf(options),
    );
    if (res?.id !== id || res.state !== state)
      throw new TesseraError('INTERNAL', 'SetNodeState: the node sent a malformed reply');
    return state;
  }

  /**
   * Adds a node (as a learner when learner is true) to group `groupId` (default: the first data shard);
   * resolves to the new member list.
   */
  async addNode(
    id: number,
    address: string,
    options: { learner?: boolean; peerAddress?: string; groupId?: number } & CallOptions = {},
  ): Promise<Member[]> {
    nodeIdArg(id);
    const groupId = groupIdArg('addNode', options.groupId);
    if (!isEndpointAddress(address))
      throw new TesseraError('INVALID_ARGUMENT', `addNode: address must be host:port, got ${address}`);
    const peerAddress = options.peerAddress ?? '';
    if (peerAddress !== '' && !isEndpointAddress(peerAddress))
      throw new TesseraError('INVALID_ARGUMENT', `addNode: peerAddress must be host:port, got ${peerAddress}`);
    const request = { id, address, learner: options.learner === true, peerAddress, groupId };
    const res = await this.invoker.call<{ members: Member[] }>(
      'admin',
      'AddNode',
      request,
      'leader',
      deadlineOf(options),
    );
    return res.members.map(member);
  }

  /** Removes a node from group `groupId` (default: the first data shard); resolves to the new member list. */
  async removeNode(id: number, options: { groupId?: number } & CallOptions = {}): Promise<Member[]> {
    nodeIdArg(id);
    const groupId = groupIdArg('removeNode', options.groupId);
    const res = await this.invoker.call<{ members: Member[] }>(
      'admin',
      'RemoveNode',
      { id, groupId },
      'leader',
      deadlineOf(options),
    );
    return res.members.map(member);
  }

  /** Asks the group's leader to hand leadership to node `to`; resolves to the leader id reported. */
  async transferLeader(to: number, options: { groupId?: number } & CallOptions = {}): Promise<number> {
    nodeIdArg(to);
    const groupId = groupIdArg('transferLeader', options.groupId);
    const res = await this.invoker.call<{ leader: number }>(
      'admin',
      'TransferLeader',
      { groupId, to },
      'leader',
      deadlineOf(options),
    );
    return res.leader;
  }

  /** Closes every channel; calls in flight fail with UNAVAILABLE and later calls are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sessions.close();
    this.invoker.close();
    for (const ep of this.router.endpoints()) ep.close();
  }

  /** A write under a session (session-writer.ts). */
  private write<T>(
    method: string,
    key: Buffer | null,
    build: (session: SessionLease['tag']) => unknown,
    options: CallOptions | undefined,
  ): Promise<T> {
    if (this.closed) return Promise.reject(new TesseraError('UNAVAILABLE', `${method}: client is closed`));
    return this.writer.write<T>({ method, key, build }, deadlineOf(options) ?? this.deadlineMs);
  }

  /** The endpoint a user named (added as configured when new). */
  /**
   * A server-streaming Admin call to the node at `address` (e.g. BackupShard: src/backup), on the client's
   * channel to it, with its TLS and login. One attempt, no retry: the caller reads and handles the stream.
   */
  adminStream<Res>(address: string, method: string, request: unknown, deadlineMs: number) {
    return this.endpointArg(address, method).adminStream<Res>(method, request, deadlineMs);
  }

  private endpointArg(address: string, what: string): Endpoint {
    const ep = this.router.find(address) ?? this.router.add(address);
    if (ep === null) throw new TesseraError('INVALID_ARGUMENT', `${what}: bad endpoint ${address}`);
    return ep;
  }

  /** Reshapes a Status reply; the router learns members from it only when `source` is a configured endpoint. */
  private learn(s: WireStatus, source: Endpoint | null): NodeStatus {
    this.router.learnStatus(source, s);
    return {
      nodeId: s.nodeId,
      address: s.address,
      peerAddress: s.peerAddress ?? '',
      version: s.version,
      groups: s.groups.map((g) => ({
        groupId: g.groupId,
        leader: g.leader,
        term: g.term,
        role: g.role,
        commit: g.commit,
        applied: g.applied,
        firstIndex: g.firstIndex,
        lastIndex: g.lastIndex,
        members: g.members.map(member),
        start: g.start,
        end: g.end,
        ...(g.kind ? { kind: g.kind } : {}),
      })),
    };
  }
}

function member(m: Member): Member {
  return { id: m.id, address: m.address, voter: m.voter, match: m.match };
}

/** Most members accepted in one reply. */
const MEMBERS_PER_REPLY_MAX = 1024;

/** The members of a reply, checked as hostile (INTERNAL when malformed). */
function membersOf(reply: { members?: unknown } | null, method: string): Member[] {
  const ms = reply?.members;
  const bad = () => new TesseraError('INTERNAL', `${method}: the node sent a malformed member list`);
  if (!Array.isArray(ms) || ms.length > MEMBERS_PER_REPLY_MAX) throw bad();
  return ms.map((m: Record<string, unknown>) => {
    const ok =
      isNodeId(m.id) &&
      typeof m.address === 'string' &&
      m.address.length <= 255 &&
      typeof m.voter === 'boolean' &&
      typeof m.match === 'number' &&
      Number.isSafeInteger(m.match) &&
      m.match >= 0;
    if (!ok) throw bad();
    return member(m as unknown as Member);
  });
}

function readRoute(options: GetOptions | undefined): Route {
  const c = options?.consistency ?? 'linearizable';
  if (c === 'linearizable') return 'leader';
  if (c === 'stale') return 'any';
  throw new TesseraError('INVALID_ARGUMENT', `consistency must be 'linearizable' or 'stale', got ${String(c)}`);
}

function deadlineOf(options: CallOptions | undefined): number | undefined {
  if (options?.deadlineMs === undefined) return undefined;
  return positiveInt(options.deadlineMs, 'deadlineMs');
}

function positiveInt(n: number, what: string): number {
  if (!Number.isInteger(n) || n <= 0)
    throw new TesseraError('INVALID_ARGUMENT', `${what} must be a positive integer, got ${n}`);
  return n;
}

/** The group an Admin call names: 0 (the server's first data shard) when absent, else a positive integer. */
function groupIdArg(call: string, groupId: number | undefined): number {
  const g = groupId ?? 0;
  if (!Number.isInteger(g) || g < 0) throw new TesseraError('INVALID_ARGUMENT', `${call}: bad groupId ${g}`);
  return g;
}

function nodeIdArg(id: number): void {
  if (!Number.isInteger(id) || id <= 0 || id > 0xffff_ffff)
    throw new TesseraError('INVALID_ARGUMENT', `node id must be a positive integer, got ${id}`);
}

interface ResolvedOptions {
  endpoints: string[];
  deadlineMs: number;
  attemptTimeoutMs: number;
  unhealthyMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  sessionsMax: number;
  endpointsMax: number;
  /** Access control: log in as this user (null: send no token). */
  user: string | null;
  password: string;
}

/** user and password: both or neither, non-empty strings. */
function credentialsOf(o: ClientOptions): { user: string | null; password: string } {
  if (o.user === undefined && o.password === undefined) return { user: null, password: '' };
  if (typeof o.user !== 'string' || o.user === '' || typeof o.password !== 'string' || o.password === '')
    throw new TesseraError('CONFIG', 'Client: user and password go together, both non-empty strings');
  return { user: o.user, password: o.password };
}

function validateOptions(o: ClientOptions): ResolvedOptions {
  if (o === null || typeof o !== 'object')
    throw new TesseraError('CONFIG', 'Client: options object required ({ endpoints: [...] })');
  if (!Array.isArray(o.endpoints) || o.endpoints.length === 0) {
    throw new TesseraError('CONFIG', 'Client: endpoints must be a non-empty array of host:port');
  }
  const endpoints = o.endpoints.map((e) =>
    String(e)
      .trim()
      .replace(/^https?:\/\//, '')
      .replace(/\/$/, ''),
  );
  for (const e of endpoints)
    if (!isEndpointAddress(e)) throw new TesseraError('CONFIG', `Client: bad endpoint '${e}' (want host:port)`);
  const num = (v: number | undefined, def: number, what: string, min = 1): number => {
    const n = v ?? def;
    if (!Number.isFinite(n) || n < min)
      throw new TesseraError('CONFIG', `Client: ${what} must be a number >= ${min}, got ${v}`);
    return n;
  };
  const r: ResolvedOptions = {
    endpoints: [...new Set(endpoints)],
    deadlineMs: num(o.deadlineMs, 5000, 'deadlineMs'),
    attemptTimeoutMs: num(o.attemptTimeoutMs, 400, 'attemptTimeoutMs'),
    unhealthyMs: num(o.unhealthyMs, 1000, 'unhealthyMs', 0),
    backoffBaseMs: num(o.backoffBaseMs, 10, 'backoffBaseMs'),
    backoffMaxMs: num(o.backoffMaxMs, 50, 'backoffMaxMs'),
    sessionsMax: num(o.sessionsMax, 1024, 'sessionsMax'),
    endpointsMax: num(o.endpointsMax, 64, 'endpointsMax'),
    ...credentialsOf(o),
  };
  if (!Number.isInteger(r.sessionsMax)) throw new TesseraError('CONFIG', 'Client: sessionsMax must be an integer');
  r.endpointsMax = Math.max(r.endpointsMax, r.endpoints.length);
  return r;
}
