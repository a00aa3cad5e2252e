/**
 * An in-process fake Tessera cluster for SDK tests: N gRPC servers on 127.0.0.1 (port 0) implementing
 * proto/kv.proto and proto/admin.proto over one shared in-memory state machine with a session table
 * (last result per clientId), so exactly-once behaviour is observable. Scriptable per node: which node is
 * the leader (others answer NOT_LEADER with hint trailers), hang (never reply), one-shot scripted errors,
 * an apply delay, stop/restart on the same port. Records every call per node (requests arriving in
 * KV.Multi calls or on KV.Pipeline streams are recorded one by one, under their own method).
 * Sessions are registered by KV.OpenSession (a node with openSessionUnimplemented predates it); a write
 * from a session never registered, or forgotten (FakeCluster.forgetSession), is answered SESSION_EXPIRED.
 * With FakeCluster.shards set (fake-shards.ts) the nodes route keyed requests by shard: WRONG_SHARD,
 * NOT_LEADER per shard, a session table per shard, scans clipped to a shard, Admin.ListShards/SplitShard.
 */
import * as grpc from '@grpc/grpc-js';
import { loadServices } from '../../../src/client';
import { FakeShards } from './fake-shards';
import type { FakeAnswer, FakeShard } from './fake-shards';

type Callback = (err: grpc.ServiceError | Partial<grpc.StatusObject> | null, value?: unknown) => void;
type Call = { request: any; metadata: grpc.Metadata };

export interface ScriptedError {
  method?: string;
  code: grpc.status;
  reason?: string;
  trailers?: Record<string, string>;
  message?: string;
}

export type HintMode = 'address' | 'id' | 'none';

const LEADER_ONLY = new Set([
  'Put',
  'Delete',
  'CompareAndSwap',
  'Batch',
  'AddNode',
  'RemoveNode',
  'TransferLeader',
  'OpenSession',
]);
const WRITES = new Set(['Put', 'Delete', 'CompareAndSwap', 'Batch']);

export class FakeNode {
  server: grpc.Server | null = null;
  port = 0;
  hang = false;
  applyDelayMs = 0;
  readonly scripted: ScriptedError[] = [];
  readonly calls: { method: string; request: any }[] = [];
  /** KV.Multi calls received (each request inside is also recorded in `calls`). */
  multiCalls = 0;
  /** Answer KV.Multi with UNIMPLEMENTED (a node that predates it). */
  multiUnimplemented = false;
  /** KV.Pipeline streams opened, messages received on them, and streams open now. */
  pipelineStreams = 0;
  pipelineMessages = 0;
  pipelinesOpen = 0;
  /** The oneof field of every op, per message received on a pipeline stream. */
  readonly pipelineOps: string[][] = [];
  /** Answer KV.Pipeline with UNIMPLEMENTED (a node that predates it). */
  pipelineUnimplemented = false;
  /** Answer KV.OpenSession with UNIMPLEMENTED (a node that predates it). */
  openSessionUnimplemented = false;
  constructor(
    readonly id: number,
    private readonly cluster: FakeCluster,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  callsOf(method: string): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  async start(): Promise<void> {
    const { packageDefinition } = loadServices();
    const pkg = grpc.loadPackageDefinition(packageDefinition) as any;
    const server = new grpc.Server();
    const wrap = (method: string) => (call: Call, cb: Callback) => void this.handle(method, call.request, cb);
    const kv: Record<string, unknown> = {};
    for (const m of ['Get', 'Put', 'Delete', 'CompareAndSwap', 'Scan', 'Batch', 'OpenSession']) kv[m] = wrap(m);
    kv.Multi = (call: grpc.ServerWritableStream<any, any>) => this.multi(call);
    kv.Pipeline = (call: grpc.ServerDuplexStream<any, any>) => this.pipeline(call);
    const admin: Record<string, unknown> = {};
    for (const m of ['Status', 'AddNode', 'RemoveNode', 'TransferLeader', 'ListShards', 'SplitShard'])
      admin[m] = wrap(m);
    server.addService(pkg.tessera.v1.KV.service, kv as grpc.UntypedServiceImplementation);
    server.addService(pkg.tessera.v1.Admin.service, admin as grpc.UntypedServiceImplementation);
    const credentials = this.cluster.serverCredentials ?? grpc.ServerCredentials.createInsecure();
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${this.port}`, credentials, (err, port) => (err ? reject(err) : resolve(port))),
    );
    this.server = server;
  }

  /** Like kill -9: connections drop at once. */
  stop(): void {
    this.server?.forceShutdown();
    this.server = null;
  }

  /** KV.Multi (server streaming): each request handled as its own call, its result written when done. */
  private multi(call: grpc.ServerWritableStream<any, any>): void {
    if (this.multiUnimplemented) {
      call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'Multi is not implemented here' });
      return;
    }
    this.multiCalls++;
    const ops: any[] = call.request.ops ?? [];
    let left = ops.length;
    if (left === 0) return void call.end();
    ops.forEach((op, index) =>
      this.runOp(op, index, (result) => {
        if (call.cancelled) return;
        call.write({ results: [result] });
        if (--left === 0) call.end();
      }),
    );
  }

  /** KV.Pipeline (bidi): each request handled as its own call, its result written when done, by its id. */
  private pipeline(call: grpc.ServerDuplexStream<any, any>): void {
    if (this.pipelineUnimplemented) {
      call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'Pipeline is not implemented here' });
      return;
    }
    this.pipelineStreams++;
    this.pipelinesOpen++;
    let inFlight = 0;
    let clientDone = false;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      this.pipelinesOpen--;
    };
    call.on('data', (req: any) => {
      this.pipelineMessages++;
      this.pipelineOps.push((req.ops ?? []).map((op: any) => op.op));
      for (const op of req.ops ?? []) {
        inFlight++;
        this.runOp(op, op.id, (result) => {
          inFlight--;
          if (call.cancelled || closed) return;
          call.write({ results: [result] });
          if (clientDone && inFlight === 0) {
            close();
            call.end();
          }
        });
      }
    });
    call.on('end', () => {
      clientDone = true;
      if (inFlight === 0) {
        close();
        call.end();
      }
    });
    call.on('cancelled', close);
    call.on('error', close);
    call.on('close', close);
  }

  private runOp(op: any, index: number, done: (result: Record<string, unknown>) => void): void {
    const methodOf: Record<string, string> = {
      get: 'Get',
      put: 'Put',
      delete: 'Delete',
      compareAndSwap: 'CompareAndSwap',
      openSession: 'OpenSession',
    };
    const field: string = op.op;
    const one: Callback = (err, value) => {
      if (err) {
        const md = (err as { metadata?: grpc.Metadata }).metadata;
        const trailers: Record<string, string> = {};
        for (const [k, v] of Object.entries(md?.getMap() ?? {})) trailers[k] = String(v);
        done({ index, error: { code: err.code ?? grpc.status.UNKNOWN, message: err.details ?? '', trailers } });
      } else {
        done({ index, [field]: value });
      }
    };
    void this.handle(methodOf[field] ?? field, op[field], one);
  }

  private async handle(method: string, req: any, reply: Callback): Promise<void> {
    const c = this.cluster;
    if (SHARD_ADMIN.has(method) && c.shards === null)
      return fail(reply, grpc.status.UNIMPLEMENTED, `${method} is not implemented here`, {});
    this.calls.push({ method, request: req });
    if (this.hang) return; // never answers; the client's deadline ends the call
    if (method === 'OpenSession' && this.openSessionUnimplemented)
      return fail(reply, grpc.status.UNIMPLEMENTED, 'OpenSession is not implemented here', {});
    const idx = this.scripted.findIndex((s) => s.method === undefined || s.method === method);
    if (idx >= 0) {
      const s = this.scripted.splice(idx, 1)[0]!;
      const trailers: Record<string, string> = { ...(s.trailers ?? {}) };
      if (s.reason) trailers['tessera-reason'] = s.reason;
      return fail(reply, s.code, s.message ?? `scripted ${grpc.status[s.code]}`, trailers);
    }
    const staleRead = (method === 'Get' || method === 'Scan') && req.consistency === 1;
    const needsLeader = LEADER_ONLY.has(method) || ((method === 'Get' || method === 'Scan') && !staleRead);
    let shard: FakeShard | null = null;
    if (c.shards !== null) {
      if (SHARD_ADMIN.has(method)) return this.shardAdmin(c.shards, method, req, reply);
      const routed = this.route(c.shards, method, req, needsLeader);
      if (routed !== null && 'code' in routed) return fail(reply, routed.code, routed.message, routed.trailers);
      shard = routed;
    }
    const cb: Callback = (err, value) => {
      if (!err && shard !== null && value !== null && typeof value === 'object')
        (value as Record<string, unknown>).header = { groupId: shard.d.id, leaderId: shard.leader };
      reply(err, value);
    };
    if (needsLeader && shard === null && c.leaderId !== this.id) {
      const trailers: Record<string, string> = { 'tessera-reason': 'NOT_LEADER' };
      const leader = c.nodes.find((n) => n.id === c.leaderId);
      if (leader && c.hintMode !== 'none') {
        trailers['tessera-leader-id'] = String(leader.id);
        if (c.hintMode === 'address') trailers['tessera-leader-address'] = c.hintAddress ?? leader.address;
      }
      return fail(cb, grpc.status.FAILED_PRECONDITION, `node ${this.id} is not the leader`, trailers);
    }
    if (
      method === 'Put' ||
      method === 'Get' ||
      method === 'Delete' ||
      method === 'CompareAndSwap' ||
      method === 'Batch'
    ) {
      if (req.key !== undefined && method !== 'Batch' && req.key.length === 0) {
        return fail(cb, grpc.status.INVALID_ARGUMENT, 'key is empty', {
          'tessera-reason': 'INVALID_ARGUMENT',
          'tessera-limit': 'keyBytesMin',
        });
      }
    }
    if (WRITES.has(method)) {
      const clientId: Buffer | undefined = req.session?.clientId;
      const seq: number = req.session?.seq ?? 0;
      if (clientId && clientId.length > 0) {
        const id = clientId.toString('hex');
        if (c.requireRegistration && !(shard?.sessions ?? c.registered).has(id)) {
          return fail(cb, grpc.status.FAILED_PRECONDITION, 'session unknown', { 'tessera-reason': 'SESSION_EXPIRED' });
        }
        if (c.inflight.has(id)) c.violations.push(`two outstanding writes for session ${id}`);
        c.inflight.add(id);
        try {
          if (this.applyDelayMs > 0) await new Promise((r) => setTimeout(r, this.applyDelayMs));
          const prev = c.sessions.get(id);
          if (prev && seq === prev.seq) {
            c.duplicates++;
            return cb(null, prev.result);
          }
          if (prev && seq < prev.seq)
            return fail(cb, grpc.status.FAILED_PRECONDITION, 'session expired', {
              'tessera-reason': 'SESSION_EXPIRED',
            });
          c.seqLog.push({ clientId: id, seq });
          const result = c.apply(method, req);
          c.sessions.set(id, { seq, result });
          return cb(null, result);
        } finally {
          c.inflight.delete(id);
        }
      }
      return cb(null, c.apply(method, req));
    }
    switch (method) {
      case 'OpenSession': {
        const id: Buffer = req.clientId;
        if (!id || id.length < 16)
          return fail(cb, grpc.status.INVALID_ARGUMENT, 'client id', { 'tessera-reason': 'INVALID_ARGUMENT' });
        (shard?.sessions ?? c.registered).add(id.toString('hex'));
        c.opened.push(shard === null ? id.toString('hex') : `${shard.d.id}:${id.toString('hex')}`);
        return cb(null, { clientId: id, header: { leaderId: c.leaderId } });
      }
      case 'Get': {
        const v = c.data.get(req.key.toString('hex'));
        return cb(null, { found: v !== undefined, value: v ?? Buffer.alloc(0), header: { leaderId: c.leaderId } });
      }
      case 'Scan': {
        const keys = [...c.data.keys()].sort();
        const start: Buffer = req.start;
        const clipped = shard?.d.end != null && (req.end.length === 0 || Buffer.compare(shard.d.end, req.end) < 0);
        const end: Buffer = clipped ? Buffer.from(shard!.d.end!) : req.end;
        const items: { key: Buffer; value: Buffer }[] = [];
        let more = false;
        let nextStart = Buffer.alloc(0);
        for (const hex of keys) {
          const k = Buffer.from(hex, 'hex');
          if (k.compare(start) < 0) continue;
          if (end.length > 0 && k.compare(end) >= 0) break;
          if (items.length >= (req.limit || 1000)) {
            more = true;
            nextStart = k;
            break;
          }
          items.push({ key: k, value: c.data.get(hex)! });
        }
        const page = clipped && !more ? { items, more: true, nextStart: end } : { items, more, nextStart };
        c.scanTamper?.(page, req);
        return cb(null, page);
      }
      case 'Status':
        return cb(null, {
          nodeId: this.id,
          address: this.address,
          version: 'fake',
          groups: [
            {
              groupId: 1,
              leader: c.leaderId,
              term: c.term,
              role: c.leaderId === this.id ? 'leader' : 'follower',
              commit: c.applies,
              applied: c.applies,
              members: c.nodes.map((n) => ({ id: n.id, address: n.address, voter: true })),
            },
          ],
        });
      case 'AddNode':
        c.admin.push(
          `add ${req.id} ${req.address} learner=${req.learner}${Number(req.groupId) > 0 ? ` group=${req.groupId}` : ''}`,
        );
        return cb(null, { members: c.nodes.map((n) => ({ id: n.id, address: n.address, voter: true })) });
      case 'RemoveNode':
        c.admin.push(`remove ${req.id}${Number(req.groupId) > 0 ? ` group=${req.groupId}` : ''}`);
        return cb(null, {
          members: c.nodes.filter((n) => n.id !== req.id).map((n) => ({ id: n.id, address: n.address, voter: true })),
        });
      case 'TransferLeader':
        c.admin.push(`transfer ${req.groupId} ${req.to}`);
        c.leaderId = req.to;
        c.term++;
        return cb(null, { leader: req.to });
      default:
        return fail(cb, grpc.status.UNIMPLEMENTED, method, {});
    }
  }

  /** The shard this keyed request goes to here, an error answer, or null for a request with no key. */
  private route(shards: FakeShards, method: string, req: any, leader: boolean): FakeShard | FakeAnswer | null {
    let keys: Buffer[];
    if (method === 'Batch') {
      keys = [...req.compares.map((x: any) => x.key), ...req.ops.map((op: any) => (op.put ?? op.delete ?? op.get).key)];
    } else if (method === 'Scan') keys = [req.start];
    else if (req?.key !== undefined) keys = [req.key];
    else return null;
    if (keys.length === 0) return null;
    const owners = new Set(keys.map((k) => shards.owner(k)));
    if (owners.size > 1)
      return {
        code: grpc.status.INVALID_ARGUMENT,
        message: 'batch spans shards',
        trailers: { 'tessera-reason': 'INVALID_ARGUMENT' },
      };
    return shards.check(this.id, keys[0]!, leader);
  }

  private shardAdmin(shards: FakeShards, method: string, req: any, cb: Callback): void {
    if (method === 'ListShards') {
      const hosted = shards.live.filter((s) => shards.hosts(this.id, s));
      return cb(null, { nodeId: this.id, shards: hosted.map((s) => shards.wire(s, req.withStats ? 1 : 0)) });
    }
    const key: Buffer = req.key;
    const routed = shards.check(this.id, key, true);
    if ('code' in routed) return fail(cb, routed.code, routed.message, routed.trailers);
    if (Buffer.compare(Buffer.from(routed.d.start), key) === 0)
      return fail(cb, grpc.status.INVALID_ARGUMENT, 'the key is a shard start', {
        'tessera-reason': 'INVALID_ARGUMENT',
      });
    const done = () => {
      const { left, right } = shards.split(key);
      cb(null, { left: shards.wire(left), right: shards.wire(right) });
    };
    if (this.cluster.splitDelayMs > 0) setTimeout(done, this.cluster.splitDelayMs);
    else done();
  }
}

const SHARD_ADMIN = new Set(['ListShards', 'SplitShard']);

export class FakeCluster {
  readonly nodes: FakeNode[] = [];
  readonly data = new Map<string, Buffer>();
  readonly sessions = new Map<string, { seq: number; result: unknown }>();
  readonly inflight = new Set<string>();
  readonly violations: string[] = [];
  readonly seqLog: { clientId: string; seq: number }[] = [];
  readonly admin: string[] = [];
  /** Registered session ids (hex), and every OpenSession applied in order. */
  readonly registered = new Set<string>();
  readonly opened: string[] = [];
  /** Writes need a registered session (false: like a node that predates OpenSession). */
  requireRegistration = true;
  leaderId = 1;
  term = 1;
  applies = 0;
  duplicates = 0;
  hintMode: HintMode = 'address';
  /** Overrides the leader address in hints (e.g. an address the client was not configured with). */
  hintAddress: string | null = null;

  /** Sharded mode (fake-shards.ts); null: one group holding everything, like a node before issue 10. */
  shards: FakeShards | null = null;
  /** Rewrites a Scan answer before it is sent (a buggy or hostile node). */
  scanTamper:
    ((page: { items: { key: Buffer; value: Buffer }[]; more: boolean; nextStart: Buffer }, req: any) => void) | null =
    null;
  /** How long Admin.SplitShard takes to answer. */
  splitDelayMs = 0;

  /** Switches to sharded mode with these shards (descriptor and leader node each). */
  useShards(shards: ConstructorParameters<typeof FakeShards>[0]): FakeShards {
    this.shards = new FakeShards(shards, (id) => this.node(id)?.address ?? '');
    return this.shards;
  }

  /** The nodes' listener credentials (e.g. TLS); plaintext when null. */
  serverCredentials: grpc.ServerCredentials | null = null;

  static async start(n: number, serverCredentials: grpc.ServerCredentials | null = null): Promise<FakeCluster> {
    const c = new FakeCluster();
    c.serverCredentials = serverCredentials;
    for (let i = 1; i <= n; i++) {
      const node = new FakeNode(i, c);
      await node.start();
      c.nodes.push(node);
    }
    return c;
  }

  node(id: number): FakeNode {
    return this.nodes.find((n) => n.id === id)!;
  }

  endpoints(): string[] {
    return this.nodes.map((n) => n.address);
  }

  get(key: string): string | undefined {
    return this.data.get(Buffer.from(key).toString('hex'))?.toString();
  }

  stop(): void {
    for (const n of this.nodes) n.stop();
  }

  /** Forgets a session (as if evicted or expired): its next write is answered SESSION_EXPIRED. */
  forgetSession(idHex: string): void {
    this.registered.delete(idHex);
    this.sessions.delete(idHex);
  }

  apply(method: string, req: any): unknown {
    this.applies++;
    const hex = (b: Buffer) => b.toString('hex');
    switch (method) {
      case 'Put':
        this.data.set(hex(req.key), req.value);
        return {};
      case 'Delete': {
        const existed = this.data.delete(hex(req.key));
        return { existed };
      }
      case 'CompareAndSwap': {
        const cur = this.data.get(hex(req.key));
        const ok = req.expectedAbsent ? cur === undefined : cur !== undefined && cur.equals(req.expected);
        if (!ok) return { succeeded: false, currentFound: cur !== undefined, current: cur ?? Buffer.alloc(0) };
        if (req.deleteOnSuccess) this.data.delete(hex(req.key));
        else this.data.set(hex(req.key), req.value);
        return { succeeded: true };
      }
      case 'Batch': {
        for (const cmp of req.compares) {
          const cur = this.data.get(hex(cmp.key));
          const ok = cmp.expectedAbsent ? cur === undefined : cur !== undefined && cur.equals(cmp.expected);
          if (!ok) return { succeeded: false, results: [] };
        }
        const results = req.ops.map((op: any) => {
          if (op.get) {
            const v = this.data.get(hex(op.get.key));
            return { found: v !== undefined, value: v ?? Buffer.alloc(0) };
          }
          return { found: false };
        });
        for (const op of req.ops) {
          if (op.put) this.data.set(hex(op.put.key), op.put.value);
          if (op.delete) this.data.delete(hex(op.delete.key));
        }
        return { succeeded: true, results };
      }
      default:
        throw new Error(`apply ${method}`);
    }
  }
}

function fail(cb: Callback, code: grpc.status, details: string, trailers: Record<string, string>): void {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(trailers)) metadata.set(k, v);
  cb({ code, details, metadata });
}
