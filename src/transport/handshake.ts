/**
 * The peer handshake: every Raft.Stream and Raft.InstallSnapshot call opens with it, and the receiver
 * checks it before anything reaches the node (DESIGN.md 9b, "two doors").
 *
 * Carried in the call's request metadata (HTTP/2 headers), not in a first message: the receiver has it
 * the moment the call arrives, before any message is read, for both calls alike (one bidi stream, one
 * client stream), without a oneof in every MessageBatch / SnapshotChunk; a refusal is then a plain gRPC
 * status (UNAUTHENTICATED / PERMISSION_DENIED) that the caller sees at once, and a node of an older
 * version (no headers) is refused the same way as a stranger. Headers:
 *   x-tessera-protocol        the newest peer protocol the sender speaks: "2" (PEER_PROTOCOL_VERSION)
 *   x-tessera-protocol-min    the oldest one it still speaks: "2" (PEER_PROTOCOL_VERSION_MIN); absent (a node
 *                             from before version ranges): the same as x-tessera-protocol
 *   x-tessera-node            the sender's node id (decimal)
 *   x-tessera-to              the node id the sender means to reach (decimal)
 *   x-tessera-nonce           32 hex digits, fresh per call
 *   x-tessera-client-address  the sender's client-facing address (its advertise address), HOST:PORT
 *   x-tessera-proof           hex HMAC-SHA256 keyed by the cluster id over (protocol, node, to, nonce,
 *                             client address): proves knowledge of the cluster id without sending it
 *   x-tessera-cluster         the cluster id itself, ONLY on peer mutual TLS channels (the server's
 *                             certificate was checked to name node-<to>), so a joining node may learn it
 *   x-tessera-cluster-ask     "1": the sender does not know the cluster id and asks for it (cluster-ask.ts);
 *                             its proof proves nothing, so the call is always refused, and only on a peer
 *                             mutual TLS call (the client certificate names the sender) does the refusal
 *                             carry the receiver's cluster id in its trailers (x-tessera-cluster)
 * The receiver answers an accepted call with response headers carrying
 *   x-tessera-answer          hex HMAC-SHA256 keyed by the cluster id over (protocol, receiver, sender, the
 *                             sender's nonce)
 *   x-tessera-protocol        the protocol the call speaks: the newest both sides speak
 * Versions (rolling upgrades): a receiver accepts a sender whose range [min, max] overlaps its own
 * [PEER_PROTOCOL_VERSION_MIN, PEER_PROTOCOL_VERSION] and speaks min(theirs, ours) on the call; a sender
 * outside it is refused (UNAUTHENTICATED, reason bad_protocol, one log line per sender at most every minute)
 * and the node goes on. Every message and request also carries the version it was written in (the
 * `protocol_version` fields of proto/raft.proto; 0 from a node before those fields): one that is neither the
 * call's announced nor its negotiated version is dropped (bad_protocol). Fields a node does not know are
 * skipped by protobuf, so a newer node may add fields without a new version; a change an older node would
 * misread needs one (raise PEER_PROTOCOL_VERSION, keep PEER_PROTOCOL_VERSION_MIN until no node speaks less).
 * The proof's and the answer's texts name the version (announced, resp. negotiated), as v2 nodes made them.
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

/** The newest peer protocol this build speaks (announced in every handshake, stamped on every message). */
export const PEER_PROTOCOL_VERSION = 2;
/** The oldest peer protocol this build still speaks (see the header: the supported range). */
export const PEER_PROTOCOL_VERSION_MIN = 2;
/** Versions above this are refused as malformed (a bound on what the network may claim). */
const PEER_PROTOCOL_VERSION_CEILING = 1_000_000;

/** The supported range of this build, for log lines: "2..2". */
export function supportedProtocols(): string {
  return `${PEER_PROTOCOL_VERSION_MIN}..${PEER_PROTOCOL_VERSION}`;
}

/**
 * The protocol a sender announcing [min, max] and this build both speak (the newest), or null when the ranges
 * do not overlap.
 */
export function negotiateProtocol(min: number, max: number): number | null {
  if (min > max || max < PEER_PROTOCOL_VERSION_MIN || min > PEER_PROTOCOL_VERSION) return null;
  return Math.min(max, PEER_PROTOCOL_VERSION);
}

/**
 * Whether a message stamped `version` may be read on a call whose handshake announced `h.protocol` and
 * negotiated `h.negotiated`: one of those, or 0 (a sender from before the stamp).
 */
export function messageVersionOk(version: number | undefined, h: { protocol: number; negotiated: number }): boolean {
  return version === undefined || version === 0 || version === h.protocol || version === h.negotiated;
}

export const HANDSHAKE_HEADERS = {
  protocol: 'x-tessera-protocol',
  protocolMin: 'x-tessera-protocol-min',
  cluster: 'x-tessera-cluster',
  node: 'x-tessera-node',
  to: 'x-tessera-to',
  nonce: 'x-tessera-nonce',
  proof: 'x-tessera-proof',
  answer: 'x-tessera-answer',
  clientAddress: 'x-tessera-client-address',
  ask: 'x-tessera-cluster-ask',
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
  | 'cluster_ask_without_tls'
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
  /** The newest protocol the sender speaks (its x-tessera-protocol); the proof is made with it. */
  protocol: number;
  /** The oldest one it speaks. */
  protocolMin: number;
  /** The protocol of this call: the newest both sides speak. */
  negotiated: number;
  nodeId: NodeId;
  to: NodeId;
  nonce: string;
  proof: string;
  clientAddress: string;
  /** The cluster id in clear, when the sender revealed it (peer TLS only); null otherwise. */
  clusterId: string | null;
  /** The sender asks for the cluster id (x-tessera-cluster-ask): its proof is meaningless. */
  ask: boolean;
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
  protocol: number = PEER_PROTOCOL_VERSION,
): string {
  return createHmac('sha256', Buffer.from(clusterId, 'utf8'))
    .update(`tessera-peer-v${protocol}\n${nodeId}\n${to}\n${nonce}\n${clientAddress}`, 'utf8')
    .digest('hex');
}

/** The receiver's answer: HMAC-SHA256 keyed by the cluster id over (receiver, sender, the sender's nonce), hex. */
export function answerProof(
  clusterId: string,
  receiver: NodeId,
  sender: NodeId,
  nonce: string,
  protocol: number = PEER_PROTOCOL_VERSION,
): string {
  return createHmac('sha256', Buffer.from(clusterId, 'utf8'))
    .update(`tessera-peer-answer-v${protocol}\n${receiver}\n${sender}\n${nonce}`, 'utf8')
    .digest('hex');
}

/** The response headers a receiver sends once it accepted `h` (it knows the cluster id by then). */
export function answerMetadata(clusterId: string, receiver: NodeId, h: Handshake): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(HANDSHAKE_HEADERS.answer, answerProof(clusterId, receiver, h.nodeId, h.nonce, h.negotiated));
  md.set(HANDSHAKE_HEADERS.protocol, String(h.negotiated));
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
  const protocol = answeredProtocol(answer);
  if (protocol === null) return false;
  const expected = Buffer.from(answerProof(clusterId, to, self, nonce, protocol), 'hex');
  return timingSafeEqual(Buffer.from(got, 'hex'), expected);
}

/**
 * The protocol a receiver's answer says the call speaks: its x-tessera-protocol, or PEER_PROTOCOL_VERSION_MIN
 * when absent (a node from before ranges answered in the one version both spoke); null when it is not one
 * this build speaks.
 */
export function answeredProtocol(answer: grpc.Metadata): number | null {
  const text = single(answer, HANDSHAKE_HEADERS.protocol);
  if (text === null) return answer.get(HANDSHAKE_HEADERS.protocol).length === 0 ? PEER_PROTOCOL_VERSION_MIN : null;
  const v = parseVersion(text);
  return v !== null && v >= PEER_PROTOCOL_VERSION_MIN && v <= PEER_PROTOCOL_VERSION ? v : null;
}

/** A version number as sent (1..PEER_PROTOCOL_VERSION_CEILING, decimal), or null. */
function parseVersion(text: string | null): number | null {
  if (text === null || !/^\d{1,7}$/.test(text)) return null;
  const v = Number(text);
  return v >= 1 && v <= PEER_PROTOCOL_VERSION_CEILING ? v : null;
}

/** Whether `h.proof` was made with `clusterId` (constant time). */
export function verifyProof(h: Handshake, clusterId: string): boolean {
  const expected = Buffer.from(handshakeProof(clusterId, h.nodeId, h.to, h.nonce, h.clientAddress, h.protocol), 'hex');
  const got = Buffer.from(h.proof, 'hex');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** The request metadata a sender attaches to every peer call (a fresh nonce each time). */
export function handshakeMetadata(h: OutgoingHandshake): grpc.Metadata {
  const nonce = randomBytes(16).toString('hex');
  const md = new grpc.Metadata();
  md.set(HANDSHAKE_HEADERS.protocol, String(PEER_PROTOCOL_VERSION));
  md.set(HANDSHAKE_HEADERS.protocolMin, String(PEER_PROTOCOL_VERSION_MIN));
  md.set(HANDSHAKE_HEADERS.node, String(h.nodeId));
  md.set(HANDSHAKE_HEADERS.to, String(h.to));
  md.set(HANDSHAKE_HEADERS.nonce, nonce);
  md.set(HANDSHAKE_HEADERS.clientAddress, h.clientAddress);
  md.set(HANDSHAKE_HEADERS.proof, handshakeProof(h.clusterId, h.nodeId, h.to, nonce, h.clientAddress));
  if (h.revealClusterId) md.set(HANDSHAKE_HEADERS.cluster, h.clusterId);
  return md;
}

/**
 * The request metadata of a sender that does not know the cluster id and asks for it (cluster-ask.ts): a
 * well-formed handshake whose proof is keyed by nothing, plus x-tessera-cluster-ask. Send it only on a peer
 * mutual TLS channel that checks the server's certificate.
 */
export function askClusterIdMetadata(h: Omit<OutgoingHandshake, 'clusterId' | 'revealClusterId'>): grpc.Metadata {
  const md = handshakeMetadata({ ...h, clusterId: '', revealClusterId: false });
  md.set(HANDSHAKE_HEADERS.ask, '1');
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
  const askValues = md.get(HANDSHAKE_HEADERS.ask);
  const unauth = (reason: PeerRejectReason, detail: string, claimedNode: NodeId | null = null): HandshakeOutcome => ({
    ok: false,
    reason,
    code: grpc.status.UNAUTHENTICATED,
    detail,
    claimedNode,
  });
  if (protocol === null && nodeText === null && proof === null)
    return unauth('no_handshake', 'peer call without a handshake');
  const version = readVersions(md, protocol);
  if (version === null || typeof version === 'string') {
    const claimed =
      nodeText !== null && /^\d{1,10}$/.test(nodeText) && isNodeId(Number(nodeText)) ? Number(nodeText) : null;
    return unauth(
      'bad_protocol',
      `unsupported peer protocol ${version ?? `'${(protocol ?? '').slice(0, 16)}'`}: this node speaks ${supportedProtocols()}`,
      claimed,
    );
  }
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
  if (askValues.length > 1 || (askValues.length === 1 && askValues[0] !== '1'))
    return unauth('bad_proof', 'the handshake carries a malformed cluster-ask header', nodeId);
  const ask = askValues.length === 1;
  const handshake = { ...version, nodeId, to, nonce, proof, clientAddress, clusterId, ask };
  return { ok: true, handshake };
}

/**
 * The versions a handshake announces and the one the call speaks; a string "MIN..MAX" naming the sender's
 * range when it does not overlap ours; null when they do not parse.
 */
function readVersions(
  md: grpc.Metadata,
  protocolText: string | null,
): { protocol: number; protocolMin: number; negotiated: number } | string | null {
  const protocol = parseVersion(protocolText);
  if (protocol === null) return null;
  const minText = single(md, HANDSHAKE_HEADERS.protocolMin);
  const protocolMin =
    minText === null && md.get(HANDSHAKE_HEADERS.protocolMin).length === 0 ? protocol : parseVersion(minText);
  if (protocolMin === null || protocolMin > protocol) return null;
  const negotiated = negotiateProtocol(protocolMin, protocol);
  return negotiated === null ? `${protocolMin}..${protocol}` : { protocol, protocolMin, negotiated };
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
