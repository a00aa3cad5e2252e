/**
 * Asking a member for the cluster id (issue 10, `--join` under peer mutual TLS without --cluster-token).
 *
 * A node that joins with an empty data dir and no --cluster-token does not know the cluster id, so it cannot
 * prove it on an outgoing call (handshake.ts), and no member calls it before it is registered: it would wait
 * forever. With peer mutual TLS both ends are vouched for by the cluster's CA, so it may ask instead: it
 * calls Raft.ForwardMeta on a member with an x-tessera-cluster-ask handshake over a channel that checks the
 * server's certificate names node-<to>; the member's door refuses the call (nothing reaches its node) and,
 * having checked that the client certificate names the sender, puts its cluster id in the refusal's
 * trailers (CLUSTER_ASK_STATUS). This is the same trust as the first-use adoption on the member side (a
 * member reveals the id to a node whose certificate names it), in the other direction.
 *
 * Invariants:
 * - only with peer TLS: without it nobody can be told the id (it never crosses the network in clear), and
 *   the member refuses the ask (UNAUTHENTICATED) whatever the caller does;
 * - the answer is believed only from a refusal with CLUSTER_ASK_STATUS carrying exactly one well-formed id,
 *   on a channel whose server certificate named node-<to>; anything else is UNAVAILABLE;
 * - bounded: one call with a deadline; the one-off channel is closed when it settles; the promise settles once.
 */
import * as grpc from '@grpc/grpc-js';
import { TesseraError, type NodeId } from '../base';
import { HANDSHAKE_HEADERS, askClusterIdMetadata, isValidClusterId, single } from './handshake';
import { peerChannelCredentials, type PeerTlsMaterial } from './peer-credentials';
import { loadRaftProto, peerChannelOptions } from './proto';

/** The status of the refusal that carries the cluster id in its trailers. */
export const CLUSTER_ASK_STATUS = grpc.status.FAILED_PRECONDITION;

/** The trailers of that refusal. */
export function clusterAskTrailers(clusterId: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(HANDSHAKE_HEADERS.cluster, clusterId);
  return md;
}

export interface ClusterAskTarget {
  selfId: NodeId;
  to: NodeId;
  address: string;
  clientAddress: string;
  tls: PeerTlsMaterial;
  timeoutMs: number;
}

/** Asks peer `to` for the cluster id; resolves with it, or rejects UNAVAILABLE (with the reason). */
export function askClusterId(t: ClusterAskTarget): Promise<string> {
  const { Client } = loadRaftProto();
  const options = { ...peerChannelOptions, 'grpc.ssl_target_name_override': `node-${t.to}` };
  const client = new Client(t.address, peerChannelCredentials(t.tls, t.to), options);
  const metadata = askClusterIdMetadata({ nodeId: t.selfId, to: t.to, clientAddress: t.clientAddress });
  const request = { from: t.selfId, to: t.to, command: Buffer.from([0]) };
  const stub = (client as unknown as Record<string, (...args: unknown[]) => unknown>).forwardMeta!.bind(client);
  return new Promise<string>((resolve, reject) => {
    stub(request, metadata, { deadline: Date.now() + t.timeoutMs }, (err: grpc.ServiceError | null) => {
      client.close();
      const id =
        err !== null && err.code === CLUSTER_ASK_STATUS ? single(err.metadata, HANDSHAKE_HEADERS.cluster) : null;
      if (id !== null && isValidClusterId(id)) return resolve(id);
      const why = err === null ? 'it accepted a call that proves nothing' : `${grpc.status[err.code]}: ${err.details}`;
      reject(new TesseraError('UNAVAILABLE', `peer ${t.to} at ${t.address} did not tell the cluster id (${why})`));
    });
  });
}
