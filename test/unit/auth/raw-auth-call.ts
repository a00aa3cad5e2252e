/**
 * Test helper: one call of any method of the public services (unary, server streaming or bidirectional)
 * with an optional bearer token in the metadata, bypassing the SDK. Resolves to the error (or null) and
 * what came back; bounded by a 5 s deadline.
 */
import * as grpc from '@grpc/grpc-js';
import { loadServices } from '../../../src/client/proto';

export type ServiceName = 'KV' | 'Admin' | 'Auth';

export interface CallResult {
  err: grpc.ServiceError | null;
  /** The response (unary) or every message (streams). */
  res: any;
}

/** Every method of a service as its loaded proto defines it: name and streaming shape. */
export function methodsOf(service: ServiceName): { name: string; requestStream: boolean; responseStream: boolean }[] {
  const def = loadServices()[service].service;
  return Object.entries(def).map(([name, d]) => ({
    name,
    requestStream: d.requestStream,
    responseStream: d.responseStream,
  }));
}

export function callWithToken(
  port: number,
  service: ServiceName,
  method: string,
  request: unknown,
  token: string | null,
): Promise<CallResult> {
  const Ctor = loadServices()[service];
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client &
    Record<string, (...args: unknown[]) => any>;
  const md = new grpc.Metadata();
  if (token !== null) md.set('authorization', `Bearer ${token}`);
  const def = Ctor.service[method];
  if (def === undefined) throw new Error(`no method ${service}.${method}`);
  const options = { deadline: Date.now() + 5000 };
  const fn = client[method]!.bind(client);
  return new Promise<CallResult>((resolve) => {
    const done = (r: CallResult) => {
      client.close();
      resolve(r);
    };
    if (!def.requestStream && !def.responseStream) {
      fn(request, md, options, (err: grpc.ServiceError | null, res: unknown) => done({ err, res }));
      return;
    }
    const messages: unknown[] = [];
    const call = def.requestStream ? fn(md, options) : fn(request, md, options);
    call.on('data', (m: unknown) => messages.push(m));
    call.on('error', (err: grpc.ServiceError) => done({ err, res: messages }));
    call.on('status', (st: grpc.StatusObject) => {
      if (st.code === grpc.status.OK) setImmediate(() => done({ err: null, res: messages }));
    });
    if (def.requestStream) {
      call.write(request);
      call.end();
    }
  });
}
