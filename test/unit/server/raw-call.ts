/** Test helper: one unary call to a node's public service with the SDK's protos, bypassing the SDK. */
import * as grpc from '@grpc/grpc-js';
import { loadServices } from '../../../src/client/proto';

export interface RawResult {
  err: grpc.ServiceError | null;
  res: any;
}

export function raw(port: number, service: 'KV' | 'Admin', method: string, req: unknown): Promise<RawResult> {
  const Ctor = loadServices()[service];
  const c = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Record<
    string,
    (req: unknown, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void
  >;
  return new Promise((resolve) =>
    c[method]!.call(c, req, { deadline: Date.now() + 5000 }, (err, res) => {
      (c as unknown as grpc.Client).close();
      resolve({ err, res });
    }),
  );
}

/** The first value of a trailer of a failed call. */
export const trailer = (err: grpc.ServiceError | null, key: string) => err?.metadata.get(key)[0]?.toString();
