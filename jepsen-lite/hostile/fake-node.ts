/**
 * The attacker's own listener: a gRPC server on 127.0.0.1 that serves every method of KV, Admin and Raft
 * and answers each call UNAVAILABLE, counting the calls it got. It stands where the forged leader 99 is
 * said to live: any SDK request that arrives here followed a forged leader hint (finding: the SDK sent a
 * put and a get to the attacker).
 */
import * as grpc from '@grpc/grpc-js';
import { protoType } from './wire';

export class FakeNode {
  /** Calls received, by method name. */
  readonly calls = new Map<string, number>();
  private server: grpc.Server | null = null;
  address = '';

  get total(): number {
    let n = 0;
    for (const v of this.calls.values()) n += v;
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
        const count = (): void => void this.calls.set(`${service}.${m.name}`, (this.calls.get(`${service}.${m.name}`) ?? 0) + 1);
        const refusal = { code: grpc.status.UNAVAILABLE, details: 'hostile fake node' };
        impl[m.name] = m.requestStream || m.responseStream
          ? (call: grpc.ServerWritableStream<Buffer, Buffer> | grpc.ServerDuplexStream<Buffer, Buffer> | grpc.ServerReadableStream<Buffer, Buffer>, cb?: grpc.sendUnaryData<Buffer>) => {
              count();
              if (cb) cb(refusal);
              else (call as grpc.ServerWritableStream<Buffer, Buffer>).emit('error', refusal);
            }
          : (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
              count();
              cb(refusal);
            };
      }
      server.addService(def as grpc.ServiceDefinition, impl);
    }
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
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
