/**
 * Scripted Admin nodes for the shard nemeses' tests: one in-process gRPC server per node id on 127.0.0.1,
 * serving tessera.v1.Admin from proto/admin.proto with raw bytes (requests decoded, replies encoded by the
 * hostile wire). A test's script answers each call: a reply, a Tessera refusal (status, tessera-reason and
 * leader hint trailers as the real node sends them), or 'hang' (never answered: the caller's deadline).
 * Every call is recorded.
 */
import * as grpc from '@grpc/grpc-js';
import { decode, encode, protoType } from '../hostile/wire';

export interface ScriptedRefusal {
  code: grpc.status;
  reason: string;
  details: string;
  leaderId?: number;
  groupId?: number;
}

export type ScriptedAnswer = { reply: Record<string, unknown> } | { refuse: ScriptedRefusal } | 'hang';

export type Script = (node: number, method: string, request: Record<string, unknown>) => ScriptedAnswer;

export interface RecordedCall {
  node: number;
  method: string;
  request: Record<string, unknown>;
}

export class ScriptedAdmin {
  readonly calls: RecordedCall[] = [];
  private readonly servers = new Map<number, grpc.Server>();
  private readonly addresses = new Map<number, string>();
  private readonly hung: (() => void)[] = [];

  constructor(private script: Script) {}

  setScript(script: Script): void {
    this.script = script;
  }

  address(id: number): string {
    const a = this.addresses.get(id);
    if (a === undefined) throw new RangeError(`no scripted node ${id}`);
    return a;
  }

  async start(ids: readonly number[]): Promise<void> {
    const svc = protoType('StatusRequest').root.lookupService('tessera.v1.Admin');
    for (const id of ids) {
      const server = new grpc.Server();
      const def: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
      const impl: grpc.UntypedServiceImplementation = {};
      for (const m of svc.methodsArray) {
        def[m.name] = {
          path: `/tessera.v1.Admin/${m.name}`,
          requestStream: false,
          responseStream: false,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        };
        impl[m.name] = (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
          this.answer(id, m.name, call.request, cb);
      }
      server.addService(def as grpc.ServiceDefinition, impl);
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
          err ? reject(err) : resolve(p),
        ),
      );
      this.servers.set(id, server);
      this.addresses.set(id, `127.0.0.1:${port}`);
    }
  }

  private answer(node: number, method: string, bytes: Buffer, cb: grpc.sendUnaryData<Buffer>): void {
    const request = decode(`${method}Request`, bytes);
    this.calls.push({ node, method, request });
    const a = this.script(node, method, request);
    if (a === 'hang') {
      this.hung.push(() => cb({ code: grpc.status.UNAVAILABLE, details: 'scripted node stopped' }));
      return;
    }
    if ('reply' in a) return cb(null, encode(`${method}Response`, a.reply));
    const md = new grpc.Metadata();
    md.set('tessera-reason', a.refuse.reason);
    if (a.refuse.leaderId !== undefined) md.set('tessera-leader-id', String(a.refuse.leaderId));
    if (a.refuse.groupId !== undefined) md.set('tessera-group', String(a.refuse.groupId));
    cb({ code: a.refuse.code, details: a.refuse.details, metadata: md });
  }

  async stop(): Promise<void> {
    for (const release of this.hung.splice(0)) release();
    await Promise.all(
      [...this.servers.values()].map((s) => new Promise<void>((resolve) => s.tryShutdown(() => resolve()))),
    );
    this.servers.clear();
  }
}
