/**
 * The peer handshake: every Raft.Stream and Raft.InstallSnapshot call opens with it, and the receiver
 * checks it before anything reaches the node (DESIGN.md 9b, "two doors").
 *
 * Carried in the call's request metadata (HTTP/2 headers), not in a first message: the receiver has it
 * the moment the call arrives, before any message is read, for both calls alike (one bidi stream, one
 * client stream), without a oneof in every MessageBatch / SnapshotChunk; a refusal is then a plain gRPC
 * status (UNAUTHENTICATED / PERMISSION_DENIED) that the caller sees at once, and a node of an older
 * version (no headers) is refused the same way as a stranger. Headers:
 *   x-tessera-protocol        "2" (PEER_PROTOCOL_VERSION)
 *   x-tessera-node            the sender's node id (decimal)
 *   x-tessera-to              the node id the sender means to reach (decimal)
 *   x-tessera-nonce           32 hex digits, fresh per call
 *   x-tessera-client-address  the sender's client-facing address (its advertise address), HOST:PORT
 *   x-tessera-proof           hex HMAC-SHA256 keyed by the cluster id over (protocol, node, to, nonce,
 *                             client address): proves knowledge of the cluster id without sending it
 *   x-tessera-cluster         the cluster id itself, ONLY on peer mutual TLS channels (the server's
 *                             certificate was checked to name node-<to>), so a joining node may learn it
 * The receiver answers an accepted call with response headers carrying
 *   x-tessera-answer          hex HMAC-SHA256 keyed by the cluster id over (protocol, receiver, sender, the
 *                             sender's nonce)
 * and the sender writes nothing (no message, no snapshot chunk) until that answer checks out: a node we
 * dial that cannot prove the cluster id (an attacker's address named by an unauthenticated AddNode) gets
 * no data.
 * The cluster id never leaves a node in clear over plaintext: a node we dial may be anyone (an
 * unauthenticated AddNode can name any address), and the proof it receives is bound to its own id as the
 * receiver, so it cannot replay it to another node. A node that does not know its cluster id accepts no
 * call unless peer TLS is on and the call carries the id (trust on first use, with certificates); without
 * peer TLS a joining node needs --cluster-token. Without TLS, traffic can still be read and replayed on
 * the wire by someone on the path; peer mutual TLS (peer-credentials.ts) closes that and binds the node id
 * to a certificate.
 *
 * Everything read here came from the network: lengths are bounded and formats checked before use.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { isNodeId, type NodeId } from '../base';

export const PEER_PROTOCOL_VERSION = 2;

export const HANDSHAKE_HEADERS = {
  protocol: 'x-tessera-protocol',
  cluster: 'x-tessera-cluster',
  node: 'x-tessera-node',
  to: 'x-tessera-to',
  nonce: 'x-tessera-nonce',
  proof: 'x-tessera-proof',
  answer: 'x-tessera-answer',
  clientAddress: 'x-tessera-client-address',
} as const;

/** Longest address accepted from the network (bytes). */
export const ADDRESS_BYTES_MAX = 255;
/** Longest cluster id accepted from the network (characters, printable ASCII). */
export const CLUSTER_ID_CHARS_MAX = 128;

/** Why a peer call or batch was refused or dropped (the `reason` label of tessera_peer_rejected_total). */
export type PeerRejectReason =
  | 'no_handshake'
  | 'bad_protocol'
  | 'bad_node_id'
  | 'self_id'
  | 'bad_cluster_id'
  | 'cluster_mismatch'
  | 'bad_address'
  | 'bad_proof'
  | 'no_cluster_id'
  | 'bad_answer'
  | 'no_certificate'
  | 'certificate_mismatch'
  | 'spoofed_from'
  | 'wrong_to';

/** What a sender puts in its handshake. */
export interface OutgoingHandshake {
  clusterId: string;
  nodeId: NodeId;
  to: NodeId;
  clientAddress: string;
  /** Send the cluster id itself too: only on peer mutual TLS channels (the server certificate names `to`). */
  revealClusterId: boolean;
}

/** A received handshake whose syntax checked out; the proof is verified by the transport (verifyProof). */
export interface Handshake {
  nodeId: NodeId;
  to: NodeId;
  nonce: string;
  proof: string;
  clientAddress: string;
  /** The cluster id in clear, when the sender revealed it (peer TLS only); null otherwise. */
  clusterId: string | null;
}

export type HandshakeOutcome =
  | { ok: true; handshake: Handshake }
  | { ok: false; reason: PeerRejectReason; code: grpc.status; detail: string; claimedNode: NodeId | null };

/**
 * HOST:PORT (host: a name, an IPv4 address or a bracketed IPv6 address; port 1..65535), at most
 * ADDRESS_BYTES_MAX bytes. Used on every address that arrives from the network.
 */
export function isValidAddress(text: unknown): text is string {
  if (typeof text !== 'string' || text.length === 0 || Buffer.byteLength(text, 'utf8') > ADDRESS_BYTES_MAX)
    return false;
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(text);
  if (!m) return false;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535;
}

export function isValidClusterId(text: unknown): text is string {
  return (
    typeof text === 'string' && text.length > 0 && text.length <= CLUSTER_ID_CHARS_MAX && /^[\x21-\x7e]+$/.test(text)
  );
}

/** Equality in time independent of where the ids differ (both are hashed to equal lengths first). */
export function clusterIdsEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

/** The first characters of a cluster id, for logs (the full id is never logged). */
export function redactClusterId(id: string | null): string {
  if (id === null) return '(none)';
  return `${id.slice(0, 4)}…`;
}

/** HMAC-SHA256 keyed by the cluster id over every other field of the handshake, hex. */
export function handshakeProof(
  clusterId: string,
  nodeId: NodeId,
  to: NodeId,
  nonce: string,
  clientAddress: string,
): string {
  return createHmac('sha256', Buffer.from(clusterId, 'utf8'))
    .update(`tessera-peer-v${PEER_PROTOCOL_VERSION}\n${nodeId}\n${to}\n${nonce}\n${clientAddress}`, 'utf8')
    .digest('hex');
}

/** The receiver's answer: HMAC-SHA256 keyed by the cluster id over (receiver, sender, the sender's nonce), hex. */
export function answerProof(clusterId: string, receiver: NodeId, sender: NodeId, nonce: string): string {
  return createHmac('sha256', Buffer.from(clusterId, 'utf8'))
    .update(`tessera-peer-answer-v${PEER_PROTOCOL_VERSION}\n${receiver}\n${sender}\n${nonce}`, 'utf8')
    .digest('hex');
}

/** The response headers a receiver sends once it accepted `h` (it knows the cluster id by then). */
export function answerMetadata(clusterId: string, receiver: NodeId, h: Handshake): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(HANDSHAKE_HEADERS.answer, answerProof(clusterId, receiver, h.nodeId, h.nonce));
  return md;
}

/**
 * The sender's check of the receiver's answer to `request` (the handshake it sent): the receiver `to`
 * proved the same cluster id for this very call (constant time).
 */
export function verifyAnswer(
  clusterId: string,
  request: grpc.Metadata,
  answer: grpc.Metadata,
  self: NodeId,
  to: NodeId,
): boolean {
  const nonce = single(request, HANDSHAKE_HEADERS.nonce);
  const got = single(answer, HANDSHAKE_HEADERS.answer);
  if (nonce === null || got === null || !/^[0-9a-f]{64}$/.test(got)) return false;
  const expected = Buffer.from(answerProof(clusterId, to, self, nonce), 'hex');
  return timingSafeEqual(Buffer.from(got, 'hex'), expected);
}

/** Whether `h.proof` was made with `clusterId` (constant time). */
export function verifyProof(h: Handshake, clusterId: string): boolean {
  const expected = Buffer.from(handshakeProof(clusterId, h.nodeId, h.to, h.nonce, h.clientAddress), 'hex');
  const got = Buffer.from(h.proof, 'hex');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** The request metadata a sender attaches to every peer call (a fresh nonce each time). */
export function handshakeMetadata(h: OutgoingHandshake): grpc.Metadata {
  const nonce = randomBytes(16).toString('hex');
  const md = new grpc.Metadata();
  md.set(HANDSHAKE_HEADERS.protocol, String(PEER_PROTOCOL_VERSION));
  md.set(HANDSHAKE_HEADERS.node, String(h.nodeId));
  md.set(HANDSHAKE_HEADERS.to, String(h.to));
  md.set(HANDSHAKE_HEADERS.nonce, nonce);
  md.set(HANDSHAKE_HEADERS.clientAddress, h.clientAddress);
  md.set(HANDSHAKE_HEADERS.proof, handshakeProof(h.clusterId, h.nodeId, h.to, nonce, h.clientAddress));
  if (h.revealClusterId) md.set(HANDSHAKE_HEADERS.cluster, h.clusterId);
  return md;
}

/** The value of `key` when `md` holds exactly one, as text; null otherwise. */
export function single(md: grpc.Metadata, key: string): string | null {
  const values = md.get(key);
  if (values.length !== 1) return null;
  const v = values[0];
  return typeof v === 'string' ? v : null;
}

/**
 * Reads and checks the syntax of a call's handshake (protocol, node id, cluster id format, address).
 * Cluster id equality and the certificate binding are the transport's (they depend on its state).
 */
export function readHandshake(md: grpc.Metadata, selfId: NodeId): HandshakeOutcome {
  const protocol = single(md, HANDSHAKE_HEADERS.protocol);
  const nodeText = single(md, HANDSHAKE_HEADERS.node);
  const toText = single(md, HANDSHAKE_HEADERS.to);
  const nonce = single(md, HANDSHAKE_HEADERS.nonce);
  const proof = single(md, HANDSHAKE_HEADERS.proof);
  const clusterId = single(md, HANDSHAKE_HEADERS.cluster);
  const clientAddress = single(md, HANDSHAKE_HEADERS.clientAddress);
  const unauth = (reason: PeerRejectReason, detail: string, claimedNode: NodeId | null = null): HandshakeOutcome => ({
    ok: false,
    reason,
    code: grpc.status.UNAUTHENTICATED,
    detail,
    claimedNode,
  });
  if (protocol === null && nodeText === null && proof === null)
    return unauth('no_handshake', 'peer call without a handshake');
  if (protocol !== String(PEER_PROTOCOL_VERSION))
    return unauth('bad_protocol', `unsupported peer protocol (this node speaks ${PEER_PROTOCOL_VERSION})`);
  const nodeId = nodeText !== null && /^\d{1,10}$/.test(nodeText) ? Number(nodeText) : NaN;
  if (!isNodeId(nodeId)) return unauth('bad_node_id', 'the handshake names no valid node id');
  if (nodeId === selfId) return unauth('self_id', "the handshake claims this node's own id", nodeId);
  const to = toText !== null && /^\d{1,10}$/.test(toText) ? Number(toText) : NaN;
  if (!isNodeId(to)) return unauth('bad_node_id', 'the handshake names no valid receiver id', nodeId);
  if (nonce === null || !/^[0-9a-f]{32}$/.test(nonce) || proof === null || !/^[0-9a-f]{64}$/.test(proof)) {
    return unauth('bad_proof', 'the handshake carries no well-formed nonce and proof', nodeId);
  }
  if (clusterId !== null && !isValidClusterId(clusterId))
    return unauth('bad_cluster_id', 'the handshake carries a malformed cluster id', nodeId);
  if (!isValidAddress(clientAddress))
    return unauth(
      'bad_address',
      'the handshake carries no valid client address (HOST:PORT, at most 255 bytes)',
      nodeId,
    );
  return { ok: true, handshake: { nodeId, to, nonce, proof, clientAddress, clusterId } };
}

/** The identities a certificate names: its CN and its DNS subject alternative names. */
export function certificateNames(cert: PeerCertificate): string[] {
  const names: string[] = [];
  const cn = cert.subject?.CN as unknown;
  if (typeof cn === 'string') names.push(cn);
  else if (Array.isArray(cn)) for (const c of cn) if (typeof c === 'string') names.push(c);
  for (const part of (cert.subjectaltname ?? '').split(',')) {
    const s = part.trim();
    if (s.startsWith('DNS:')) names.push(s.slice(4));
  }
  return names;
}

/** The certificate identity of a node: its CN or a DNS SAN equals `node-<id>`. */
export function nodeCertificateName(id: NodeId): string {
  return `node-${id}`;
}

export function certificateNamesNode(cert: PeerCertificate, id: NodeId): boolean {
  return certificateNames(cert).includes(nodeCertificateName(id));
}
