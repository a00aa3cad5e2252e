/**
 * The attacker's own listener: a gRPC server on 127.0.0.1 that serves every method of KV, Admin and Raft
 * and answers each call UNAVAILABLE, counting the calls it got. It stands where the forged leader 99 is
 * said to live: any SDK request that arrives here followed a forged leader hint (finding: the SDK sent a
 * put and a get to the attacker).
 */
import * as grpc from '@grpc/grpc-js';
import { protoType } from './wire';

export class FakeNode {
  /** Calls received, by method name ("KV.Put", "Raft.Stream", ...). */
  readonly calls = new Map<string, number>();
  /** Cluster ids seen in the handshake headers of peer calls (a node that dialed us as a member told us). */
  readonly clusterIdsSeen = new Set<string>();
  /** The request headers of the last peer call that carried a handshake (for replaying it elsewhere). */
  lastPeerHandshake: grpc.Metadata | null = null;
  private server: grpc.Server | null = null;
  address = '';

  get total(): number {
    let n = 0;
    for (const v of this.calls.values()) n += v;
    return n;
  }

  /** Calls of the client services (KV, Admin): what an SDK sent here. */
  get clientCalls(): number {
    let n = 0;
    for (const [k, v] of this.calls) if (!k.startsWith('Raft.')) n += v;
    return n;
  }

  async start(): Promise<string> {
    const server = new grpc.Server();
    for (const service of ['KV', 'Admin', 'Raft']) {
      const svc = protoType('GetRequest').root.lookupService(`tessera.v1.${service}`);
      const def: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
      const impl: grpc.UntypedServiceImplementation = {};
      for (const m of svc.methodsArray) {
        const path = `/tessera.v1.${service}/${m.name}`;
        def[m.name] = {
          path,
          requestStream: !!m.requestStream,
          responseStream: !!m.responseStream,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        };
        const count = (md?: grpc.Metadata): void => {
          this.calls.set(`${service}.${m.name}`, (this.calls.get(`${service}.${m.name}`) ?? 0) + 1);
          const id = md?.get('x-tessera-cluster')?.[0];
          if (typeof id === 'string' && id !== '') this.clusterIdsSeen.add(id);
          if (service === 'Raft' && md && md.get('x-tessera-node').length > 0) this.lastPeerHandshake = md.clone();
        };
        const refusal = { code: grpc.status.UNAVAILABLE, details: 'hostile fake node' };
        impl[m.name] =
          m.requestStream || m.responseStream
            ? (
                call:
                  | grpc.ServerWritableStream<Buffer, Buffer>
                  | grpc.ServerDuplexStream<Buffer, Buffer>
                  | grpc.ServerReadableStream<Buffer, Buffer>,
                cb?: grpc.sendUnaryData<Buffer>,
              ) => {
                count(call.metadata);
                if (cb) cb(refusal);
                else (call as grpc.ServerWritableStream<Buffer, Buffer>).emit('error', refusal);
              }
            : (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
                count(call.metadata);
                cb(refusal);
              };
      }
      server.addService(def as grpc.ServiceDefinition, impl);
    }
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    this.server = server;
    this.address = `127.0.0.1:${port}`;
    return this.address;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.tryShutdown(() => resolve()));
  }
}
