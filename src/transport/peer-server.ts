/**
 * The separate peer listener (--peer-listen): a gRPC server that serves only the Raft service, with the
 * peer credentials (mutual TLS when peer TLS is configured, else plaintext), so operators can firewall
 * peer traffic apart from clients. With it, the client listener does not register the Raft service at
 * all (a Raft call there is UNIMPLEMENTED).
 */
import * as grpc from '@grpc/grpc-js';
import { TesseraError } from '../base';
import { peerServerCredentials, type PeerTlsMaterial } from './peer-credentials';
import { serverOptions } from './proto';
import type { Transport } from './transport';

export interface PeerServer {
  server: grpc.Server;
  /** The bound port (differs from the flag when it used port 0). */
  port: number;
}

/** Binds the peer listener on `hostPort` ("host:port") and serves the transport's Raft service there. */
export async function startPeerServer(
  transport: Transport,
  hostPort: string,
  tls: PeerTlsMaterial | null,
): Promise<PeerServer> {
  const server = new grpc.Server(serverOptions);
  transport.registerOn(server);
  try {
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(hostPort, peerServerCredentials(tls), (err, p) =>
        err
          ? reject(
              new TesseraError(
                'CONFIG',
                `cannot listen on --peer-listen ${hostPort}: ${err.message}`,
                {},
                { cause: err },
              ),
            )
          : resolve(p),
      ),
    );
    return { server, port };
  } catch (e) {
    server.forceShutdown();
    throw e;
  }
}
