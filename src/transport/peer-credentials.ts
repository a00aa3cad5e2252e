/**
 * Credentials of the peer door. Without peer TLS: plaintext (the handshake's cluster id is the only proof
 * of membership). With peer TLS (--peer-tls-cert/--peer-tls-key/--peer-tls-ca): mutual TLS both ways:
 * - the peer server requires a client certificate signed by the CA (a certificate from another CA is
 *   refused by TLS itself, before any call), and the transport checks that it names the handshake's node;
 * - a peer channel presents our certificate and accepts the server only when its certificate, signed by
 *   the CA, names `node-<peerId>` (CN or a DNS SAN): the address we dial does not decide who answers.
 * The PEM files are read once at start; a missing or unreadable file, or a bad PEM, is a CONFIG error
 * naming its flag.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { TesseraError, type NodeId } from '../base';
import { certificateNamesNode, nodeCertificateName } from './handshake';

export interface PeerTlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface PeerTlsFiles {
  cert: string;
  key: string;
  ca: string;
}

function readPem(path: string, flag: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (e) {
    throw new TesseraError('CONFIG', `${flag}: cannot read '${path}': ${(e as Error).message}`, {}, { cause: e });
  }
  if (!data.toString('latin1').includes('-----BEGIN '))
    throw new TesseraError('CONFIG', `${flag}: '${path}' is not a PEM file`);
  return data;
}

/** Reads and checks the peer TLS files (flags named in errors). */
export function loadPeerTls(files: PeerTlsFiles): PeerTlsMaterial {
  const material = {
    cert: readPem(files.cert, '--peer-tls-cert'),
    key: readPem(files.key, '--peer-tls-key'),
    ca: readPem(files.ca, '--peer-tls-ca'),
  };
  try {
    createSecureContext({ ca: material.ca });
  } catch (e) {
    throw new TesseraError(
      'CONFIG',
      `--peer-tls-ca: '${files.ca}' holds no usable certificate: ${(e as Error).message}`,
      {},
      { cause: e },
    );
  }
  try {
    createSecureContext({ cert: material.cert, key: material.key });
  } catch (e) {
    throw new TesseraError(
      'CONFIG',
      `--peer-tls-cert/--peer-tls-key: '${files.cert}' and '${files.key}' are not a usable certificate and key: ${(e as Error).message}`,
      {},
      { cause: e },
    );
  }
  return material;
}

/** Credentials of the peer listener (mutual TLS requiring a client certificate, or plaintext). */
export function peerServerCredentials(tls: PeerTlsMaterial | null): grpc.ServerCredentials {
  if (tls === null) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(tls.ca, [{ cert_chain: tls.cert, private_key: tls.key }], true);
}

/** Credentials of a channel to `peer` (mutual TLS checking the server names node-<peer>, or plaintext). */
export function peerChannelCredentials(tls: PeerTlsMaterial | null, peer: NodeId): grpc.ChannelCredentials {
  if (tls === null) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(tls.ca, tls.key, tls.cert, {
    checkServerIdentity: (_host, cert) =>
      certificateNamesNode(cert, peer)
        ? undefined
        : new Error(`the peer's certificate does not name ${nodeCertificateName(peer)}`),
  });
}
